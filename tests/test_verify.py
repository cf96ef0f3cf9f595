"""`python -m trainer verify` passes on fresh runs and names the run when any recorded byte changes."""
from __future__ import annotations

import json
import shutil

import pytest

from trainer.tracking import ledger
from tests.conftest import run_cli

ARTIFACTS = ["run.json", "config.yaml", "metrics.jsonl", "samples.txt", "embeddings.json", "checkpoint.pt", "best.pt",
             "loss.png", "lr.png", "grad_norm.png", "throughput.png", "embeddings.png"]


def only_run(runs):
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def flip_one_byte(path, offset_fraction=0.5):
    data = bytearray(path.read_bytes())
    i = int(len(data) * offset_fraction)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def test_fresh_runs_verify(tiny_runs):
    result = run_cli("trainer", "verify", runs_dir=tiny_runs)
    assert result.returncode == 0, result.stdout + result.stderr
    run = only_run(tiny_runs)
    assert result.stdout.splitlines() == [f"ok      {run.name}"]


@pytest.mark.parametrize("name", ARTIFACTS)
def test_changing_any_byte_of_a_record_or_artifact_fails_verify_naming_the_run(runs_copy, name):
    run = only_run(runs_copy)
    flip_one_byte(run / name)
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1
    assert f"FAILED  {run.name}" in result.stdout and name in result.stdout


def test_missing_artifact_is_named(runs_copy):
    run = only_run(runs_copy)
    (run / "samples.txt").unlink()
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1 and "samples.txt: missing" in result.stdout


def seal_a_copy(runs, suffix="0000000"):
    """A second sealed run (a copy of the first under a new id), so the ledger has two chained lines."""
    first = only_run(runs)
    second = runs / (first.name[:-7] + suffix)
    shutil.copytree(first, second)
    record = json.loads((second / "run.json").read_text())
    record["run_id"] = second.name
    (second / "run.json").write_text(json.dumps(record))
    ledger.append(runs, second.name, "names-mlp", "ok")
    return second


def test_edited_ledger_line_breaks_the_chain(runs_copy):
    seal_a_copy(runs_copy)
    path = runs_copy / "ledger.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0].replace('"status": "ok"', '"status": "failed"') + lines[1])
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1 and "ledger line 1: edited" in result.stdout


def test_deleted_ledger_line_is_detected(runs_copy):
    seal_a_copy(runs_copy)
    path = runs_copy / "ledger.jsonl"
    path.write_text(path.read_text().splitlines(keepends=True)[1])
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1 and "ledger line 1" in result.stdout


def test_unrecorded_run_folder_is_reported(runs_copy):
    run = only_run(runs_copy)
    (runs_copy / "ledger.jsonl").unlink()
    result = run_cli("trainer", "verify", runs_dir=runs_copy)
    assert result.returncode == 1 and run.name in result.stdout and "ledger line 1: deleted" in result.stdout
