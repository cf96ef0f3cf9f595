"""A publish trains again only the experiments whose inputs changed since their latest published run."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from generators import retrain
from generators.runs import RunView
from tests.conftest import REPO


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> tuple[Path, str]:
    """A git checkout of this repository's files at one commit: (folder, commit)."""
    root = tmp_path_factory.mktemp("checkout")
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    git = ["git", "-C", str(root), "-c", "user.email=dev@example.org", "-c", "user.name=dev"]
    subprocess.run([*git, "init", "--quiet"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "the published state"], check=True)
    return root, subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def published(root: Path, experiment: str, commit: str, **record) -> RunView:
    """The latest published run of `experiment`, as its record says it was trained."""
    base = {"experiment": experiment, "status": "ok", "source": {"file": f"experiments/{experiment}.yaml", "overrides": []},
            "code": {"commit": commit, "dirty": False}}
    return RunView(id=f"{experiment}-20260101T000000Z-0000000", folder=root, record={**base, **record}, sealed=True)


def decide(root: Path, experiment: str, run: RunView | None, full: str | None = None) -> retrain.Decision:
    runs = {run.experiment: run} if run else {}
    return retrain.decide(f"experiments/{experiment}.yaml", root, runs, retrain.Repository(root), full)


def test_an_experiment_whose_inputs_did_not_change_reuses_its_published_run(checkout):
    root, commit = checkout
    decision = decide(root, "names-mlp", published(root, "names-mlp", commit))
    assert not decision.train and decision.reason.startswith(f"inputs unchanged since {commit[:7]}")


def test_a_change_to_the_code_an_engine_imports_retrains_its_experiments_and_no_other(checkout):
    root, commit = checkout
    loop = root / "trainer" / "loop" / "lm.py"
    original = loop.read_text()
    loop.write_text(original + "\n# a change to the language models' loop\n")
    try:
        names = decide(root, "names-mlp", published(root, "names-mlp", commit))
        market = decide(root, "market-pg", published(root, "market-pg", commit))
    finally:
        loop.write_text(original)
    assert names.train and names.reason == f"changed since {commit[:7]}: trainer/loop/lm.py"
    assert not market.train  # the policy-gradient engine never imports the language-model loop


def test_the_experiment_file_and_the_pinned_packages_are_inputs_too(checkout):
    root, commit = checkout
    for rel in ("experiments/names-mlp.yaml", "requirements.txt"):
        path = root / rel
        original = path.read_text()
        path.write_text(original + "\n# edited\n")
        try:
            decision = decide(root, "names-mlp", published(root, "names-mlp", commit))
        finally:
            path.write_text(original)
        assert decision.train and rel in decision.reason


@pytest.mark.parametrize("record, why", [
    ({"status": "failed"}, "ended failed"),
    ({"source": {"file": "experiments/names-mlp.yaml", "overrides": ["optim.lr=0.05"]}}, "trained with overrides (optim.lr=0.05)"),
    ({"code": {"commit": "0" * 40, "dirty": True}}, "trained from uncommitted changes"),
    ({"code": {"commit": "0" * 40, "dirty": False}}, "is not in this checkout's history"),
    ({"source": {"file": "elsewhere/names.yaml", "overrides": []}}, "was trained from 'elsewhere/names.yaml'"),
])
def test_whatever_the_record_cannot_vouch_for_trains_again(checkout, record, why):
    root, commit = checkout
    decision = decide(root, "names-mlp", published(root, "names-mlp", commit, **record))
    assert decision.train and why in decision.reason


def test_a_new_experiment_a_full_retrain_and_a_broken_file_all_train(checkout, tmp_path):
    root, commit = checkout
    assert decide(root, "names-mlp", None).reason == "no published run yet"
    full = decide(root, "names-mlp", published(root, "names-mlp", commit), full="the weekly full retrain")
    assert full.train and full.reason == "the weekly full retrain"
    broken = root / "experiments" / "broken.yaml"
    broken.write_text("name: broken\nmodel: {type: nope}\n")
    try:
        decision = decide(root, "broken", None)
    finally:
        broken.unlink()
    assert decision.train and "does not load" in decision.reason and "model.type" in decision.reason


def test_the_command_prints_what_to_train_and_writes_the_plan_the_home_page_reads(checkout, tmp_path, capsys):
    root, _ = checkout
    plan = tmp_path / "plan.json"
    status = retrain.main(["--repo", str(root), "--out", str(plan), "experiments/names-mlp.yaml", "experiments/market-pg.yaml"])
    said = capsys.readouterr()
    assert status == 0 and said.out == "experiments/names-mlp.yaml\nexperiments/market-pg.yaml\n"  # for make train
    assert "train experiments/market-pg.yaml: no published run yet" in said.err
    assert retrain.read_reused(plan) == []  # no history: nothing to reuse
