"""Figures of a forecast run, drawn in the house style (trainer.figures.style): deterministic PNG bytes."""
from __future__ import annotations

from pathlib import Path

import matplotlib.ticker
import numpy as np

from trainer.figures import style

from .data import Series

FORECAST, ERRORS, LOSS = "forecast.png", "errors_by_step.png", "loss.png"
COLORS = {"neural forecaster (MLP)": style.TRAIN_COLOR, "naive": "#7f7f7f", "seasonal naive": "#ff7f0e",
          "exponential smoothing (Holt-Winters)": style.TEST_COLOR}
DASHES = {"naive": ":", "seasonal naive": "--", "exponential smoothing (Holt-Winters)": "-."}
HELD_OUT_SHADE = "#f2f2f2"


MAX_TICKS = 8


def _label_axis(ax, labels: list[str], first: int, last: int) -> None:
    """Ticks at observations from `first` to `last`, named by their labels: at Januaries, named by the year, when the
    labels are months (YYYY-MM), else spread evenly."""
    januaries = [i for i in range(first, last + 1) if len(labels[i]) == 7 and labels[i].endswith("-01")]
    chosen = januaries or list(range(first, last + 1))
    every = -(-len(chosen) // MAX_TICKS)
    ticks = chosen[::every]
    ax.set_xticks(ticks, [labels[i][:4] if januaries else labels[i] for i in ticks])


def forecasts(path: Path, title: str, series: Series, test_start: int, context_start: int, origins: np.ndarray,
              by_method: dict[str, np.ndarray], bands: list[tuple[float, np.ndarray]]) -> Path:
    """The series from `context_start` on, the held-out part shaded, and each method's forecasts from `origins`;
    the first method's with its prediction intervals (`bands`: level and half-width per step ahead)."""
    fig, ax = style.figure(title, series.step, series.axis_label)
    ax.axvspan(test_start - 0.5, len(series.values) - 0.5, color=HELD_OUT_SHADE, zorder=0, label="held-out part")
    span = np.arange(context_start, len(series.values))
    ax.plot(span, series.values[span], color="black", linewidth=1.0, zorder=5, label="observed")  # over the forecasts
    horizon = next(iter(by_method.values())).shape[1]
    first = next(iter(by_method))
    for row, origin in enumerate(origins):
        steps = np.arange(origin, origin + horizon)
        for level, half in sorted(bands, reverse=True):  # the widest band first, the narrower drawn over it
            centre = by_method[first][row]
            ax.fill_between(steps, centre - half, centre + half, color=COLORS.get(first, style.TRAIN_COLOR),
                            alpha=0.12 if level == max(b[0] for b in bands) else 0.25, linewidth=0,
                            label=f"{first}, {level:.0%} interval" if row == 0 else None)
        for method, values in by_method.items():
            ax.plot(steps, values[row], color=COLORS.get(method, "#9467bd"), linestyle=DASHES.get(method, "-"),
                    linewidth=1.6 if method == first else 1.1, label=method if row == 0 else None)
    _label_axis(ax, series.labels, context_start, len(series.values) - 1)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
    return style.save(fig, path)


def errors_by_step(path: Path, title: str, errors: dict[str, np.ndarray], unit: str, step: str) -> Path:
    fig, ax = style.figure(title, f"{step}s ahead", f"mean absolute error ({unit})")
    for method, values in errors.items():
        ahead = np.arange(1, len(values) + 1)
        ax.plot(ahead, values, marker="o", markersize=3, color=COLORS.get(method, "#9467bd"),
                linestyle=DASHES.get(method, "-"), label=method)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
    return style.save(fig, path)


def losses(path: Path, title: str, rows: list[dict]) -> Path:
    fig, ax = style.figure(title, "step", "mean squared error (normalised units, log scale)")
    style.loss_curves(ax, rows, "training minibatch", "training (smoothed)", "validation origins")
    ax.set_yscale("log")
    ax.legend(loc="best", fontsize=8)
    return style.save(fig, path)
