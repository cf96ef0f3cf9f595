"""The one figure style and PNG writer: every figure of a run and of the site is drawn through these.

PNG (not SVG) because Agg's PNG output is byte-identical for the same data, which keeps artifact
hashes reproducible; the `Software` stamp is dropped for the same reason.
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..tracking.files import write_bytes  # noqa: E402

DPI = 110
STYLE = {
    "figure.figsize": (7.0, 4.2),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
    "svg.hashsalt": "trainbook",
}
TRAIN_COLOR, VAL_COLOR, TEST_COLOR = "#1f77b4", "#d62728", "#2ca02c"


def save(fig: plt.Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_bytes(path, buffer.getvalue())
    return path


def figure(title: str, xlabel: str, ylabel: str):
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def ema(values: list[float], alpha: float = 0.1) -> list[float]:
    """Exponential moving average, for a readable line through noisy per-step losses."""
    out, acc = [], None
    for v in values:
        acc = v if acc is None else alpha * v + (1 - alpha) * acc
        out.append(acc)
    return out


def series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    pairs = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def loss_curves(ax, rows: list[dict], train: str = "train (per logged step)", smoothed: str = "train (smoothed)",
                validation: str = "validation") -> None:
    """The `train_loss` of every logged step (faint) and smoothed, and the `val_loss` points, on `ax`, with these labels."""
    steps, values = series(rows, "train_loss")
    if values:
        ax.plot(steps, values, color=TRAIN_COLOR, alpha=0.25, linewidth=0.8, label=train)
        ax.plot(steps, ema(values), color=TRAIN_COLOR, linewidth=1.6, label=smoothed)
    vsteps, val = series(rows, "val_loss")
    if val:
        ax.plot(vsteps, val, "o-", color=VAL_COLOR, markersize=4, linewidth=1.2, label=validation)


