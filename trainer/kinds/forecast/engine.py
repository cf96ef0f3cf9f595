"""Engine for time-series forecasting (`model.type: forecast`), written only against the public API.

The series is cut in three, oldest first: training | validation | held-out (`data.validation` and
`data.held_out` observations). The forecaster is an MLP from the last `model.window` observations to the next
`model.horizon`. It works relative to the last observation and in units of the training part's mean absolute
step: the input is (window - last) / scale and the output (future - last) / scale, so it can forecast levels it
never saw in training (CO2 rises through its whole record) and its inputs stay near 1.

Evaluation is by rolling origins: from every `eval.origin_step`-th point of the held-out part (its "origin"),
each method forecasts the next `horizon` observations from everything before it, and the forecasts are scored
against what happened. The baselines see exactly the same origins: naive (the last value), seasonal naive (the
last season again), and Holt-Winters exponential smoothing (additive trend and season; statsmodels), fitted once
on everything before the held-out part and then rolled forward with those parameters, as the MLP is trained once.

    MASE   mean absolute error / the in-sample MAE of the one-step seasonal naive forecast on the training part
           (Hyndman & Koehler 2006): below 1 beats that yardstick; every method is divided by the same number
    sMAPE  mean of 200 |F - A| / (|A| + |F|), in percent (0 to 200)

Prediction intervals are split conformal: for each step ahead, the half-width is the ceil((n + 1) c)-th smallest
absolute error of the forecaster on the n validation origins, for coverage level c; their held-out coverage is
reported beside the level. Randomness: the network is initialised from the global seed (the session seeds it
before `prepare`) and minibatches come from one torch.Generator whose state the checkpoint keeps; nothing else is
random, so `train(prepared, run, resume=checkpoint)` continues the exact trajectory.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from torch import nn

from trainer.plugin import (CHECKPOINT, METRICS, CheckpointError, ConfigError, MetricsLog, Progress, Run,
                            TrainingFailed, lr_at, make_optimizer, optimizer_step, save_checkpoint, set_lr, step_boundary)

from . import FORECASTS, ForecastExperiment, figures
from . import data as series_data


@dataclass(frozen=True)
class Split:
    """Where the validation and held-out parts begin, and the forecast origins of each part."""

    size: int
    val_start: int
    test_start: int
    window: int
    horizon: int
    origin_step: int

    @property
    def train_origins(self) -> np.ndarray:
        return np.arange(self.window, self.val_start - self.horizon + 1)

    @property
    def val_origins(self) -> np.ndarray:
        return np.arange(self.val_start, self.test_start - self.horizon + 1)

    @property
    def test_origins(self) -> np.ndarray:
        return np.arange(self.test_start, self.size - self.horizon + 1, self.origin_step)


class Forecaster(nn.Module):
    """An MLP from a normalised window to the normalised next `horizon` values (see the module docstring)."""

    def __init__(self, window: int, horizon: int, hidden: list[int]):
        super().__init__()
        layers, width = [], window
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        self.net = nn.Sequential(*layers, nn.Linear(width, horizon))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class Prepared:
    cfg: ForecastExperiment
    model: Forecaster
    data_record: dict
    series: series_data.Series
    split: Split
    scale: float
    """the training part's mean absolute step: the unit the network reads and writes"""
    mase_scale: float
    """the training part's in-sample seasonal naive MAE: what MASE divides by"""


def prepare(cfg: ForecastExperiment, source: str) -> Prepared:
    series = series_data.load(cfg.data, source)
    split = _split(cfg, len(series.values), source, cfg.data.path or f"{cfg.data.dataset} (statsmodels)")
    train = series.values[: split.val_start]
    season = cfg.data.period
    scale = float(np.mean(np.abs(np.diff(train))))
    mase_scale = float(np.mean(np.abs(train[season:] - train[:-season]))) if len(train) > season else 0.0
    for name, value in (("its mean absolute step", scale), (f"its in-sample seasonal naive error (season {season})", mase_scale)):
        if not value > 0:
            raise ConfigError(source, "data.path" if cfg.data.path else "data.dataset",
                              f"the training part of the series is constant: {name} is 0, so MASE is undefined")
    model = Forecaster(cfg.model.window, cfg.model.horizon, cfg.model.hidden)
    return Prepared(cfg, model, _data_record(cfg, series, split), series, split, scale, mase_scale)


def _split(cfg: ForecastExperiment, size: int, source: str, name: str) -> Split:
    d, m = cfg.data, cfg.model
    needed = m.window + m.horizon + d.validation + d.held_out
    if size < needed:
        raise ConfigError(source, "data.held_out", f"the series {name} has {size} observations; model.window ({m.window}) + "
                          f"model.horizon ({m.horizon}) for one training window, data.validation ({d.validation}) and "
                          f"data.held_out ({d.held_out}) need at least {needed}")
    test_start = size - d.held_out
    season, train = d.period, test_start - d.validation
    if season > 1 and (train <= season or test_start < 2 * season):
        raise ConfigError(source, "data.season", f"a season of {season} needs more than one season of training data (MASE's "
                          f"yardstick) and two before the held-out part (to fit exponential smoothing); {name} has {train} "
                          f"and {test_start}")
    return Split(size, train, test_start, m.window, m.horizon, cfg.eval.origin_step)


def _data_record(cfg: ForecastExperiment, series: series_data.Series, split: Split) -> dict:
    labels = series.labels

    def part(start: int, end: int) -> dict:
        return {"observations": end - start, "from": labels[start], "to": labels[end - 1]}

    return {
        **series.record, "observations": len(series.values), "quantity": series.name, "unit": series.unit, "step": series.step,
        "splits": {"train": part(0, split.val_start), "validation": part(split.val_start, split.test_start),
                   "held_out": part(split.test_start, split.size)},
        "evaluation": {"horizon": split.horizon, "season": cfg.data.period, "origin_step": split.origin_step,
                       "origins": len(split.test_origins), "held_out": cfg.data.held_out},
        "sha256": series.sha256, "note": "sha256 of the series as float64, little-endian, oldest first",
    }


# --- windows and forecasts ------------------------------------------------------------------

def windows(values: np.ndarray, origins: np.ndarray, window: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """For each origin t: the `window` values before t, and the `horizon` values from t on."""
    before = np.stack([values[t - window: t] for t in origins])
    after = np.stack([values[t: t + horizon] for t in origins])
    return before, after


def relative(values: np.ndarray, before: np.ndarray, scale: float) -> torch.Tensor:
    """`values` (a window, or what followed it) relative to the window's last value, in units of `scale`."""
    return torch.as_tensor((values - before[:, -1:]) / scale, dtype=torch.float32)


def normalised(before: np.ndarray, after: np.ndarray, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's inputs and targets for these windows."""
    return relative(before, before, scale), relative(after, before, scale)


@torch.no_grad()
def forecast(p: Prepared, origins: np.ndarray) -> np.ndarray:
    """The forecaster's [origins, horizon] forecasts in the series' own units."""
    before, _ = windows(p.series.values, origins, p.split.window, p.split.horizon)
    return p.model(relative(before, before, p.scale)).double().numpy() * p.scale + before[:, -1:]


def naive(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(values[origins - 1][:, None], horizon, axis=1)


def seasonal_naive(values: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Each step ahead gets the value one season before it, the last observed season repeated beyond one season."""
    lag = np.arange(horizon) % season - season
    return values[origins[:, None] + lag[None, :]]


def exponential_smoothing(values: np.ndarray, fit_end: int, origins: np.ndarray, horizon: int,
                          season: int) -> tuple[np.ndarray, dict, list[str]]:
    """Holt-Winters (additive trend and season) fitted on values[:fit_end], then rolled to each origin with the fitted
    parameters: its forecasts, the parameters, and any warning statsmodels gave while fitting."""
    seasonal = season > 1
    shape = {"trend": "add", "seasonal": "add" if seasonal else None, "seasonal_periods": season if seasonal else None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        params = ExponentialSmoothing(values[:fit_end], **shape, initialization_method="estimated").fit().params
        known = {"initial_level": params["initial_level"], "initial_trend": params["initial_trend"],
                 **({"initial_seasonal": params["initial_seasons"]} if seasonal else {})}
        smoothing = {k: params[k] for k in ("smoothing_level", "smoothing_trend", *(("smoothing_seasonal",) if seasonal else ()))}
        rolled = [ExponentialSmoothing(values[:t], **shape, initialization_method="known", **known)
                  .fit(**smoothing, optimized=False).forecast(horizon) for t in origins]
    described = {k: float(v) for k, v in smoothing.items()}
    notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return np.stack(rolled), described, notes


# --- scores ---------------------------------------------------------------------------------

def smape(forecasts: np.ndarray, actual: np.ndarray) -> float:
    denominator = np.abs(actual) + np.abs(forecasts)
    terms = np.divide(2 * np.abs(forecasts - actual), denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(100 * terms.mean())


def scores(forecasts: np.ndarray, actual: np.ndarray, mase_scale: float) -> dict:
    errors = np.abs(forecasts - actual)
    return {"mase": float(errors.mean() / mase_scale), "smape": smape(forecasts, actual), "mae": float(errors.mean()),
            "mae_by_step": errors.mean(axis=0).tolist()}


def conformal_half_widths(errors: np.ndarray, level: float) -> tuple[np.ndarray, bool]:
    """Per step ahead, the ceil((n + 1) level)-th smallest of n absolute validation errors; False when n is too small
    for that rank (the largest error is used then, and the interval may cover less than `level`)."""
    n = len(errors)
    rank = math.ceil((n + 1) * level)
    ordered = np.sort(np.abs(errors), axis=0)
    return ordered[min(rank, n) - 1], rank <= n


def level_name(level: float) -> str:
    """0.8 -> '80', 0.975 -> '97_5': a metric-name suffix."""
    return f"{level * 100:g}".replace(".", "_")


# --- the training loop ----------------------------------------------------------------------

def checkpoint_state(step: int, model: nn.Module, optimizer: torch.optim.Optimizer, batches: torch.Generator,
                     elapsed_s: float) -> dict:
    """Everything the next step depends on; `train(..., resume=this)` continues from it exactly."""
    return {"engine": "forecast", "step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "batches": batches.get_state(), "elapsed_s": elapsed_s}


@dataclass
class _Training:
    """The pieces of one run, put together once; `step` runs one optimisation step and what follows it."""

    p: Prepared
    run: Run
    optimizer: torch.optim.Optimizer
    batches: torch.Generator
    """the minibatch sampler's own stream"""
    metrics: MetricsLog
    progress: Progress
    train_xy: tuple[torch.Tensor, torch.Tensor]
    val_xy: tuple[torch.Tensor, torch.Tensor]

    def step(self, step: int) -> None:
        cfg, tc = self.p.cfg, self.p.cfg.train
        lr = lr_at(cfg.optim, step, tc.steps)
        set_lr(self.optimizer, lr)
        x, y = self.train_xy
        index = torch.randint(len(x), (tc.batch_size,), generator=self.batches)
        loss = nn.functional.mse_loss(self.p.model(x[index]), y[index])
        if not torch.isfinite(loss):
            self.metrics.flush()
            raise TrainingFailed(f"the training loss became {loss.item()} at step {step + 1}", step + 1)
        optimizer_step(self.optimizer, loss, self.p.model.parameters(), cfg.optim.grad_clip)
        done = step + 1
        row = {"train_loss": loss.item(), "lr": lr}
        if done % tc.eval_interval == 0 or done == tc.steps:
            row["val_loss"] = self.val_loss()
        self.metrics.log(done, **row)
        self.progress.update(done, loss=row["train_loss"])
        step_boundary(done, tc.steps, tc.checkpoint_interval, self.save)

    @torch.no_grad()
    def val_loss(self) -> float:
        x, y = self.val_xy
        return nn.functional.mse_loss(self.p.model(x), y).item()

    def save(self, done: int) -> None:
        """metrics.jsonl and the checkpoint together, so the rows on disk always match a resumable state."""
        self.metrics.flush()
        save_checkpoint(self.run.file(CHECKPOINT),
                        checkpoint_state(done, self.p.model, self.optimizer, self.batches, self.run.elapsed_s()))


def train(p: Prepared, run: Run, resume: dict | None = None) -> dict:
    """Train for cfg.train.steps steps (continuing after `resume`'s if given), evaluate, and return the final metrics."""
    cfg = p.cfg
    optimizer = make_optimizer(p.model, cfg.optim)
    batches = torch.Generator().manual_seed(cfg.seed)
    metrics, start = MetricsLog(run.file(METRICS), planned=cfg.train.steps), 0  # planned: a status file, step N of M
    if resume is not None:
        start = _restore(resume, p.model, optimizer, batches)
        metrics = MetricsLog.resume(run.file(METRICS), start, planned=cfg.train.steps)
    values, split = p.series.values, p.split
    training = _Training(p, run, optimizer, batches, metrics, Progress(cfg.train.steps, start, cfg.name, cfg.train.log_interval),
                         normalised(*windows(values, split.train_origins, split.window, split.horizon), p.scale),
                         normalised(*windows(values, split.val_origins, split.window, split.horizon), p.scale))
    began = time.perf_counter()
    try:
        for step in range(start, cfg.train.steps):
            training.step(step)
    finally:
        training.progress.close()
    steps_per_s = (cfg.train.steps - start) / max(time.perf_counter() - began, 1e-9)
    return {**_evaluate(p, metrics.rows, run), "steps_per_s": steps_per_s}


def _restore(state: dict, model: nn.Module, optimizer: torch.optim.Optimizer, batches: torch.Generator) -> int:
    if state.get("engine") != "forecast":
        raise CheckpointError("not a forecast checkpoint (it has no 'engine': 'forecast')")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    batches.set_state(state["batches"])
    return int(state["step"])


# --- the evaluation -------------------------------------------------------------------------

METHODS = {"model": "neural forecaster (MLP)", "naive": "naive", "seasonal_naive": "seasonal naive",
           "ets": "exponential smoothing (Holt-Winters)"}


def _evaluate(p: Prepared, rows: list[dict], run: Run) -> dict:
    """The rolling-origin evaluation on the held-out part: forecasts.json, the figures, and the final metrics."""
    values, split, season = p.series.values, p.split, p.cfg.data.period
    origins = split.test_origins
    _, actual = windows(values, origins, split.window, split.horizon)
    ets, ets_params, notes = exponential_smoothing(values, split.test_start, origins, split.horizon, season)
    forecasts = {"model": forecast(p, origins), "naive": naive(values, origins, split.horizon),
                 "seasonal_naive": seasonal_naive(values, origins, split.horizon, season), "ets": ets}
    methods = {name: {"label": METHODS[name], **scores(f, actual, p.mase_scale)} for name, f in forecasts.items()}
    methods["ets"]["parameters"] = ets_params
    _, val_actual = windows(values, split.val_origins, split.window, split.horizon)
    val_errors = forecast(p, split.val_origins) - val_actual
    intervals = []
    for level in sorted(p.cfg.eval.intervals):
        half, exact = conformal_half_widths(val_errors, level)
        covered = np.abs(forecasts["model"] - actual) <= half[None, :]
        intervals.append({"level": level, "half_width_by_step": half.tolist(), "coverage": float(covered.mean()),
                          "exact": exact, "calibration_origins": len(val_errors)})
    run.write_json(FORECASTS, _document(p, methods, intervals, notes))
    _figures(p, rows, run, origins, actual, forecasts, intervals)
    model = methods["model"]
    return {
        "mase": model["mase"], "smape": model["smape"], "mae": model["mae"],
        **{f"{metric}_{name}": methods[name][metric] for name in ("naive", "seasonal_naive", "ets") for metric in ("mase", "smape")},
        "mase_vs_seasonal_naive": model["mae"] / methods["seasonal_naive"]["mae"],
        **{f"coverage_{level_name(i['level'])}": i["coverage"] for i in intervals},
        "val_loss": next(r["val_loss"] for r in reversed(rows) if "val_loss" in r),
        "train_loss": rows[-1]["train_loss"], "origins": len(origins), "steps": p.cfg.train.steps,
        "params": sum(t.numel() for t in p.model.parameters()),
    }


def _document(p: Prepared, methods: dict, intervals: list[dict], notes: list[str]) -> dict:
    split, labels = p.split, p.series.labels
    origins = split.test_origins
    return {
        "quantity": p.series.name, "unit": p.series.unit, "step": p.series.step, "horizon": split.horizon, "window": split.window,
        "season": p.cfg.data.period, "mase_scale": p.mase_scale,
        "origins": {"count": len(origins), "every": split.origin_step, "first": labels[origins[0]], "last": labels[origins[-1]]},
        "held_out": {"observations": split.size - split.test_start, "from": labels[split.test_start], "to": labels[-1]},
        "methods": methods, "intervals": intervals, "notes": notes,
    }


def tiling_origins(origins: np.ndarray, horizon: int) -> np.ndarray:
    """Origins one horizon apart (where the origin step allows), so that their forecasts tile the held-out part."""
    chosen: list[int] = []
    for position, origin in enumerate(origins):
        if not chosen or origin >= origins[chosen[-1]] + horizon:
            chosen.append(position)
    return np.array(chosen)


def _figures(p: Prepared, rows: list[dict], run: Run, origins: np.ndarray, actual: np.ndarray, forecasts: dict,
             intervals: list[dict]) -> None:
    name, split, series = p.cfg.name, p.split, p.series
    shown = tiling_origins(origins, split.horizon)
    bands = [(i["level"], np.asarray(i["half_width_by_step"])) for i in intervals]
    figures.forecasts(run.file(figures.FORECAST), f"{name}: forecasts over the held-out {series.step}s", series, split.test_start,
                      max(0, split.test_start - 3 * max(split.horizon, p.cfg.data.period)), origins[shown],
                      {METHODS[m]: forecasts[m][shown] for m in ("model", "seasonal_naive", "ets")}, bands)
    levels = " and ".join(f"{i['level']:.0%}" for i in intervals)
    shaded = f" with its {levels} prediction intervals (shaded, calibrated on the validation part)" if intervals else ""
    run.add_figure(figures.FORECAST, "Forecasts over the held-out part",
                   f"The series (black) and forecasts of the next {split.horizon} {series.step}s from origins every "
                   f"{split.horizon} {series.step}s through the held-out part: the neural forecaster{shaded}, and seasonal "
                   f"naive and exponential smoothing from the same origins. Every method is scored on all {len(origins)} "
                   "origins, not only these.")
    errors = {METHODS[m]: np.abs(f - actual).mean(axis=0) for m, f in forecasts.items()}
    figures.errors_by_step(run.file(figures.ERRORS), f"{name}: error by steps ahead", errors, series.unit or "the series' units",
                           series.step)
    run.add_figure(figures.ERRORS, "Error by steps ahead",
                   f"Mean absolute error over the {len(origins)} held-out origins, for each number of {series.step}s ahead, "
                   "of every method: errors grow with the distance from the origin, more slowly for a better model.")
    figures.losses(run.file(figures.LOSS), f"{name}: training and validation loss", rows)
    run.add_figure(figures.LOSS, "Loss", "Mean squared error of the normalised forecasts (in units of the training part's "
                   "mean absolute step, squared) on each training minibatch and on every validation origin.")
