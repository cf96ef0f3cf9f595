"""The forecast kind in this process: its baselines and scores on series whose answers are known, its reading of a
CSV series, and a run stopped by a signal and resumed that continues the exact trajectory."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import REPO
from tests.engine_runs import assert_resume_continues_exactly, start_run
from trainer import experiments
from trainer.kinds.forecast import engine
from trainer.kinds.forecast.data import read_csv
from trainer.plugin import ConfigError

FORECAST_CO2 = REPO / "experiments" / "forecast-co2.yaml"
QUICK = ["train.steps=60", "train.eval_interval=20", "train.checkpoint_interval=20", "eval.origin_step=12"]
"""a forecast run of a second or two: few steps, a forecast origin every year of the held-out decade"""

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as `train.threads: 1` in the experiment


def test_naive_repeats_the_last_value_and_seasonal_naive_the_last_season_beyond_one_season():
    values = np.arange(20.0)
    origins = np.array([10, 15])
    assert engine.naive(values, origins, 3).tolist() == [[9, 9, 9], [14, 14, 14]]
    assert engine.seasonal_naive(values, origins, 5, season=3).tolist() == [[7, 8, 9, 7, 8], [12, 13, 14, 12, 13]]


def test_mase_divides_by_the_given_in_sample_error_and_smape_is_in_percent():
    actual = np.array([[1.0, 2.0], [3.0, 4.0]])
    forecasts = actual + np.array([[1.0, -1.0], [0.0, 2.0]])
    result = engine.scores(forecasts, actual, mase_scale=2.0)
    assert result["mae"] == 1.0 and result["mase"] == 0.5 and result["mae_by_step"] == [0.5, 1.5]
    assert engine.smape(np.array([2.0]), np.array([1.0])) == pytest.approx(200 / 3)
    assert engine.smape(np.zeros(3), np.zeros(3)) == 0.0  # 0 / 0 counts as no error


def test_conformal_half_width_is_the_rank_ceil_n_plus_1_times_level_error_and_says_when_n_is_too_small():
    errors = np.arange(1.0, 10.0)[:, None] * np.array([[1.0, -2.0]])  # nine validation origins, two steps ahead
    half, exact = engine.conformal_half_widths(errors, 0.8)
    assert half.tolist() == [8.0, 16.0] and exact  # ceil(10 x 0.8) = 8th smallest absolute error
    half, exact = engine.conformal_half_widths(errors, 0.95)
    assert half.tolist() == [9.0, 18.0] and not exact  # rank 10 of 9: the largest, flagged


def test_the_figure_tiles_the_held_out_part_with_origins_one_horizon_apart():
    assert engine.tiling_origins(np.arange(100, 130), 12).tolist() == [0, 12, 24]
    assert engine.tiling_origins(np.arange(100, 130, 5), 12).tolist() == [0, 3]  # origins 100 and 115


def test_a_csv_series_is_read_from_its_named_column_with_the_first_column_as_labels(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("month,units,price\n2020-01,5,1.5\n2020-02,7,1.25\n\n2020-03,6,1.0\n")
    cfg = experiments.load(FORECAST_CO2, [f"data.path={path}", "data.column=units", "data.season=12"]).data
    series = read_csv(cfg, "x.yaml")
    assert series.values.tolist() == [5.0, 7.0, 6.0] and series.labels == ["2020-01", "2020-02", "2020-03"]
    assert series.name == "units" and series.record["dataset"] == "sales" and len(series.record["sha256_file"]) == 64
    headless = tmp_path / "plain.csv"
    headless.write_text("1.5\n2\n2.5\n")
    cfg = experiments.load(FORECAST_CO2, [f"data.path={headless}", "data.season=1"]).data
    assert read_csv(cfg, "x.yaml").labels == ["1", "2", "3"]


@pytest.mark.parametrize("content, column, expected", [
    ("month,units\n2020-01,5\n2020-02,n/a\n", None, "line 3: 'n/a' is not a finite number"),
    ("5\nnan\n", None, "line 2: 'nan' is not a finite number"),
    ("month,units\n2020-01,5\n", "price", "has no column 'price'; its columns: month, units"),
    ("5\n6\n", "units", "has no header row to find column 'units' in"),
    ("units\n", None, "has a header row and no values"),
])
def test_a_csv_series_mistake_names_the_line_or_column(tmp_path, content, column, expected):
    path = tmp_path / "series.csv"
    path.write_text(content)
    overrides = [f"data.path={path}", "data.season=1", *([f"data.column={column}"] if column else [])]
    with pytest.raises(ConfigError, match="data.") as raised:
        read_csv(experiments.load(FORECAST_CO2, overrides).data, "x.yaml")
    assert expected in str(raised.value)


def test_a_stopped_and_resumed_forecast_run_continues_the_exact_trajectory(tmp_path, monkeypatch):
    cfg = experiments.load(FORECAST_CO2, QUICK)
    assert_resume_continues_exactly(tmp_path, monkeypatch, engine, cfg, str(FORECAST_CO2), stop_at=30,
                                    compared=("forecasts.json", "forecast.png", "errors_by_step.png", "loss.png"))


def test_the_forecaster_learns_a_seasonal_trend_it_never_saw_the_level_of(tmp_path):
    months = np.arange(400)
    series = 0.1 * months + 3 * np.sin(2 * np.pi * months / 12)  # the held-out end is higher than anything in training
    path = tmp_path / "trend.csv"
    path.write_text("\n".join(f"{v:.6f}" for v in series) + "\n")
    cfg = experiments.load(FORECAST_CO2, [f"data.path={path}", "data.season=12", "data.held_out=60", "data.validation=36",
                                          "train.steps=300", "eval.origin_step=6"])
    prepared, run = start_run(tmp_path / "runs", cfg, engine, str(FORECAST_CO2))
    final = engine.train(prepared, run)
    assert final["mase"] < 0.2 * final["mase_seasonal_naive"]  # seasonal naive misses a year of trend at every origin


def test_a_season_longer_than_the_data_before_the_held_out_part_allows_is_refused(tmp_path):
    path = tmp_path / "short-cycles.csv"
    path.write_text("".join(f"{i % 7}.5\n" for i in range(300)))
    cfg = experiments.load(FORECAST_CO2, [f"data.path={path}", "data.season=100"])
    with pytest.raises(ConfigError, match="data.season") as raised:
        engine.prepare(cfg, "x.yaml")
    assert "a season of 100 needs more than one season of training data" in str(raised.value)
    assert "has 120 and 180" in str(raised.value)
