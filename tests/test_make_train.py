"""`make train` keeps going past a failed experiment, and the report that follows shows every one of them.

The whole GitHub cycle (tests/test_ci_cycle.py, `make ci-dry-run`) plays this inside a workflow; this is the
Makefile's loop alone, with two tiny experiments, so `make test` covers it in seconds.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import REPO
from tests.test_ci_cycle import tiny
from trainer.tracking.layout import RunFolder

MAKE = ["make", "--no-print-directory", "-C", str(REPO), "READY="]  # READY= : use the shared venv as it is


@pytest.mark.slow
def test_a_failing_experiment_first_does_not_stop_the_others_and_the_report_shows_all(tmp_path):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    broken = experiments / "a-broken.yaml"  # sorted first; its gradient check cannot pass
    broken.write_text(tiny("names-mlp-manual.yaml", "a-broken", model={"grad_check_rtol": 0.0, "grad_check_atol": 0.0}))
    good = experiments / "b-fine.yaml"
    good.write_text(tiny("names-mlp.yaml", "b-fine", train={"steps": 60, "eval_interval": 30, "log_interval": 30}))
    runs = tmp_path / "runs"
    env = {**os.environ, "TRAINBOOK_RUNS_DIR": str(runs), "OMP_NUM_THREADS": "1"}

    trained = subprocess.run([*MAKE, "train", f"EXPERIMENTS={broken} {good}", f"PLAN={tmp_path / 'plan.json'}"],
                             env=env, capture_output=True, text=True)

    assert trained.returncode != 0, trained.stderr[-3000:]
    assert f"trainer run: failed: {broken} (exit 1); every other experiment was trained" in trained.stderr
    statuses = {run.experiment: run.status for run in (RunFolder.open(p) for p in runs.iterdir() if p.is_dir())}
    assert statuses == {"a-broken": "failed", "b-fine": "ok"}

    report = tmp_path / "report.md"
    reported = subprocess.run([*MAKE, "report", f"REPORT={report}", f"HISTORY_DIR={tmp_path / 'no-history'}"],
                              env=env, capture_output=True, text=True)
    assert reported.returncode == 0, reported.stderr[-3000:]
    text = report.read_text()
    assert "Base: none yet" in text and "a-broken: ❌ failed" in text and "### b-fine: " in text
