"""What a run page shows of a run, decided from its record: the sections its engine declares (or, for an engine
no registry entry knows, those whose artifacts it has), and the key metric it is ranked by."""
from __future__ import annotations

from pathlib import Path

from generators.runs import RunView
from generators.sections import SECTIONS, is_plugin_section, names_for, plugin_section
from trainer.engines import registry


def run_of(model_type: str | None, artifacts: tuple[str, ...] = (), **record) -> RunView:
    config = {"model": {"type": model_type}} if model_type else {}
    facts = {name: {"sha256": "0" * 64, "bytes": 1} for name in artifacts}
    return RunView(id="x", folder=Path("/nonexistent"), record={"config": config, "artifacts": facts, **record})


def test_every_section_a_registered_engine_declares_is_one_the_run_page_can_show():
    declared = {name for spec in registry.specs().values() for name in spec.sections if not is_plugin_section(name)}
    assert declared and declared <= set(SECTIONS)


def test_a_built_in_run_shows_the_common_sections_then_its_engines_own_in_the_specs_order():
    assert names_for(run_of("mlp")) == ["gates", "model", "published", "gradcheck", "introspection"]
    assert names_for(run_of("gpt", ("scenarios.json",))) == ["gates", "model", "published", "multiple_choice", "introspection"]


def test_a_run_of_an_engine_no_one_registered_shows_each_section_whose_artifact_it_has():
    run = run_of("someone-elses-engine", ("scenarios.json", "choices.json", "samples.txt"))
    assert names_for(run) == ["gates", "model", "published", "multiple_choice", "market_scenarios"]
    assert names_for(run_of(None)) == ["gates", "model", "published"]


def test_a_record_without_a_key_metric_is_ranked_by_the_one_its_engine_declares():
    policy = run_of("policy", metrics={"eval_return": 1.5, "val_loss": 9.0})
    assert (policy.key_metric["name"], policy.key_metric["goal"], policy.key_value) == ("eval_return", "max", 1.5)
    assert run_of("gpt").key_metric["unit"] == "nats per token"
    assert run_of("someone-elses-engine", metrics={"val_loss": 2.0}).key_value == 2.0  # the oldest records' metric


def test_a_record_with_its_own_key_metric_keeps_it():
    run = run_of("policy", key_metric={"name": "mean_return", "goal": "max", "label": "mean return"}, metrics={"mean_return": 3.0})
    assert run.key_value == 3.0 and run.key_metric["label"] == "mean return"


def test_a_plugin_section_builder_gets_the_runs_reader_and_its_failures_become_a_note_not_a_broken_publish(tmp_path, monkeypatch):
    (tmp_path / "plugin_sections_probe.py").write_text(
        "def table(run):\n    return '## Probe\\n\\n' + run.id + ' {{< shortcode >}}'\n\n"
        "def broken(run):\n    raise KeyError('confusion.json')\n\n"
        "def nothing(run):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    run = run_of("someone-elses-engine")

    shown = plugin_section("plugin_sections_probe:table", "plugin probe 1.0").build(run)
    failed = plugin_section("plugin_sections_probe:broken", "plugin probe 1.0").build(run)
    missing = plugin_section("plugin_sections_probe:absent", "plugin probe 1.0").build(run)

    assert shown == "## Probe\n\nnonexistent {{&lt; shortcode >}}"  # the reader (its folder name); a shortcode shown, never run
    assert failed.startswith("> **A section of plugin probe 1.0 is missing:**") and "KeyError" in failed
    assert "cannot be imported" in missing and "AttributeError" in missing
    assert plugin_section("plugin_sections_probe:nothing", "plugin probe 1.0").build(run) is None
