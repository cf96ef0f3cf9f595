"""Run-page section: a forecast run's rolling-origin evaluation, the forecaster beside its baselines.

Reads `forecasts.json`, which the forecast engine writes (trainer/kinds/forecast/engine.py); every number is
formatted here, and the template only lays the strings out.
"""
from __future__ import annotations

import sys

from trainer.kinds.forecast import FORECASTS

from ..markup import Safe, number
from ..runs import RunView
from ..site import render_section

TEMPLATE = "sections/forecast.md.j2"
ORDER = ("model", "naive", "seasonal_naive", "ets")
"""the forecaster first, then the baselines from the simplest"""


def _method(method: dict, yardstick: float) -> dict:
    return {"label": method["label"], "mase": f"{method['mase']:.3f}", "smape": f"{method['smape']:.2f}%",
            "mae": number(method["mae"], 3), "relative": f"{method['mae'] / yardstick:.2f}"}


def _interval(interval: dict) -> dict:
    widths = interval["half_width_by_step"]
    return {"level": f"{interval['level']:.0%}", "coverage": f"{interval['coverage']:.1%}",
            "width": f"{2 * widths[0]:.3g} to {2 * widths[-1]:.3g}", "exact": interval["exact"],
            "calibration": interval["calibration_origins"]}


def build(run: RunView) -> Safe | None:
    data = run.read_json(FORECASTS) if FORECASTS in run.artifacts else None
    if not isinstance(data, dict):
        return None
    try:
        methods = data["methods"]
        yardstick = methods["seasonal_naive"]["mae"]
        rows = [_method(methods[name], yardstick) for name in ORDER if name in methods]
        intervals = [_interval(i) for i in data["intervals"]]
        origins, step = data["origins"], data["step"]
        smoothing = {k.removeprefix("smoothing_"): f"{v:.3g}" for k, v in methods["ets"].get("parameters", {}).items()}
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        print(f"{run.id}: {FORECASTS} is not a forecast evaluation ({e}); section skipped", file=sys.stderr)
        return None
    return render_section(TEMPLATE, rows=rows, intervals=intervals, origins=origins, step=step, horizon=data["horizon"],
                          window=data["window"], season=data["season"], scale=number(data["mase_scale"], 3),
                          unit=data.get("unit") or "the series' units", held_out=data["held_out"], smoothing=smoothing,
                          forecasts=origins["count"] * data["horizon"], notes=data.get("notes", []),
                          calibration=intervals[0]["calibration"] if intervals else 0,
                          file=FORECASTS, published=FORECASTS in {p.name for p in run.published_files})
