"""A training script of one's own, tracked by `trainer.track()`: real scripts in real processes, the real CLI and site.

The example (examples/own-script/train.py, a plain PyTorch loop) becomes a sealed run that verifies, shows on
its page like an engine's run and reproduces identical by its recorded command; an exception inside the block
seals the run failed, SIGTERM interrupted; under torchrun only rank 0 writes; a credential on the command line is
refused before anything is written; a reproduction refuses data that changed.
"""
from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import trainer
from tests.conftest import REPO, run_cli, snapshot
from tests.sitebuild import build_site
from trainer.tracking import checkpoint, layout, weights

SCRIPT = "examples/own-script/train.py"
ARGS = ["--steps", "200", "--eval-every", "50"]
"""the example in about a second of training"""


def script(path: Path, *args: str, runs: Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRAINBOOK_RUNS_DIR": str(runs)}
    return subprocess.run([sys.executable, str(path), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def record_of(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> Path:
    """One run of the example script, sealed. Copy its runs folder before changing anything."""
    runs = tmp_path_factory.mktemp("own-script") / "runs"
    result = script(REPO / SCRIPT, *ARGS, runs=runs)
    assert result.returncode == 0, result.stderr
    return only_run(runs)


def test_a_tracked_script_is_a_sealed_run_that_records_its_command_code_data_and_seed(tracked):
    record = record_of(tracked)
    assert record["status"] == "ok" and record["kind"] == "script" and record["config"]["model"]["type"] == "script"
    assert record["source"]["command"] == [SCRIPT, *ARGS] and record["source"]["cwd"] == str(REPO)
    assert record["source"]["cwd_in_repo"] == "." and record["source"]["file"] == SCRIPT
    assert record["code"]["script"] == SCRIPT and re.fullmatch(r"[0-9a-f]{64}", record["code"]["script_sha256"])
    (data,) = record["data"]["files"]
    assert data["path"] == "examples/own-script/damped-sine.csv" and data["bytes"] == 8162
    assert record["seeds"]["seed"] == 0 and record["seeded"] == ["python", "numpy", "torch"]
    assert record["config"]["params"] == {"steps": 200, "lr": 0.01, "hidden": 32, "eval_every": 50, "seed": 0}
    assert record["key_metric"]["name"] == "val_loss" and record["metrics"]["val_loss"] < record["metrics"]["steps"]
    assert {f["file"] for f in record["figures"]} == {"fitted-curve.png", "loss.png"}
    assert {"checkpoint.pt", "metrics.jsonl", "config.yaml", layout.WEIGHTS} <= set(record["artifacts"])
    exported, saved = weights.load(tracked / layout.WEIGHTS)["model"], checkpoint.load(tracked / layout.CHECKPOINT)["model"]
    assert record["weights"]["final"] == {"file": layout.WEIGHTS, "step": 200}  # the model the script checkpointed last
    assert exported.keys() == saved.keys() and all(torch.equal(exported[k], saved[k]) for k in saved)
    verified = run_cli("trainer", "verify", runs_dir=tracked.parent)
    assert verified.returncode == 0 and verified.stdout.splitlines() == [f"ok      {tracked.name}"]


@pytest.mark.slow
def test_reproducing_a_tracked_script_runs_its_command_again_and_is_identical(tracked, tmp_path):
    runs = tmp_path / "runs"
    subprocess.run(["cp", "-r", str(tracked.parent), str(runs)], check=True)

    result = run_cli("trainer", "reproduce", str(runs / tracked.name), env={"PYTHONPATH": str(REPO)})

    assert result.returncode == 0, result.stderr
    assert f"reproduction of {tracked.name}: identical" in result.stdout
    copy = Path(result.stdout.strip().splitlines()[-1])
    record = record_of(copy)
    assert record["reproduction"]["verdict"] == "identical" and record["reproduction"]["compared"]["metric_rows"] == 200
    assert record["source"]["command"] == [SCRIPT, *ARGS]


def test_a_tracked_run_has_a_page_with_its_figures_settings_and_the_command_that_reruns_it(tracked, tmp_path):
    public = build_site(tracked.parent, tmp_path)
    page = html.unescape((public / "runs" / tracked.name / "index.html").read_text())
    assert re.search(r'<img(?=[^>]*src="fitted-curve.png")(?=[^>]*alt="Fitted curve: The network)', page)
    assert re.search(r'<img[^>]+src="loss.png"', page)
    assert f"python {SCRIPT} --steps 200 --eval-every 50" in page
    assert f"python -m trainer reproduce runs/{tracked.name}" in page
    assert "eval_every: 50" in page


PLAIN = """\
    import sys, time
    import trainer

    with trainer.track("plain", config={"mode": sys.argv[1]}, seed=1) as run:
        run.log(1, loss=2.5)
        run.log(2, loss=2.0)
        if sys.argv[1] == "fail":
            raise ValueError("the batch had no rows")
        print("ready", flush=True)
        time.sleep(120)  # until the test's signal ends the block
    """
"""a script that does not import torch: tracking it costs no torch import"""


def test_an_exception_inside_the_block_seals_the_run_failed_and_goes_on(tmp_path):
    (tmp_path / "plain.py").write_text(textwrap.dedent(PLAIN))

    result = script(tmp_path / "plain.py", "fail", runs=tmp_path / "runs", cwd=tmp_path)

    assert result.returncode == 1 and "ValueError: the batch had no rows" in result.stderr
    record = record_of(only_run(tmp_path / "runs"))
    assert (record["status"], record["reason"]) == ("failed", "ValueError: the batch had no rows")
    assert record["environment"]["device"] is None and record["seeded"] == ["python", "numpy"]
    assert run_cli("trainer", "verify", runs_dir=tmp_path / "runs").returncode == 0


def test_sigterm_inside_the_block_seals_the_run_interrupted(tmp_path):
    (tmp_path / "plain.py").write_text(textwrap.dedent(PLAIN))
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRAINBOOK_RUNS_DIR": str(tmp_path / "runs")}
    proc = subprocess.Popen([sys.executable, "plain.py", "wait"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0 and "Interrupted: run plain-" in stderr
    record = record_of(only_run(tmp_path / "runs"))
    assert record["status"] == "interrupted" and "SIGTERM" in record["reason"] and record["stopped_at_step"] == 2
    assert run_cli("trainer", "verify", runs_dir=tmp_path / "runs").returncode == 0


def test_under_torchrun_only_rank_0_writes_a_run(tmp_path):
    (tmp_path / "plain.py").write_text(textwrap.dedent(PLAIN).replace('print("ready", flush=True)\n    time.sleep(120)', "pass"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRAINBOOK_RUNS_DIR": str(tmp_path / "runs")}
    torchrun = Path(sys.executable).with_name("torchrun")
    launch = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "plain.py", "ok"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert launch.returncode == 0, launch.stderr[-3000:]
    record = record_of(only_run(tmp_path / "runs"))
    assert record["status"] == "ok" and record["environment"]["world_size"] == 2
    assert len((tmp_path / "runs" / "ledger.jsonl").read_text().splitlines()) == 1


@pytest.fixture
def as_a_script(monkeypatch):
    """This process as `python -m pytest` starts it, a script with a file: a pytest-xdist worker is `python -c`, which
    track() rightly takes for an interactive session with no command line to keep."""
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(Path(pytest.__file__).parent / "__main__.py"), raising=False)


@pytest.mark.usefixtures("as_a_script")
def test_a_credential_on_the_command_line_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "train.py", "--hf-token", "hf_planted_secret", "--lr", "0.1"])
    runs = tmp_path / "runs"
    with pytest.raises(trainer.UsageError) as refused:
        trainer.track("leaky", runs_dir=runs)
    assert str(refused.value).startswith("command line: argument 2: '--hf-token' passes a credential")
    assert "hf_planted_secret" not in str(refused.value) and not runs.exists()


def test_a_mistake_given_to_track_is_one_error_naming_the_key_and_nothing_is_written(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(trainer.ConfigError, match=r"^trainer.track\(\): name: expected 1-64 lower-case"):
        trainer.track("My Experiment", runs_dir=runs)
    with pytest.raises(trainer.ConfigError, match=r"^trainer.track\(\): data\[0\]: .*missing.csv: no such file"):
        trainer.track("ok-name", data=[tmp_path / "missing.csv"], runs_dir=runs)
    with pytest.raises(trainer.ConfigError, match=r"^trainer.track\(\): config.when: expected a number, text"):
        trainer.track("ok-name", config={"when": object()}, runs_dir=runs)
    assert not runs.exists()


def test_a_tracked_block_in_this_process_keeps_rows_figures_artifacts_and_its_final_metrics(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("1 2 3\n")
    png = REPO / "static" / "favicon.svg"  # not a PNG: refused
    with trainer.track("in-process", config={"lr": 0.1}, data=[data], runs_dir=tmp_path / "runs", key_metric="acc",
                       goal="max") as run:
        run.log(1, train_loss=1.0)
        run.log(1, acc=0.5)  # the same step: one row
        run.log(2, train_loss=float("nan"), acc=0.75)
        with pytest.raises(ValueError, match="steps never go down"):
            run.log(1, acc=0.1)
        with pytest.raises(ValueError, match="not a PNG"):
            run.add_figure(png.read_bytes(), "an icon")
        with pytest.raises(ValueError, match="cannot name a file of the run"):
            run.add_artifact(data, name="run.json")
        run.add_artifact(data, name="notes.txt")
        run.summary(test_acc=0.7)
    result = run.result
    assert result.ok and result.rows == [{"step": 1, "train_loss": 1.0, "acc": 0.5}, {"step": 2, "train_loss": None, "acc": 0.75}]
    assert result.metrics == {"train_loss": 1.0, "acc": 0.75, "steps": 2, "test_acc": 0.7}
    assert result.key_metric == ("acc", 0.75) and result.record["key_metric"]["goal"] == "max"
    assert (result.path / "notes.txt").read_text() == "1 2 3\n" and "notes.txt" in result.artifacts
    assert trainer.verify(result).problems == 0


@pytest.mark.usefixtures("as_a_script")
def test_reproducing_a_tracked_run_whose_data_changed_is_refused_before_running_anything(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("1 2 3\n")
    with trainer.track("changing-data", data=[data], runs_dir=tmp_path / "runs") as run:
        run.log(1, loss=1.0)
    data.write_text("4 5 6\n")
    before = snapshot(tmp_path / "runs")

    with pytest.raises(trainer.ConfigError, match=r"data.txt: data: differs from the run's"):
        trainer.reproduce(run.result)

    assert snapshot(tmp_path / "runs") == before
