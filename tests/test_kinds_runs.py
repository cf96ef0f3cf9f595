"""The forecast and image experiments through the real CLI: sealed runs, their gates' metrics, `reproduce` saying
identical, and run pages that show their sections and figures."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.conftest import REPO, run_cli
from tests.test_site import build_site
from trainer import experiments
from trainer.tracking import integrity, layout

TINY = {
    "forecast-co2": ["train.steps=200", "train.eval_interval=100", "eval.origin_step=6"],
    "digits-cnn": ["train.epochs=2"],
}
"""overrides that keep each default experiment to seconds"""
FIGURES = {
    "forecast-co2": {"forecast.png", "errors_by_step.png", "loss.png"},
    "digits-cnn": {"loss.png", "accuracy.png", "confusion.png", "misclassified.png", "filters.png"},
}
REPORTS = {"forecast-co2": "forecasts.json", "digits-cnn": "classification.json"}


@pytest.fixture(scope="module")
def kinds_runs(tmp_path_factory):
    """A runs folder with one tiny run of each experiment, trained by one CLI command (as `make train` does: one
    import of torch for both). Copy it before changing anything."""
    runs = tmp_path_factory.mktemp("kinds-runs")
    files = [arg for experiment, overrides in TINY.items() for arg in (str(REPO / "experiments" / f"{experiment}.yaml"), *overrides)]
    result = run_cli("trainer", "run", *files, runs_dir=runs)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == len(TINY), result.stdout
    return runs


def run_of(runs, experiment: str):
    (run,) = [p for p in layout.run_folders(runs) if p.name.startswith(f"{experiment}-")]
    return run


@pytest.mark.parametrize("experiment", sorted(TINY))
def test_the_cli_leaves_a_sealed_run_with_its_report_figures_and_the_metrics_its_gates_judge(kinds_runs, experiment):
    run = run_of(kinds_runs, experiment)
    record = json.loads((run / layout.RECORD).read_text())
    assert record["status"] == "ok" and {f["file"] for f in record["figures"]} == FIGURES[experiment]
    assert {layout.CONFIG, layout.METRICS, layout.CHECKPOINT, layout.WEIGHTS, REPORTS[experiment], *FIGURES[experiment]} == set(
        record["artifacts"])
    assert len(record["data"]["sha256"]) == 64
    gates = experiments.load(REPO / "experiments" / f"{experiment}.yaml").gates
    assert {g for g in gates if g != "reproduce"} <= set(record["metrics"])
    assert integrity.parse(kinds_runs)[1] == []


def test_the_forecaster_beats_every_baseline_even_in_a_tiny_run(kinds_runs):
    metrics = json.loads((run_of(kinds_runs, "forecast-co2") / layout.RECORD).read_text())["metrics"]
    assert metrics["mase_vs_seasonal_naive"] < 1 and metrics["mase"] < metrics["mase_ets"] < metrics["mase_naive"]
    assert 0.5 < metrics["coverage_80"] <= metrics["coverage_95"] <= 1


@pytest.mark.slow
@pytest.mark.parametrize("experiment", sorted(TINY))
def test_reproduce_says_a_cpu_run_is_identical(kinds_runs, experiment, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(kinds_runs, runs)
    result = run_cli("trainer", "reproduce", str(run_of(runs, experiment)))
    assert result.returncode == 0, result.stderr
    assert re.search(r"reproduction of \S+: identical: \d+ metric rows, \d+ final metrics and \d+ artifacts match bit for bit",
                     result.stdout), result.stdout


def test_the_run_pages_show_the_evaluation_sections_and_every_figure_with_its_caption(kinds_runs, tmp_path):
    public = build_site(kinds_runs, tmp_path)
    forecast = (public / "runs" / run_of(kinds_runs, "forecast-co2").name / "index.html").read_text()
    table = forecast[forecast.index("Rolling-origin evaluation"):]
    for method in ("neural forecaster (MLP)", "naive", "seasonal naive", "exponential smoothing (Holt-Winters)"):
        assert re.search(rf"<td>{re.escape(method)}</td>\s*<td>\d+\.\d{{3}}</td>", table), method
    assert "Prediction intervals" in table and re.search(r"<td>80%</td>\s*<td>\d+\.\d%</td>", table)
    image = (public / "runs" / run_of(kinds_runs, "digits-cnn").name / "index.html").read_text()
    rows = image[image.index("Test split by class"):]
    assert len(re.findall(r"<tr>\s*<td>\d</td>\s*<td>\d+</td>\s*<td>\d+</td>\s*<td>\d+\.\d%</td>", rows)) == 10
    for experiment, html in (("forecast-co2", forecast), ("digits-cnn", image)):
        for figure in FIGURES[experiment]:
            assert re.search(rf'<img src="{figure}" alt="[^"]+"', html), figure
        assert f'href="{REPORTS[experiment]}"' in html
