"""Time-series forecasting (`model.type: forecast`): the schema and the spec. Torch-free.

A small neural forecaster reads the last `model.window` observations and predicts the next `model.horizon`.
It is judged by rolling-origin evaluation on the held-out end of the series, against three baselines on
exactly the same forecast origins: naive (the last value), seasonal naive (the last season again) and
Holt-Winters exponential smoothing from statsmodels. The engine is trainer/kinds/forecast/engine.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from trainer.plugin import Count, EngineSpec, ExperimentHeader, KeyMetric, LoopConfig, OptimConfig, Range

FORECASTS = "forecasts.json"
"""the rolling-origin evaluation: every method's errors (overall and by steps ahead), the calibrated prediction
intervals and their coverage, and the forecasts the run page draws"""
SEASONS = {"co2": 12, "sunspots": 11}
"""each bundled series' seasonal period: 12 months; the solar cycle of about 11 years"""


@dataclass
class SeriesConfig:
    dataset: Literal["co2", "sunspots"] = "co2"
    """series when no `path` is given, both shipped with statsmodels: co2 is the Mauna Loa CO2 record (weekly,
    1958-2001, with gaps) as monthly means; sunspots is the yearly sunspot number, 1700-2008"""
    path: str | None = None
    """a CSV file with a series to forecast instead: one observation per row, oldest first, equally spaced"""
    column: str | None = None
    """the CSV column holding the values, named in its header row; default: the last column"""
    season: Annotated[int, Range(ge=1, le=100_000)] | None = None
    """observations per seasonal cycle: the seasonal naive forecast repeats the last cycle, and MASE divides by
    its in-sample error; default: 12 for co2, 11 for sunspots; required with `path` (1: no seasonality)"""
    held_out: Count = 120
    """observations at the end of the series that training never sees, forecast from rolling origins"""
    validation: Count = 60
    """observations just before the held-out part, also kept out of training: the validation loss and the
    calibration of the prediction intervals"""

    @property
    def period(self) -> int:
        return self.season or SEASONS[self.dataset]

    def check(self):
        if self.path is not None and self.season is None:
            return "season", "required with path: the observations per seasonal cycle of your series (1 if it has none)"
        return None


@dataclass
class ForecastModelConfig:
    type: Literal["forecast"] = "forecast"
    """model family; `forecast` is a multilayer perceptron from a window of observations to the next `horizon`"""
    window: Annotated[int, Range(ge=1, le=100_000)] = 36
    """observations the forecaster reads before each forecast origin (36: three years of months)"""
    horizon: Annotated[int, Range(ge=1, le=100_000)] = 12
    """steps ahead it forecasts from each origin (12: a year of months)"""
    hidden: list[Annotated[int, Range(ge=1, le=4096)]] = field(default_factory=lambda: [64, 64])
    """hidden layer widths (ReLU after each)"""


@dataclass
class ForecastEvalConfig:
    intervals: list[Annotated[float, Range(gt=0, lt=1)]] = field(default_factory=lambda: [0.8, 0.95])
    """central prediction intervals, by the share of values they should cover: calibrated per step ahead on the
    validation part (split conformal), drawn on the forecast figure and scored by their held-out coverage"""
    origin_step: Count = 1
    """observations between consecutive forecast origins in the held-out part (1: a forecast from every one)"""

    def check(self):
        if len(set(self.intervals)) != len(self.intervals):
            return "intervals", f"expected distinct levels, got {self.intervals}"
        return None


@dataclass
class ForecastSteps:
    """How long the forecaster trains and how often it is validated (declared before LoopConfig's fields)."""

    steps: Count = 1500
    """optimisation steps, each on a minibatch of training windows"""
    batch_size: Annotated[int, Range(ge=1, le=65536)] = 64
    """windows per step, drawn with replacement from the training part"""
    eval_interval: Count = 100
    """steps between validation losses (and at the last step)"""


@dataclass
class ForecastTrainConfig(LoopConfig, ForecastSteps):
    """The forecaster's loop: its steps, then the loop basics, with defaults for a tiny network."""

    threads: Annotated[int, Range(ge=0, le=1024)] = 1
    """torch CPU threads; 0 keeps torch's default. The network is tiny, so one thread is fastest"""


@dataclass(kw_only=True)
class ForecastExperiment(ExperimentHeader):
    model: ForecastModelConfig
    """the forecaster"""
    data: SeriesConfig = field(default_factory=SeriesConfig)
    """the series and how its end is held out"""
    eval: ForecastEvalConfig = field(default_factory=ForecastEvalConfig)
    """the rolling-origin evaluation"""
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=3e-3, weight_decay=1e-4))
    """the optimiser"""
    train: ForecastTrainConfig = field(default_factory=ForecastTrainConfig)
    """the training loop"""

    def check(self):
        problem = super().check()
        if problem:
            return problem
        horizon = self.model.horizon
        for part in ("held_out", "validation"):
            size = getattr(self.data, part)
            if horizon > size:
                return "model.horizon", (f"must not exceed data.{part} ({size}): every {part.replace('_', '-')} forecast "
                                         f"lies inside that part, got {horizon}")
        return None


SPEC = EngineSpec(
    "forecast", ForecastExperiment, "forecasting",
    KeyMetric("mase", "min", "MASE", "held-out MAE over the in-sample seasonal naive MAE",
              comparable_by=("data.sha256", "data.evaluation")),
    "trainer.kinds.forecast.engine",
    description="an MLP forecaster over sliding windows, scored by rolling origins against naive, seasonal naive "
                "and exponential smoothing",
    multi_process=False, sections=("forecast",), artifacts=(FORECASTS,),
)
