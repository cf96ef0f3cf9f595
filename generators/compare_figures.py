"""Comparison-page figures: two runs' curves overlaid, drawn from run folders (never from torch), cached by what they show.

Drawing a PNG costs a tenth of a second or more, and a publish redraws every page, so each figure is
kept in a content-addressed cache: the key hashes the bytes of its inputs and the drawing code's
version, and an unchanged figure is copied, not redrawn. The cache is a build output
($TRAINBOOK_CACHE_DIR, else .cache/trainbook under the working directory); deleting it only costs time.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import matplotlib.ticker

from trainer import viz

VERSION = 2
"""bump when a drawing function changes, so cached figures are redrawn"""
BASE_COLOR, HEAD_COLOR = "#4a78a8", "#e4572e"


def cache_dir() -> Path:
    return Path(os.environ.get("TRAINBOOK_CACHE_DIR") or ".cache/trainbook") / "figures"


def cached(name: str, inputs: list, draw: Callable[[Path], None]) -> Path:
    """The PNG that `draw(path)` writes for these inputs, drawn only when the cache lacks it."""
    key = hashlib.sha256(json.dumps([VERSION, name, inputs], sort_keys=True, default=str).encode()).hexdigest()
    path = cache_dir() / key / f"{name}.png"  # the file keeps its plain name where it is published
    if not path.is_file():
        draw(path)
    return path


def _file_sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def overlay_series(rows: list[dict], key_metric: str) -> list[tuple[str, str]]:
    """Which logged series to draw, as (key, label): train and validation loss, else the key metric."""
    keys = {k for r in rows for k in r}
    found = [(k, label) for k, label in (("train_loss", "train, smoothed"), ("val_loss", "validation")) if k in keys]
    return found or ([(key_metric, key_metric.replace("_", " "))] if key_metric in keys else [])


def overlay(runs: list[tuple[str, list[dict], str]], path: Path, title: str, key_metric: str) -> bool:
    """Draw the runs' curves into one figure: (legend label, metric rows, colour) each. False if nothing to draw."""
    series = [(label, rows, color, overlay_series(rows, key_metric)) for label, rows, color in runs]
    if not any(found for *_, found in series):
        return False
    losses = all(k.endswith("loss") for *_, found in series for k, _ in found)
    fig, ax = viz.figure(title, "step", "cross-entropy loss (nats, log scale)" if losses else key_metric.replace("_", " "))
    for label, rows, color, found in series:
        for key, what in found:
            steps, values = viz.series(rows, key)
            if key == "train_loss":
                ax.plot(steps, viz.ema(values), color=color, linewidth=1.6, label=f"{label}: {what}")
            else:
                ax.plot(steps, values, "o--", color=color, markersize=4, linewidth=1.0, label=f"{label}: {what}")
    if losses:
        ax.set_yscale("log")
        plain = matplotlib.ticker.FormatStrFormatter("%.2f")  # 2.90, not 2.9 x 10^0
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax.legend(loc="upper right", fontsize=8)
    viz.save(fig, path)
    return True


def compare_figure(base_label: str, base_metrics: Path, head_label: str, head_metrics: Path, title: str,
                   key_metric: str) -> Path | None:
    """Both runs' curves overlaid in one figure (cached), or None when neither logged a curve."""
    inputs = [base_label, _file_sha(base_metrics), head_label, _file_sha(head_metrics), title, key_metric]

    def draw(path: Path) -> None:
        overlay([(base_label, _rows(base_metrics), BASE_COLOR), (head_label, _rows(head_metrics), HEAD_COLOR)],
                path, title, key_metric)

    path = cached("loss-overlay", inputs, draw)
    return path if path.is_file() else None


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
