"""`trainer run --jobs N` (what `make train` runs): experiments trained N at a time in worker processes, each run as
it would train alone at the same thread count, failures named at the end, a signal stopping every run cleanly."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trainer
from tests.conftest import REPO, TINY, run_cli
from tests.test_training import model_metrics
from trainer.tracking import integrity

NAMES = str(REPO / "experiments/names-mlp.yaml")
MANUAL = str(REPO / "experiments/names-mlp-manual.yaml")
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
SHORT = [*TINY, "train.steps=60", "train.eval_interval=30", "introspect.interval=0"]
"""names-mlp in under a second: the runs' length is not what these tests are about"""


def records(runs: Path) -> dict[str, dict]:
    return {p.name: json.loads((p / "run.json").read_text()) for p in runs.iterdir() if (p / "run.json").is_file()}


def test_runs_at_once_train_as_alone_and_a_failure_is_named_while_the_others_train(tmp_path):
    first = trainer.run(NAMES, [*SHORT, "train.threads=1"], runs_dir=tmp_path / "alone").path  # one thread, as in a worker

    broken = [MANUAL, *SHORT, "model.grad_check_rtol=0.0", "model.grad_check_atol=0.0"]  # its gradient check cannot pass
    result = run_cli("trainer", "run", "--jobs", "2", "--keep-going", *broken, NAMES, *SHORT, NAMES, *SHORT, "seed=7",
                     runs_dir=tmp_path / "runs", env=ONE_THREAD)

    assert result.returncode == 1, result.stderr[-3000:]
    assert "3 experiments, 2 at a time, 1 torch thread(s) each" in result.stderr
    assert f"trainer run: failed: {MANUAL} (exit 1); every other experiment was trained" in result.stderr
    found = records(tmp_path / "runs")
    assert sorted((r["experiment"], r["status"], r["seeds"]["seed"]) for r in found.values()) == [
        ("names-mlp", "ok", 7), ("names-mlp", "ok", 1337), ("names-mlp-manual", "failed", 1337)]
    assert {r["environment"]["torch_threads"] for r in found.values()} == {1}
    assert len({r["pid"] for r in found.values()}) == 2  # two workers, one of them training two runs
    printed = {Path(line).name for line in result.stdout.split()}
    assert printed == {name for name, r in found.items() if r["status"] == "ok"}
    entries, problems = integrity.parse(tmp_path / "runs")
    assert problems == [] and len(entries) == 3

    (same,) = [tmp_path / "runs" / name for name, r in found.items() if r["status"] == "ok" and r["seeds"]["seed"] == 1337]
    assert model_metrics(same) == model_metrics(first)
    assert (same / "samples.txt").read_bytes() == (first / "samples.txt").read_bytes()


@pytest.mark.slow
def test_without_keep_going_a_failure_starts_no_further_run(tmp_path):
    broken = [MANUAL, *TINY, "model.grad_check_rtol=0.0", "model.grad_check_atol=0.0"]
    result = run_cli("trainer", "run", "--jobs", "2", *broken, *broken, NAMES, *TINY, runs_dir=tmp_path, env=ONE_THREAD)
    assert result.returncode == 1, result.stderr[-3000:]
    found = records(tmp_path)
    # the broken ones take both workers; once one fails, the names run queued behind them never starts
    assert found and {(r["experiment"], r["status"]) for r in found.values()} == {("names-mlp-manual", "failed")}
    assert "every other experiment was trained" not in result.stderr


@pytest.mark.slow
def test_a_signal_stops_every_run_at_once_and_each_is_sealed_interrupted(tmp_path):
    long = [NAMES, "train.steps=1000000", "train.eval_interval=1000000", "train.log_interval=10"]
    env = {**os.environ, **ONE_THREAD, "TRAINBOOK_RUNS_DIR": str(tmp_path)}
    parent = subprocess.Popen([sys.executable, "-m", "trainer", "run", "--jobs", "2", *long, *long, *long],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while len([p for p in tmp_path.glob("*/metrics.jsonl") if p.stat().st_size]) < 2:  # both training, rows logged
        assert parent.poll() is None and time.monotonic() < deadline, parent.communicate()[1][-3000:]
        time.sleep(0.2)

    parent.send_signal(signal.SIGTERM)
    _, stderr = parent.communicate(timeout=240)

    assert parent.returncode == 130, stderr[-3000:]
    found = records(tmp_path)
    assert len(found) == 2, "the third experiment must never start"
    assert {r["status"] for r in found.values()} == {"interrupted"}
    assert stderr.count("continue it with: python -m trainer resume") == 2


def test_keep_going_in_one_process_counts_a_run_refused_at_its_start_as_that_experiments_failure(tmp_path, capfd, monkeypatch):
    """Found only when its run starts (the data file is read then), the refusal fails that experiment, not the command:
    the next one trains, as it does in a --jobs worker."""
    from trainer import cli

    monkeypatch.setenv("TRAINBOOK_RUNS_DIR", str(tmp_path / "runs"))
    unreadable = tmp_path / "names.txt"
    unreadable.mkdir()  # a folder where a data file should be
    code = cli.main(["run", "--keep-going", NAMES, *SHORT, f"data.path={unreadable}", NAMES, *SHORT])
    err = capfd.readouterr().err
    assert code == 1, err[-3000:]
    assert "data.path" in err and f"trainer run: failed: {NAMES} (exit 2); every other experiment was trained" in err
    assert [r["status"] for r in records(tmp_path / "runs").values()] == ["ok"]
