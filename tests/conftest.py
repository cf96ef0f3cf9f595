"""Shared fixtures: the real CLI in a subprocess, and one tiny real training run per session."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = ["train.steps=300", "train.eval_interval=100", "sample.count=5"]
"""Overrides that make names-mlp train in about a second."""
TINY_EXPERIMENTS = {"experiments/names-mlp.yaml": TINY}
"""Every experiment the browser tests train for real, with overrides that keep it to seconds: one
entry per engine, so each engine's run page is checked as a reader sees it."""


def run_cli(module: str, *args: str, runs_dir: Path | None = None, cwd: Path = REPO, env: dict | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    if runs_dir is not None:
        full_env["TRAINBOOK_RUNS_DIR"] = str(runs_dir)
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def train(runs_dir: Path, *overrides: str, experiment: str = "experiments/names-mlp.yaml") -> Path:
    """Train for real and return the sealed run folder: in this process, through the Python API, as a notebook
    would (a run restores the process's threads, determinism switch and random state). A new process would pay
    seconds of torch's import for a run of one; the command line's own run is tested where it is called."""
    import trainer

    return trainer.run(REPO / experiment, [*TINY, *overrides], runs_dir=runs_dir).path


@pytest.fixture
def one_torch_thread():
    """As `python -m trainer run` does for experiments with `train.threads: 1`: a tiny net gains nothing from more."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> Path:
    """A runs folder holding one tiny names-mlp run. Copy it before changing anything."""
    runs = tmp_path_factory.mktemp("runs")
    train(runs)
    return runs


CHAR_GPT = "experiments/shakespeare-char-gpt.yaml"
GPT_TINY = ["model.n_layer=1", "model.n_head=2", "model.n_embd=32", "model.block_size=32", "train.batch_size=8",
            "train.steps=200", "train.eval_interval=50", "train.eval_batches=2", "train.checkpoint_interval=20",
            "train.log_interval=50", "sample.count=1", "sample.max_length=40", "eval.examples=20"]
"""A GPT that trains 200 steps in about a second, checkpointing every 20 steps."""


@pytest.fixture(scope="session")
def gpt_runs(tmp_path_factory) -> Path:
    """A runs folder holding one tiny uninterrupted GPT run. Copy it before changing anything."""
    runs = tmp_path_factory.mktemp("gpt-runs")
    train(runs, *GPT_TINY, experiment=CHAR_GPT)
    return runs


GPT_SMALL = ["model.n_layer=1", "model.n_head=2", "model.n_embd=32", "model.block_size=32", "train.batch_size=8",
             "train.steps=60", "train.eval_interval=30", "train.eval_batches=2", "eval.examples=10", "sample.count=1",
             "sample.max_length=20"]
"""A GPT that trains in about a second, on characters or on BPE tokens."""
GPT_PAIR = {"char": (CHAR_GPT, GPT_SMALL),
            "bpe": ("experiments/shakespeare-bpe-gpt.yaml", [*GPT_SMALL, "data.bpe_merges=24"])}
"""a character-level and a BPE GPT: their losses per token are in different units, their bits per character are not"""


@pytest.fixture(scope="session")
def gpt_pair(tmp_path_factory) -> dict[str, Path]:
    """Run folders of one tiny char-level and one tiny BPE GPT run, in one runs folder. Copy before changing."""
    runs = tmp_path_factory.mktemp("gpt-pair")
    return {name: train(runs, *overrides, experiment=experiment) for name, (experiment, overrides) in GPT_PAIR.items()}


@pytest.fixture
def runs_copy(tiny_runs, tmp_path) -> Path:
    dst = tmp_path / "runs"
    shutil.copytree(tiny_runs, dst)
    return dst


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes, to assert that nothing changed."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


TINY_RL = [
    "market.episode_length=32", "train.iterations=6", "train.episodes=4", "train.eval_interval=3", "eval.paths=2",
    "eval.scenarios=[{name: bull, seed: 1, schedule: [{regime: bull, steps: 32}]},"
    " {name: crash, seed: 2, schedule: [{regime: bull, steps: 16}, {regime: crash, steps: 16}]}]",
]
"""Overrides that make market-pg train in about a second: short episodes, few updates, two scenarios."""
@pytest.fixture(scope="session")
def synthetic_runs(tmp_path_factory) -> Path:
    """A runs folder of 24 sealed synthetic runs (no training): every experiment kind, some failed. Copy before changing."""
    from benchmarks.synthetic_runs import make_runs

    runs = tmp_path_factory.mktemp("synthetic") / "runs"
    make_runs(runs, 24, failed_every=5)
    return runs


@pytest.fixture
def synthetic_copy(synthetic_runs, tmp_path) -> Path:
    dst = tmp_path / "runs"
    shutil.copytree(synthetic_runs, dst)
    return dst
