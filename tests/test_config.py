"""Experiment files become validated dataclasses; every mistake is one clear message, exit 2, nothing written."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trainer import config, experiments
from trainer.engines import registry
from trainer.schemas.mlp import MLPExperiment
from tests.conftest import REPO, run_cli, snapshot

NAMES_MLP = REPO / "experiments" / "names-mlp.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_default_experiment_loads_into_typed_dataclasses():
    cfg = experiments.load(NAMES_MLP)
    assert isinstance(cfg, MLPExperiment)
    assert isinstance(cfg.optim.lr, float) and isinstance(cfg.train.steps, int)


def test_overrides_set_nested_keys_with_yaml_types():
    cfg = experiments.load(NAMES_MLP, ["optim.lr=0.05", "train.steps=500", "optim.name=adamw"])
    assert (cfg.optim.lr, cfg.train.steps, cfg.optim.name) == (0.05, 500, "adamw")


def test_every_schema_field_is_documented():
    for cls in (spec.experiment_schema() for spec in registry.specs().values()):
        undocumented = [key for key, _, _, doc in config.describe(cls) if not doc]
        assert undocumented == [], f"{cls.__name__} fields without a docstring: {undocumented}"


def test_describe_gives_each_sections_own_defaults_and_a_row_per_field_of_list_items():
    rows = {spec.model_type: {key: default for key, _, default, _ in config.describe(spec.experiment_schema())} for spec in registry.specs().values()}
    assert rows["gpt"]["optim.weight_decay"] == 0.1 and rows["mlp"]["optim.weight_decay"] == 0.0  # GPT's optimiser differs
    assert rows["mlp"]["sample.max_length"] == 30 and rows["gpt"]["train.batch_size"] == 12
    assert rows["policy"]["market.regimes[].volatility"] == 0.01 and "eval.scenarios[].schedule[].steps" in rows["policy"]


def test_resolved_config_round_trips_through_yaml():
    cfg = experiments.load(NAMES_MLP)
    import yaml

    again = experiments.from_dict(yaml.safe_load(config.dump_yaml(cfg)), "config.yaml")
    assert dataclasses.asdict(again) == dataclasses.asdict(cfg)
    assert config.config_sha256(again) == config.config_sha256(cfg)


@pytest.mark.parametrize("text, key, expected", [
    ("name: x\nmodel: {type: mlp}\noptim: {lrr: 0.1}\n", "optim.lrr", "did you mean 'lr'"),
    ("name: x\nmodel: {type: mlp}\ntrain: {steps: many}\n", "train.steps", "expected integer, got 'many'"),
    ("name: x\nmodel: {type: mlp}\noptim: {lr: -0.1}\n", "optim.lr", "must be > 0"),
    ("name: x\nmodel: {type: mpl}\n", "model.type", "did you mean 'mlp'"),
    ("name: x\nmodel: {type: mlp}\ndata: {split: [0.5, 0.5]}\n", "data.split", "three fractions"),
    ("name: Bad Name\nmodel: {type: mlp}\n", "name", "lower-case letters"),
    ("model: {type: mlp}\n", "name", "missing required key"),
])
def test_config_mistakes_name_the_key_and_the_expectation(tmp_path, text, key, expected):
    with pytest.raises(config.ConfigError) as e:
        experiments.load(write(tmp_path, text))
    assert e.value.key == key
    assert expected in str(e.value) and str(tmp_path / "exp.yaml") in str(e.value)


def test_yaml_aliases_are_refused(tmp_path):
    with pytest.raises(config.ConfigError, match="aliases"):
        experiments.load(write(tmp_path, "a: &x [1, 2]\nname: x\nmodel: {type: mlp}\ntags: *x\n"))


CLI_MISTAKES = {
    "unknown key": ("name: x\nmodel: {type: mlp}\ntrian: {steps: 10}\n", [], "trian: unknown key (did you mean 'train'?)"),
    "wrong type": ("name: x\nmodel: {type: mlp}\ntrain: {batch_size: 3.5}\n", [], "train.batch_size: expected integer, got 3.5"),
    "negative learning rate": (None, ["optim.lr=-0.05"], "optim.lr: must be > 0, got -0.05"),
    "missing dataset": (None, ["data.path=/no/such/words.txt"], "data.path: dataset file not found: /no/such/words.txt"),
    "yaml syntax error": ("name: x\nmodel: {type: mlp\n", [], "YAML syntax error at line"),
    "missing file": ("<missing>", [], "file not found"),
    "bad override": (None, ["optim.lr"], "expected an override of the form section.key=value"),
}


@pytest.mark.parametrize("case", sorted(CLI_MISTAKES))
def test_cli_config_mistake_exits_2_with_one_message_and_writes_nothing(tmp_path, case):
    text, overrides, expected = CLI_MISTAKES[case]
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "ledger.jsonl").write_text("")
    before = snapshot(runs)
    path = NAMES_MLP if text is None else tmp_path / "missing.yaml" if text == "<missing>" else write(tmp_path, text)

    result = run_cli("trainer", "run", str(path), *overrides, runs_dir=runs)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert snapshot(runs) == before
