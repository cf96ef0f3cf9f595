"""The one figure style and PNG writer: every figure of a run and of the site is drawn through these.

PNG (not SVG) because Agg's PNG output is byte-identical for the same data, which keeps artifact
hashes reproducible; the `Software` stamp is dropped for the same reason. Each PNG is written with a
palette of 256 colours (`thin_png`): a plot has a few colours and their anti-aliased edges, which survive
it (a pixel's channel moves by about 1 of 255 on average, at most 32 on an edge), and the file is about a
third of Agg's, for every run on the site and in its history.
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.ticker
from PIL import Image

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


PALETTE = 256
"""colours of a saved figure: on the default experiments' 16 figures, 31% of Agg's bytes"""


def thin_png(png: bytes) -> bytes:
    """The same picture as a palette PNG: deterministic (no dither, no timestamp), and faster to write than Agg's."""
    image = Image.open(io.BytesIO(png))
    if image.mode == "RGBA" and image.getextrema()[3][0] == 255:
        image = image.convert("RGB")  # an opaque figure (the usual white face): its colours alone are quantised
    thin = image.quantize(PALETTE, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    thin.save(buffer, format="PNG")
    return buffer.getvalue()


def png_bytes(fig: plt.Figure) -> bytes:
    """The figure as a palette PNG, the same bytes for the same drawing (the figure stays open)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return thin_png(buffer.getvalue())


def save(fig: plt.Figure, path: Path) -> Path:
    data = png_bytes(fig)
    plt.close(fig)
    write_bytes(path, data, make_folder=False)  # into a run folder or a page bundle, which exist
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


