"""`python -m trainer reproduce`: a run trained again from its own record is the same run, and the site says so.

The oracle is the original run itself: a reproduction on this machine must match it bit for bit,
step by step. Perturbed copies check that the comparison would notice if it were not.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from trainer import reproduction
from trainer.api import folders, reproducing
from trainer.tracking import timing
from tests.conftest import REPO, TINY_RL, run_cli, snapshot, train
from tests.sitebuild import build_site
from trainer.tracking import layout

GPT_TINY = ["model.n_layer=1", "model.n_head=2", "model.n_embd=32", "model.block_size=32", "train.batch_size=8",
            "train.steps=40", "train.eval_interval=20", "train.checkpoint_interval=20", "eval.examples=10",
            "sample.count=1", "sample.max_length=20"]
ENGINES = {
    "mlp": ("experiments/names-mlp.yaml", ["train.steps=200", "train.eval_interval=100"]),
    "manual mlp": ("experiments/names-mlp-manual.yaml", ["train.steps=100", "train.eval_interval=50", "sample.count=3"]),
    "gpt": ("experiments/shakespeare-char-gpt.yaml", GPT_TINY),
    "rl": ("experiments/market-pg.yaml", TINY_RL),
}


def trained(runs: Path, experiment: str, overrides: list[str]) -> Path:
    result = run_cli("trainer", "run", str(REPO / experiment), *overrides, runs_dir=runs)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def reproduce(run: Path, *args: str):
    return run_cli("trainer", "reproduce", str(run), *args, runs_dir=run.parent)


def reproduction_of(runs: Path, original: Path) -> Path:
    (copy,) = [p for p in runs.iterdir() if p.is_dir() and p.name != original.name]
    return copy


@pytest.mark.slow
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_reproducing_a_run_of_each_engine_is_identical_and_recorded_in_the_new_runs_record(engine, tmp_path):
    experiment, overrides = ENGINES[engine]
    original = trained(tmp_path / "runs", experiment, overrides)
    before = (original / "run.json").read_bytes()

    result = reproduce(original)

    assert result.returncode == 0, result.stderr
    assert f"reproduction of {original.name}: identical" in result.stdout
    copy = reproduction_of(tmp_path / "runs", original)
    record = json.loads((copy / "run.json").read_text())
    assert record["status"] == "ok" and record["reproduction"]["of"] == original.name
    assert record["reproduction"]["verdict"] == "identical" and record["reproduction"]["compared"]["metric_rows"] > 0
    assert str(tmp_path) not in json.dumps(record["reproduction"])  # no local path in a record that gets published
    assert (original / "run.json").read_bytes() == before  # the original's sealed record is never touched
    assert run_cli("trainer", "verify", runs_dir=tmp_path / "runs").returncode == 0


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny names-mlp run and its reproduction, in one runs folder; copy before changing."""
    runs = tmp_path_factory.mktemp("reproduced") / "runs"
    original = train(runs)
    assert reproduce(original).returncode == 0
    return original, reproduction_of(runs, original)


def records(original: Path, copy: Path) -> tuple[dict, dict]:
    return json.loads((original / "run.json").read_text()), json.loads((copy / "run.json").read_text())


def rewrite_metrics(folder: Path, change) -> None:
    rows = layout.read_metrics(folder / layout.METRICS)
    (folder / layout.METRICS).write_text("".join(json.dumps(change(r)) + "\n" for r in rows))


@pytest.mark.slow
def test_comparison_names_the_first_step_where_a_reproduction_diverged(reproduced, tmp_path):
    original, copy = reproduced
    edited = Path(shutil.copytree(copy, tmp_path / copy.name))
    steps = [r["step"] for r in layout.read_metrics(edited / layout.METRICS)]
    at = steps[len(steps) // 2]
    rewrite_metrics(edited, lambda r: {**r, "train_loss": r["train_loss"] + 0.5} if r["step"] >= at and "train_loss" in r else r)

    comparison = reproduction.compare(original, edited, *records(original, copy))

    assert comparison.verdict == "diverged" and comparison.first_outside.step == at
    assert comparison.summary().startswith(f"diverged at step {at}: train_loss")


def test_a_deviation_inside_the_tolerance_is_within_tolerance_and_the_largest_one_is_named(reproduced, tmp_path):
    original, copy = reproduced
    edited = Path(shutil.copytree(copy, tmp_path / copy.name))
    last = layout.read_metrics(edited / layout.METRICS)[-1]["step"]
    rewrite_metrics(edited, lambda r: {**r, "train_loss": r["train_loss"] * (1 + 1e-6)} if r["step"] == last and "train_loss" in r else r)

    comparison = reproduction.compare(original, edited, *records(original, copy))

    assert comparison.verdict == "within tolerance"
    assert comparison.largest.step == last and comparison.largest.key == "train_loss"
    assert "largest deviation train_loss at step" in comparison.summary()


def test_timing_never_makes_a_reproduction_differ_but_a_changed_model_does(reproduced, tmp_path):
    original, copy = reproduced
    edited = Path(shutil.copytree(copy, tmp_path / copy.name))
    rewrite_metrics(edited, lambda r: {**r, **{k: v * 3 for k, v in r.items() if k in timing.METRICS}})
    assert reproduction.compare(original, edited, *records(original, copy)).verdict == "identical"

    import torch

    state = torch.load(edited / "checkpoint.pt", weights_only=True)
    tensor = next(v for v in state["model"].values() if v.is_floating_point())
    tensor.view(-1)[0] += 1e-3
    torch.save(state, edited / "checkpoint.pt")
    comparison = reproduction.compare(original, edited, *records(original, copy))
    assert comparison.verdict == "diverged" and comparison.artifacts_differing == ["checkpoint.pt"]


def test_a_run_whose_record_was_edited_is_not_reproduced_and_nothing_is_written(reproduced, tmp_path):
    original, _ = reproduced
    runs = Path(shutil.copytree(original.parent, tmp_path / "runs"))
    record = runs / original.name / "run.json"
    record.write_text(record.read_text().replace('"ok"', '"ok" ', 1))
    before = snapshot(runs)

    result = reproduce(runs / original.name)

    assert result.returncode == 2 and "does not verify" in result.stderr and "run.json edited" in result.stderr
    assert snapshot(runs) == before


def test_differences_of_code_and_packages_are_warned_about(reproduced):
    original, _ = reproduced
    record = json.loads((original / "run.json").read_text())
    record["code"]["commit"] = "0" * 40
    record["environment"]["packages"]["numpy"] = "0.0.1"

    cfg, _ = folders.read_config(original)
    found = reproducing.differences(record, cfg)
    assert any("code commit differs" in d and "0" * 40 in d for d in found)
    assert any(d.startswith("package numpy differs: the run had 0.0.1") for d in found)


def test_both_run_pages_show_the_verdict_and_link_each_other(reproduced, tmp_path):
    original, copy = reproduced
    public = build_site(original.parent, tmp_path)

    original_page = (public / "runs" / original.name / "index.html").read_text()
    copy_page = (public / "runs" / copy.name / "index.html").read_text()
    assert "This run has been reproduced from its record" in original_page
    assert f'href="../{copy.name}/"' in original_page and "identical" in original_page
    assert "This run is a reproduction of" in copy_page and f'href="../{original.name}/"' in copy_page
    assert "Verdict: ✅ identical." in copy_page


@pytest.mark.slow
def test_the_determinism_switch_turns_torch_deterministic_and_the_record_says_so(reproduced, tmp_path):
    original, _ = reproduced
    assert json.loads((original / "run.json").read_text())["determinism"]["deterministic_algorithms"] is False
    run = train(tmp_path / "runs", "train.steps=20", "train.deterministic=true")
    determinism = json.loads((run / "run.json").read_text())["determinism"]
    assert determinism["requested"] is True and determinism["deterministic_algorithms"] is True
    assert determinism["torch_threads"] >= 1 and "thread count" in determinism["scope"]
