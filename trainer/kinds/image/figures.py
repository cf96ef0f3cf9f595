"""Figures of an image-classification run, drawn in the house style (trainer.figures.style): deterministic PNG bytes."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from trainer.figures import style

LOSS, ACCURACY, CONFUSION, MISCLASSIFIED, FILTERS = "loss.png", "accuracy.png", "confusion.png", "misclassified.png", "filters.png"
GRID_COLUMNS = 8


def losses(path: Path, title: str, rows: list[dict]) -> Path:
    fig, ax = style.figure(title, "step", "cross-entropy (nats per image, log scale)")
    style.loss_curves(ax, rows, "training minibatch (shifted images)", "training (smoothed)", "validation, after each epoch")
    ax.set_yscale("log")
    ax.legend(loc="best", fontsize=8)
    return style.save(fig, path)


def accuracy(path: Path, title: str, rows: list[dict]) -> Path:
    fig, ax = style.figure(title, "epoch", "validation accuracy (share of images)")
    points = [(r["epoch"], r["val_accuracy"]) for r in rows if "val_accuracy" in r]
    ax.plot([e for e, _ in points], [a for _, a in points], "o-", color=style.VAL_COLOR, markersize=3, linewidth=1.2)
    ax.set_ylim(top=1.0)
    return style.save(fig, path)


def confusion(path: Path, title: str, matrix: np.ndarray, classes: list[str]) -> Path:
    n = len(classes)
    side = min(9.0, 2.5 + 0.45 * n)
    with plt.rc_context({**style.STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(side + 1.2, side))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, label="test images", fraction=0.046, pad=0.04)
    ax.set_title(title)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_xticks(range(n), classes, rotation=90 if max(map(len, classes)) > 3 else 0)
    ax.set_yticks(range(n), classes)
    if n <= 30:  # the counts stay readable up to about this many classes
        threshold = matrix.max() / 2
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color="white" if count > threshold else "black")
    return style.save(fig, path)


def _grid(count: int, title: str, cell: float = 1.0):
    columns = min(GRID_COLUMNS, max(count, 1))
    rows = max(1, math.ceil(count / columns))
    with plt.rc_context({**style.STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(rows, columns, figsize=(cell * columns + 0.4, cell * rows + 0.8), squeeze=False)
    fig.suptitle(title)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes.flat


def _shown(pixels: np.ndarray) -> tuple[np.ndarray, str | None]:
    """[c, h, w] in [0, 1] as imshow wants it: a grey image with its colour map, or an RGB image."""
    return (pixels[0], "gray_r") if pixels.shape[0] == 1 else (pixels.transpose(1, 2, 0), None)


def misclassified(path: Path, title: str, pixels: np.ndarray, labels: list[tuple[str, str, float]], total: int) -> Path:
    """Each image with 'true -> predicted (probability)' above it; `total` is how many were wrong in all."""
    fig, axes = _grid(len(labels), title if total == len(labels) else f"{title} ({len(labels)} of {total})", cell=1.15)
    for ax, image, (truth, predicted, p) in zip(axes, pixels, labels):
        shown, cmap = _shown(image)
        ax.imshow(shown, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{truth} → {predicted}\n({p:.2f})", fontsize=8)
    if not labels:
        fig.text(0.5, 0.4, "every test image was classified correctly", ha="center")
    return style.save(fig, path)


def filters(path: Path, title: str, weights: np.ndarray) -> Path:
    """First-layer filters [out, in, k, k]: one grey-input filter on a red-blue scale centred on 0, or an RGB filter
    scaled into [0, 1]."""
    fig, axes = _grid(len(weights), title, cell=0.9)
    for ax, w in zip(axes, weights):
        if w.shape[0] == 1:
            limit = float(np.abs(w).max()) or 1.0
            ax.imshow(w[0], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        else:
            low, high = float(w.min()), float(w.max())
            ax.imshow(((w - low) / ((high - low) or 1.0)).transpose(1, 2, 0)[..., :3], interpolation="nearest")
    return style.save(fig, path)
