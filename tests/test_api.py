"""The Python API in this process: `trainer.run` returns the sealed run, a mistake is one exception naming the key
(nothing written), a failed run raises RunFailed carrying it, and a library call prints nothing and leaves the
caller's torch threads and random state as it found them."""
from __future__ import annotations

import inspect
import json

import pytest
import torch

import trainer
from tests.conftest import REPO
from trainer.tracking import timing

EXPERIMENT = str(REPO / "experiments" / "names-mlp.yaml")
TINY = {"train.steps": 60, "train.eval_interval": 30, "sample.count": 2}


def test_run_returns_the_sealed_run_its_final_metrics_and_rows_and_prints_nothing(tmp_path, capfd, one_torch_thread):
    torch.manual_seed(5)
    expected_next = torch.rand(3, generator=torch.Generator().set_state(torch.get_rng_state()))

    r = trainer.run(EXPERIMENT, overrides={**TINY, "optim.lr": 0.05, "train.threads": 2}, runs_dir=tmp_path / "runs")

    assert capfd.readouterr() == ("", "")
    record = json.loads((r.path / "run.json").read_text())
    assert r.ok and r.path.parent == tmp_path / "runs" and r.metrics == record["metrics"]
    assert r.metrics["val_loss"] == r.rows[-1]["val_loss"] and r.rows[0]["step"] == 1 and r.rows[-1]["step"] == 60
    assert r.config["optim"]["lr"] == 0.05 and record["source"]["overrides"][-2:] == ["optim.lr=0.05", "train.threads=2"]
    assert r.key_metric == ("val_loss", r.metrics["val_loss"]) and r.figures and all(f.is_file() for f in r.figures)
    assert trainer.verify(tmp_path / "runs").problems == 0 and trainer.open_run(r.path).record == r.record
    assert torch.get_num_threads() == 1 and torch.equal(torch.rand(3), expected_next)


def test_a_mistake_in_the_overrides_raises_one_config_error_naming_the_key_and_writes_nothing(tmp_path):
    with pytest.raises(trainer.ConfigError) as mistake:
        trainer.run(EXPERIMENT, overrides={"train.stepz": 200}, runs_dir=tmp_path / "runs")
    assert str(mistake.value).startswith(f"{EXPERIMENT}: train.stepz: unknown key (did you mean 'steps'?)")
    assert mistake.value.key == "train.stepz" and not (tmp_path / "runs").exists()
    with pytest.raises(trainer.ConfigError, match=r"optim.lr: must be > 0, got -1.0"):
        trainer.run(EXPERIMENT, overrides=["optim.lr=-1"], runs_dir=tmp_path / "runs")


def test_a_run_that_fails_raises_run_failed_carrying_the_sealed_failed_run(tmp_path):
    with pytest.raises(trainer.RunFailed) as failed:
        trainer.run(EXPERIMENT, overrides={**TINY, "train.steps": 400, "optim.weight_decay": 30}, runs_dir=tmp_path / "runs")
    run = failed.value.run
    assert run.status == "failed" and "training loss became nan" in run.reason and str(failed.value).startswith(f"run {run.id} failed")
    assert trainer.verify(run).problems == 0


def test_reproduce_returns_the_reproduction_with_its_verdict(tmp_path):
    original = trainer.run(EXPERIMENT, overrides=TINY, runs_dir=tmp_path / "runs")

    again = trainer.reproduce(original)

    assert again.verdict == "identical" and again.reproduction["of"] == original.id and again.path.parent == original.path.parent
    assert timing.model_values(again.metrics) == timing.model_values(original.metrics)


def test_every_public_name_of_the_api_has_type_hints():
    untyped, checked = [], 0
    for name in trainer.__all__:
        obj = getattr(trainer, name)
        functions = [(name, obj)] if inspect.isfunction(obj) else [
            (f"{name}.{attr}", getattr(value, "fget", value)) for attr, value in vars(obj).items()
            if not attr.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))
        ] if inspect.isclass(obj) and not issubclass(obj, BaseException) else []
        for label, function in functions:
            checked += 1
            signature = inspect.signature(function)
            missing = [p for p in signature.parameters.values() if p.name not in ("self", "cls") and p.annotation is p.empty]
            if missing or signature.return_annotation is signature.empty:
                untyped.append(label)
    assert untyped == [] and checked > 30
    assert {"run", "resume", "reproduce", "verify", "open_run", "track", "RunResult", "TrackedRun"} <= set(trainer.__all__)
