"""Quality gates: declared in the experiment file, checked at load, judged by `trainer gate` against the latest run."""
from __future__ import annotations

import dataclasses
import re

import pytest

from trainer import config, experiments, gates
from trainer.engines import registry
from tests.conftest import REPO, run_cli
from tests.synthetic import clone_run, template

NAMES_MLP = re.sub(r"^gates:\n(?:[ \t]+.*\n?)*", "", (REPO / "experiments" / "names-mlp.yaml").read_text(), flags=re.M)
"""names-mlp.yaml without its own gates, which each test declares (a key may appear only once in a file)"""


def experiment(tmp_path, gates_yaml: str, name: str = "names-mlp"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(NAMES_MLP.replace("name: names-mlp", f"name: {name}") + f"\ngates: {gates_yaml}\n")
    return path


def test_every_experiment_schema_declares_documented_gates():
    for cls in (spec.experiment_schema() for spec in registry.specs().values()):
        assert "gates" in {f.name for f in dataclasses.fields(cls)}, cls.__name__
        assert config.field_docs(cls).get("gates"), cls.__name__


def test_gates_in_an_experiment_file_load_into_the_config(tmp_path):
    cfg = experiments.load(experiment(tmp_path, '{val_loss: "<= 2.35", steps_per_s: ">= 500", reproduce: identical}'))
    assert cfg.gates == {"val_loss": "<= 2.35", "steps_per_s": ">= 500", "reproduce": "identical"}


@pytest.mark.parametrize("gates_yaml, key, expected", [
    ('{val_loss: "=< 2.35"}', "gates.val_loss", "expected a comparison like"),
    ('{val_loss: "<= fast"}', "gates.val_loss", "got '<= fast'"),
    ("{reproduce: roughly}", "gates.reproduce", "expected one of 'identical', 'within tolerance'"),
    ('{Val-Loss: "<= 2"}', "gates.Val-Loss", "expected a metric name"),
    ("{val_loss: 2.35}", "gates.val_loss", "expected string, got 2.35"),
])
def test_a_malformed_gate_is_a_config_error_naming_its_key(tmp_path, gates_yaml, key, expected):
    with pytest.raises(config.ConfigError) as e:
        experiments.load(experiment(tmp_path, gates_yaml))
    assert e.value.key == key and expected in str(e.value)


def test_gate_command_exits_2_on_a_malformed_gate_before_judging_anything(tmp_path, tiny_runs):
    result = run_cli("trainer", "gate", str(experiment(tmp_path, '{val_loss: "<== 2"}')), runs_dir=tiny_runs)
    assert result.returncode == 2
    assert "gates.val_loss" in result.stderr and result.stdout == ""


def test_metric_gates_pass_and_fail_on_the_runs_final_metrics():
    record = {"status": "ok", "metrics": {"val_loss": 2.30, "steps_per_s": 400.0}}
    verdicts = gates.judge_all({"val_loss": "<= 2.35", "steps_per_s": ">= 500"}, record)
    assert [(str(v.gate), v.passed) for v in verdicts] == [("val_loss <= 2.35", True), ("steps_per_s >= 500", False)]
    assert verdicts[1].reason == "400 is not >= 500"


def test_a_missing_metric_a_failed_run_and_a_missing_reproduction_fail_their_gates():
    ok = {"status": "ok", "metrics": {"val_loss": 2.0}}
    assert "no metric 'tokens_per_s'" in gates.judge_all({"tokens_per_s": ">= 1"}, ok)[0].reason
    assert "the run failed" in gates.judge_all({"val_loss": "<= 9"}, {"status": "failed", "metrics": {}})[0].reason
    assert not gates.judge_all({"reproduce": "identical"}, ok)[0].passed


@pytest.mark.parametrize("level, verdict, passed", [
    ("identical", "identical", True),
    ("identical", "within tolerance", False),
    ("within tolerance", "within tolerance", True),
    ("within-tolerance", "identical", True),
    ("within tolerance", "diverged at step 12", False),
])
def test_reproduce_gate_follows_the_recorded_verdict(level, verdict, passed):
    record = {"status": "ok", "metrics": {}, "reproduction": {"verdict": verdict}}
    assert gates.judge_all({"reproduce": level}, record)[0].passed is passed


def test_gate_command_judges_the_latest_run_and_exits_1_naming_the_failed_gate(tmp_path, runs_copy):
    real = template(runs_copy)
    clone_run(real, runs_copy, "names-mlp", minute=1, metrics={"val_loss": 3.0})  # older than the real run
    newest = clone_run(real, runs_copy, "names-mlp", minute=None, metrics={"val_loss": 2.2, "steps_per_s": 100.0})
    file = experiment(tmp_path, '{val_loss: "<= 2.35", steps_per_s: ">= 500"}')

    result = run_cli("trainer", "gate", str(file), runs_dir=runs_copy)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("pass") and "val_loss <= 2.35" in line and newest.name in line for line in lines)
    assert any(line.startswith("FAIL") and "steps_per_s >= 500" in line and "100 is not >= 500" in line for line in lines)


def test_gate_command_passes_when_every_gate_holds_and_fails_without_a_run(tmp_path, tiny_runs):
    passing = run_cli("trainer", "gate", str(experiment(tmp_path, '{val_loss: "<= 100"}')), runs_dir=tiny_runs)
    assert passing.returncode == 0 and passing.stdout.startswith("pass  names-mlp  val_loss <= 100")
    missing = run_cli("trainer", "gate", str(experiment(tmp_path, '{val_loss: "<= 100"}', name="never-trained")), runs_dir=tiny_runs)
    assert missing.returncode == 1 and "no sealed run of never-trained" in missing.stdout
