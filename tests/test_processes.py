"""Every engine under real torchrun processes: it trains with the same parameters in every process, or it is
refused (exit 2, nothing written); and a process that fails fails the run in every process."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, snapshot
from trainer.engines import registry
from trainer.tracking import integrity, layout

pytestmark = pytest.mark.slow  # whole processes, faulted, killed or launched together: `make test-slow`


TORCHRUN = Path(sys.executable).parent / "torchrun"
GPT_SMALL = ["model.n_layer=1", "model.n_head=2", "model.n_embd=32", "model.block_size=32", "train.batch_size=8",
             "train.steps=12", "train.eval_interval=6", "train.eval_batches=2", "train.tokens_per_step=512",
             "sample.count=1", "sample.max_length=20", "eval.examples=10"]
EXPERIMENTS = {
    "names-mlp": ["train.steps=40", "train.eval_interval=20", "sample.count=2", "introspect.interval=20"],
    "names-mlp-manual": ["train.steps=40"],
    "shakespeare-char-gpt": GPT_SMALL,
    "shakespeare-bpe-gpt": GPT_SMALL,
    "market-pg": ["train.iterations=4", "train.eval_interval=2", "eval.paths=2"],
    "forecast-co2": ["train.steps=10"],
    "digits-cnn": ["train.epochs=1"],
}
"""one entry per experiment file: overrides that keep a two-process run to seconds"""
REFUSED = {"names-mlp-manual": "model.backprop", "market-pg": "model.type", "forecast-co2": "model.type", "digits-cnn": "model.type"}
"""experiments whose engine (or setting) trains in one process, with the key the refusal names"""


def torchrun(runs: Path, experiment: str, overrides: list[str], **env: str) -> subprocess.CompletedProcess:
    command = [str(TORCHRUN), "--standalone", "--nproc_per_node=2", "-m", "trainer", "run", f"experiments/{experiment}.yaml",
               *overrides]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "TRAINBOOK_RUNS_DIR": str(runs), **env}
    return subprocess.run(command, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=300)


def exit_codes(launch: subprocess.CompletedProcess) -> dict[int, int]:
    """Each process's exit status by rank, from torchrun's failure report (processes that ended 0 are not listed)."""
    found = re.findall(r"rank\s*:\s*(\d+) \(local_rank: \d+\)\s*\n\s*exitcode\s*:\s*(-?\d+)", launch.stderr)
    return {int(rank): int(code) for rank, code in found}


def test_the_table_covers_every_experiment_file():
    assert set(EXPERIMENTS) == {p.stem for p in (REPO / "experiments").glob("*.yaml")}


@pytest.mark.parametrize("experiment", sorted(set(EXPERIMENTS) - set(REFUSED)))
def test_two_processes_train_one_run_with_identical_parameters_in_both(experiment, tmp_path):
    launch = torchrun(tmp_path / "runs", experiment, EXPERIMENTS[experiment])

    assert launch.returncode == 0, launch.stderr[-3000:]
    (run,) = layout.run_folders(tmp_path / "runs")  # rank 0 alone wrote a folder, and one ledger line
    assert len(integrity.parse(tmp_path / "runs")[0]) == 1
    record = json.loads((run / layout.RECORD).read_text())
    assert record["status"] == "ok" and record["environment"]["world_size"] == 2
    processes = record["processes"]
    assert processes["identical"] and len(processes["parameters_sha256"]) == 2
    assert len(set(processes["parameters_sha256"])) == 1


@pytest.mark.parametrize("experiment", sorted(REFUSED))
def test_an_engine_that_trains_in_one_process_is_refused_with_exit_2_and_nothing_written(experiment, tmp_path):
    launch = torchrun(tmp_path / "runs", experiment, EXPERIMENTS[experiment])

    assert launch.returncode != 0
    assert 2 in exit_codes(launch).values(), launch.stderr[-3000:]  # torchrun reports its first failure: a refusal
    # A sibling torchrun stops mid-line may share the refusal's line, and each process may refuse before it is stopped.
    refusals = re.findall(r"error: experiments/([\w-]+)\.yaml: ([\w.]+): ", launch.stderr)
    assert refusals and set(refusals) == {(experiment, REFUSED[experiment])}, launch.stderr[-3000:]
    assert f'File "{REPO / "trainer"}' not in launch.stderr, launch.stderr[-3000:]  # refused, not crashed
    assert snapshot(tmp_path / "runs") == {}


def test_every_engine_that_trains_in_one_process_says_so_in_its_spec():
    single = {spec.model_type for spec in registry.specs().values() if not spec.multi_process}
    assert single == {"policy", "forecast", "image"}


@pytest.mark.parametrize("failing_rank", [1, 0])
def test_a_process_that_raises_fails_the_run_and_every_process_exits_non_zero(failing_rank, tmp_path):
    launch = torchrun(tmp_path / "runs", "shakespeare-char-gpt", GPT_SMALL, TRAINBOOK_TEST_FAULT=f"rank={failing_rank},step=5")

    assert launch.returncode != 0
    assert exit_codes(launch) == {0: 1, 1: 1}, launch.stderr[-3000:]
    (run,) = layout.run_folders(tmp_path / "runs")
    record = json.loads((run / layout.RECORD).read_text())
    assert record["status"] == "failed"
    assert f"rank {failing_rank} failed: InjectedFault: fault injected by TRAINBOOK_TEST_FAULT at step 5" in record["reason"]
    assert integrity.verify(tmp_path / "runs").problems == 0  # sealed failed, like any failed run
