"""The language-model loop's figures (loss, learning rate, gradient norm, throughput, embeddings),
drawn in figures/style.py's style into the run folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import TEST_COLOR, TRAIN_COLOR, VAL_COLOR, ema, figure, loss_curves, matplotlib, save, series

def loss_figure(rows: list[dict], path: Path, title: str, unit: str = "nats") -> Path:
    fig, ax = figure(title, "step", f"cross-entropy loss ({unit}, log scale)")
    loss_curves(ax, rows)
    ax.set_yscale("log")
    plain = matplotlib.ticker.FormatStrFormatter("%.2f")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.legend(loc="upper right")
    return save(fig, path)


def logged_figure(rows: list[dict], keys: list[str], path: Path, title: str, ylabel: str) -> Path:
    """One line per logged key over the steps: what a tracked script logged, drawn like the engines' figures."""
    fig, ax = figure(title, "step", ylabel)
    colors = [TRAIN_COLOR, VAL_COLOR, TEST_COLOR, "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
    for key, color in zip(keys, colors):
        steps, values = series(rows, key)
        dense = len(steps) > 50
        ax.plot(steps, values, "-" if dense else "o-", color=color, markersize=3, linewidth=1.4, label=key)
    ax.legend(loc="best")
    return save(fig, path)


def lr_figure(rows: list[dict], path: Path, title: str = "Learning-rate schedule") -> Path:
    fig, ax = figure(title, "step", "learning rate")
    steps, lr = series(rows, "lr")
    ax.plot(steps, lr, color=TRAIN_COLOR, linewidth=1.6, label="learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.legend(loc="upper right")
    return save(fig, path)


def project_2d(weights: np.ndarray) -> tuple[np.ndarray, str]:
    """Rows of `weights` in 2-D: as they are if 2-D already, else their first two principal components."""
    if weights.shape[1] <= 2:
        padded = np.zeros((weights.shape[0], 2))
        padded[:, : weights.shape[1]] = weights
        return padded, "embedding dimensions"
    centered = weights - weights.mean(axis=0)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    # SVD fixes a component only up to sign; make the largest loading positive so reruns agree.
    signs = np.sign(vt[:2][np.arange(2), np.abs(vt[:2]).argmax(axis=1)])
    explained = (s[:2] ** 2).sum() / max((s**2).sum(), 1e-12)
    return centered @ (vt[:2].T * signs), f"PCA, {explained:.0%} of variance"


def embedding_figure(weights: np.ndarray, labels: list[str], path: Path, title: str) -> Path:
    points, how = project_2d(np.asarray(weights, dtype=np.float64))
    fig, ax = figure(f"{title} ({how})", "component 1", "component 2")
    fig.set_size_inches(6.5, 6.0)
    ax.scatter(points[:, 0], points[:, 1], s=160, color="#c6dbef", edgecolor="#4a78a8", zorder=2)
    for (x, y), label in zip(points, labels):
        ax.annotate(label, (x, y), ha="center", va="center", fontsize=9, zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    return save(fig, path)


def grad_norm_figure(rows: list[dict], path: Path, title: str, clip: float = 0.0) -> Path:
    fig, ax = figure(title, "step", "gradient L2 norm (log scale)")
    steps, norms = series(rows, "grad_norm")
    ax.plot(steps, norms, color=TRAIN_COLOR, alpha=0.25, linewidth=0.8, label="per logged step")
    ax.plot(steps, ema(norms), color=TRAIN_COLOR, linewidth=1.6, label="smoothed")
    if clip > 0:
        ax.axhline(clip, color=VAL_COLOR, linestyle="--", linewidth=1.0, label=f"clipping threshold ({clip:g})")
    ax.set_yscale("log")
    ax.legend(loc="upper right")
    return save(fig, path)


def throughput_figure(rows: list[dict], path: Path, title: str) -> Path:
    steps, rate = series(rows, "tokens_per_s")
    median = float(np.median(rate)) if rate else 0.0
    fig, ax = figure(f"{title} (median {median:,.0f} tokens/s)", "step", "training tokens per second")
    ax.plot(steps, rate, color=TRAIN_COLOR, linewidth=1.0, label="tokens/s per logged step")
    ax.axhline(median, color=TEST_COLOR, linestyle="--", linewidth=1.0, label="median")
    ax.set_ylim(bottom=0, top=max(rate, default=1) * 1.25)  # headroom above the data for the legend
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(loc="upper right", ncols=2)
    return save(fig, path)


def token_embedding_figure(weights: np.ndarray, labels: list[str], path: Path, title: str, labelled: int = 40) -> Path:
    """Rows of `weights` (most frequent token first) in 2-D; the first `labelled` are named."""
    points, how = project_2d(np.asarray(weights, dtype=np.float64))
    fig, ax = figure(f"{title} ({how})", "component 1", "component 2")
    fig.set_size_inches(7.0, 6.5)
    ax.scatter(points[:, 0], points[:, 1], s=10, color="#9ecae1", edgecolor="none", zorder=2,
               label=f"{len(points)} most frequent tokens")
    top = points[:labelled]
    ax.scatter(top[:, 0], top[:, 1], s=22, color="#3182bd", zorder=3, label=f"{len(top)} most frequent (labelled)")
    for (x, y), label in zip(top, labels[:labelled]):
        ax.annotate(label, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8, zorder=4)
    ax.legend(loc="best", fontsize=8)
    return save(fig, path)
