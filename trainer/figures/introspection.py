"""Introspection figures, drawn from the report the recorder writes (`introspection.json`).

Each figure function returns False when the network has nothing for it (e.g. no BatchNorm), and
each caption is one line saying what a healthy network looks like in it.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from . import style

UPDATE_GUIDE = -3.0  # log10 of the customary update-to-data ratio of about 1e-3
RESIDUAL = "residual"
"""the kind of a recorded layer that is a transformer block's output (the residual stream), not a nonlinearity"""


def _panels(title: str, *labels: tuple[str, str]):
    with plt.rc_context(style.STYLE):
        fig, axes = plt.subplots(1, len(labels), figsize=(5.2 * len(labels), 4.2), squeeze=False)
    fig.suptitle(title)
    for ax, (xlabel, ylabel) in zip(axes[0], labels):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    return fig, list(axes[0])


def _share_line(ax, hist: dict, color: str, dashed: bool = False, label: str | None = None) -> None:
    """A histogram as a line of each bin's share of all values, in percent."""
    edges, counts = hist["edges"], hist["counts"]
    total = max(sum(counts), 1)
    centres = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
    ax.plot(centres, [100 * c / total for c in counts], "--" if dashed else "-", color=color,
            linewidth=1.1 if dashed else 1.6, alpha=0.7 if dashed else 1.0, label=label)


def activations(report: dict, path: Path, title: str) -> bool:
    """The nonlinearities' outputs (the residual stream has its own figure, on another scale)."""
    layers = {name: layer for name, layer in report["layers"].items() if layer["kind"] != RESIDUAL}
    if not layers or not report["histograms"]:
        return False
    first, last = report["histograms"][0], report["histograms"][-1]
    fig, ax = style.figure(title, "activation value", "share of values per bin (%)")
    if first is not last:
        ax.set_title(f"dashed: step {first['step']}, solid: step {last['step']}", fontsize=9)
        fig.suptitle(title)
    for i, (name, layer) in enumerate(layers.items()):
        if first is not last and name in first["layers"]:
            _share_line(ax, first["layers"][name]["values"], f"C{i}", dashed=True)
        if name in last["layers"]:
            _share_line(ax, last["layers"][name]["values"], f"C{i}", label=f"{name} ({layer['kind']})")
    ax.legend(loc="upper center", fontsize=8)
    style.save(fig, path)
    return True


def gradients(report: dict, path: Path, title: str) -> bool:
    matrices = [name for name, p in report["params"].items() if len(p["shape"]) >= 2]
    if not report["histograms"] or (not report["layers"] and not matrices):
        return False
    last = report["histograms"][-1]
    fig, (left, right) = _panels(f"{title} (step {last['step']})", ("gradient of the layer's output", "share of values per bin (%)"),
                                 ("gradient of the weight", "share of values per bin (%)"))
    left.set_title("layer outputs", fontsize=10)
    right.set_title("weight matrices", fontsize=10)
    for i, name in enumerate(report["layers"]):
        grads = last["layers"].get(name, {}).get("grads")
        if grads:
            _share_line(left, grads, f"C{i}", label=name)
    for i, name in enumerate(matrices):
        if name in last["params"]:
            _share_line(right, last["params"][name]["grads"], f"C{i}", label=name)
    for ax in (left, right):
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
        if ax.lines:
            ax.legend(loc="upper right", fontsize=7)
    style.save(fig, path)
    return True


def update_ratio(report: dict, path: Path, title: str) -> bool:
    matrices = [name for name, p in report["params"].items() if len(p["shape"]) >= 2]
    if not matrices:
        return False
    fig, ax = style.figure(title, "step", "log10(update std / parameter std)")
    for i, name in enumerate(matrices):
        points = [(s["step"], s["params"][name].get("update_to_data")) for s in report["snapshots"]]
        points = [(step, r) for step, r in points if r is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", color=f"C{i}", markersize=3, linewidth=1.4, label=name)
    ax.axhline(UPDATE_GUIDE, color="black", linestyle="--", linewidth=1, label="guide: 1e-3")
    ax.legend(loc="upper right", fontsize=8)
    style.save(fig, path)
    return True


def saturation(report: dict, path: Path, title: str) -> bool:
    tanh = [name for name, layer in report["layers"].items() if layer["kind"] == "tanh"]
    if not tanh:
        return False
    fig, ax = style.figure(title, "step", "share (%)")
    steps = [s["step"] for s in report["snapshots"]]
    for i, name in enumerate(tanh):
        layers = [s["layers"].get(name, {}) for s in report["snapshots"]]
        ax.plot(steps, [100 * (layer.get("saturated") or 0) for layer in layers], "o-", color=f"C{i}", markersize=3,
                label=f"{name}: outputs with |tanh| > {report['saturation']:g}")
        ax.plot(steps, [100 * (layer.get("dead") or 0) for layer in layers], ":", color=f"C{i}", linewidth=1.6,
                label=f"{name}: dead units (saturated for the whole batch)")
    highest = max([100 * (s["layers"].get(n, {}).get(k) or 0) for s in report["snapshots"] for n in tanh for k in ("saturated", "dead")])
    ax.set_ylim(0, 1.6 * max(highest, 1.0))  # headroom for the legend above the lines
    ax.legend(loc="upper right", fontsize=8)
    style.save(fig, path)
    return True


def residual(report: dict, path: Path, title: str) -> bool:
    blocks = [name for name, layer in report["layers"].items() if layer["kind"] == RESIDUAL
              and any(name in s["layers"] for s in report["snapshots"])]  # a compiled model runs no hooks
    if not blocks:
        return False
    fig, (left, right) = _panels(title, ("step", "std of the residual stream"), ("step", "std of its gradient"))
    left.set_title("after each block", fontsize=10)
    right.set_title("gradient of the loss with respect to it", fontsize=10)
    for i, name in enumerate(blocks):
        for ax, key in ((left, "std"), (right, "grad_std")):
            points = [(s["step"], s["layers"][name].get(key)) for s in report["snapshots"] if name in s["layers"]]
            points = [(step, v) for step, v in points if v]
            ax.plot([p[0] for p in points], [p[1] for p in points], "o-", color=f"C{i}", markersize=3, linewidth=1.4, label=name)
    right.set_yscale("log")
    for ax in (left, right):
        if ax.lines:
            ax.legend(loc="best", fontsize=8)
    style.save(fig, path)
    return True


def attention_entropy(report: dict, path: Path, title: str) -> bool:
    attention = report.get("attention") or {}
    layers = list((attention.get("layers") or {}))
    snaps = [s for s in report["snapshots"] if s.get("attention")]
    if not layers or not snaps:
        return False
    uniform, last = attention.get("uniform_entropy"), snaps[-1]
    fig, (left, right) = _panels(title, ("head", "block"), ("step", "entropy (nats)"))
    grid = [[v if v is not None else float("nan") for v in last["attention"].get(name, [])] for name in layers]
    image = left.imshow(grid, cmap="viridis", vmin=0, vmax=uniform or None, aspect="auto")
    left.set_title(f"per head at step {last['step']}", fontsize=10)
    left.set_xticks(range(max(len(row) for row in grid)))
    left.set_yticks(range(len(layers)), layers, fontsize=8)
    left.grid(False)
    fig.colorbar(image, ax=left, label="nats")
    right.set_title("each block: mean over heads, band from lowest to highest", fontsize=10)
    steps = [s["step"] for s in snaps]
    for i, name in enumerate(layers):
        heads = [[v for v in s["attention"].get(name, []) if v is not None] or [float("nan")] for s in snaps]
        right.plot(steps, [sum(h) / len(h) for h in heads], "o-", color=f"C{i}", markersize=3, linewidth=1.4, label=name)
        right.fill_between(steps, [min(h) for h in heads], [max(h) for h in heads], color=f"C{i}", alpha=0.2)
    if uniform:
        right.axhline(uniform, color="black", linestyle="--", linewidth=1, label="evenly over the visible tokens")
    right.set_ylim(bottom=0)
    right.legend(loc="best", fontsize=8)
    style.save(fig, path)
    return True


def batchnorm(report: dict, path: Path, title: str) -> bool:
    layers = report.get("batchnorm_channels", {}).get("layers", {})
    if not layers:
        return False
    step = report["batchnorm_channels"]["step"]
    fig, ax = style.figure(title, f"statistic of the batch at step {step}", "running estimate")
    for i, (name, ch) in enumerate(layers.items()):
        ax.scatter(ch["batch_mean"], ch["running_mean"], s=10, color=f"C{i}", alpha=0.7, label=f"{name}: channel means")
        ax.scatter(ch["batch_var"], ch["running_var"], s=12, marker="^", color=f"C{i + 1}", alpha=0.7,
                   label=f"{name}: channel variances")
    low, high = min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])
    ax.plot([low, high], [low, high], "--", color="black", linewidth=1, label="running = batch")
    ax.legend(loc="upper left", fontsize=8)
    style.save(fig, path)
    return True


FIGURES = [
    ("activations.png", "Activations per layer", activations,
     "Distribution of each nonlinearity's outputs at the first recorded step (dashed) and the last (solid). "
     "Healthy tanh: spread across (-1, 1) with only small peaks at ±1; most of the mass at ±1 means saturated units "
     "that pass almost no gradient."),
    ("gradients.png", "Gradients per layer", gradients,
     "Gradients of each layer's output (left) and of each weight matrix (right) at the last recorded step. "
     "Healthy: similar widths across layers; one much wider or narrower than the rest means gradients explode or vanish there."),
    ("update_ratio.png", "Update-to-data ratio", update_ratio,
     "log10 of each weight matrix's step size relative to its values (std of the update / std of the parameter). "
     "Healthy: near -3 (dashed guide); far below, the layer learns too slowly; far above, training is unstable."),
    ("saturation.png", "Saturation over training", saturation,
     "Share of tanh outputs in the flat tails (solid) and of units saturated for every example of the batch, i.e. dead "
     "(dotted). Healthy: a few percent saturated, no dead units, roughly flat."),
    ("residual.png", "Residual stream per block", residual,
     "Standard deviation of the residual stream after each transformer block (left) and of the loss's gradient with "
     "respect to it (right, log scale), at each recorded step. Healthy: both stay within a small factor across blocks; "
     "a stream that grows block after block, or a gradient that shrinks towards the first block, is a depth problem."),
    ("attention_entropy.png", "Attention entropy per head", attention_entropy,
     "How spread out each head's attention is: the entropy of its weights over the tokens it may see, in nats, averaged "
     "over the batch and every position (dashed: attention spread evenly, where heads start). Healthy: as training goes "
     "on, some heads fall well below the line (they pick out particular tokens); heads that all stay on it have found "
     "nothing to attend to, and a head at 0 everywhere only ever looks at one token."),
    ("batchnorm.png", "BatchNorm running statistics", batchnorm,
     "Each BatchNorm channel's running mean and variance (what evaluation uses) against the statistics of the last "
     "recorded batch. Healthy: points along the diagonal, scattered a little by the small batch; an offset means the "
     "running estimates lag behind the weights."),
]
"""(file, title, draw function, caption) of every introspection figure, in page order."""
