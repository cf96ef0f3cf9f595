"""A run's per-step metrics as the compact JSON its page's interactive charts draw (`curves.json`).

Every numeric column of metrics.jsonl becomes a series of (step, value) points. A long run is
downsampled per series to at most POINTS points, keeping the lowest and the highest value of each
of POINTS / 2 equal spans of steps, so a spike or a dip still shows (the PNG figures and
metrics.jsonl keep every row). Values keep SIGNIFICANT digits. The same function serves a sealed
run's page (a file next to it) and a running run's page (the watch server, as the run logs).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from trainer.tracking import layout
from trainer.tracking.files import write_text

FILE = "curves.json"
"""the file next to a run page; a run artifact of the same name keeps its place, and the page its PNGs only"""
FORMAT = "trainbook-curves-1"
POINTS = 1000
SIGNIFICANT = 5
SKIPPED = {"step", "time", "elapsed_s"}


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT}g}")


def series(rows: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
    """name -> (steps, values) of every numeric, finite column, in logged order."""
    found: dict[str, tuple[list[int], list[float]]] = {}
    for row in rows:
        step = row.get("step")
        if not isinstance(step, int) or isinstance(step, bool):
            continue
        for name, value in row.items():
            if name in SKIPPED or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            steps, values = found.setdefault(name, ([], []))
            steps.append(step)
            values.append(value)
    return found


def downsample(steps: list[int], values: list[float], points: int = POINTS) -> tuple[list[int], list[float]]:
    """At most `points` points: for each of points // 2 equal spans of steps, its lowest and highest point, in step order."""
    if len(steps) <= points:
        return steps, values
    spans = points // 2
    first, last = steps[0], steps[-1]
    width = (last - first) / spans or 1
    kept: dict[int, tuple[int, int]] = {}  # span -> (index of its lowest value, index of its highest)
    for i, (step, value) in enumerate(zip(steps, values)):
        span = min(int((step - first) / width), spans - 1)
        low, high = kept.get(span, (i, i))
        kept[span] = (i if value < values[low] else low, i if value > values[high] else high)
    chosen = sorted({i for pair in kept.values() for i in pair})
    return [steps[i] for i in chosen], [values[i] for i in chosen]


def compact(rows: list[dict], points: int = POINTS) -> dict:
    """The chart data of a run's metric rows: {format, rows, series: {name: {x, y, logged}}}."""
    out = {}
    for name, (steps, values) in sorted(series(rows).items()):
        xs, ys = downsample(steps, values, points)
        out[name] = {"x": xs, "y": [_round(v) for v in ys], "logged": len(steps)}
    return {"format": FORMAT, "rows": len(rows), "series": out}


def dumps(rows: list[dict], points: int = POINTS) -> str:
    return json.dumps(compact(rows, points), separators=(",", ":"), allow_nan=False)


def write(metrics: Path, target: Path) -> None:
    """A run page's chart data from the run's metrics file, into `target`: a job for the figure worker (picklable, and
    it reads the file itself), so that a publish of 10,000 run pages does not read and write them all in its own
    process while the worker's other core waits."""
    write_text(target, dumps(layout.read_metrics(metrics)), durable=False)  # content.write syncs what it drew
