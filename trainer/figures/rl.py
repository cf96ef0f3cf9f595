"""Figures of a reinforcement-learning run: learning curve, reward terms, diagnostics, scenario traces.

Built on style.py's style and deterministic PNG writer, so these figures hash the same on every rerun.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.colors
import matplotlib.pyplot as plt

from . import style

POLICY_STYLE = {  # label, colour, line style
    "agent": ("agent (greedy)", "#1f77b4", "-"),
    "buy_and_hold": ("buy and hold", "#ff7f0e", "--"),
    "flat": ("always flat", "#7f7f7f", ":"),
    "random": ("random policy", "#9467bd", "-."),
}
LONG_COLOR, SHORT_COLOR = "#2ca02c", "#d62728"
TERM_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"]


def panels(title: str, rows: int, height_ratios: list[float], xlabel: str):
    """A figure of `rows` stacked panels sharing the x axis, in the house style."""
    with plt.rc_context(style.STYLE):
        fig, axes = plt.subplots(rows, 1, sharex=True, figsize=(7.0, 5.6), gridspec_kw={"height_ratios": height_ratios})
    axes[0].set_title(title)
    axes[-1].set_xlabel(xlabel)
    return fig, axes


def learning_curve(rows: list[dict], baselines: dict[str, float], path: Path, title: str) -> Path:
    fig, ax = style.figure(title, "update", "episode return (sum of rewards)")
    steps, mean = style.series(rows, "return_mean")
    _, low = style.series(rows, "return_q10")
    _, high = style.series(rows, "return_q90")
    ax.fill_between(steps, low, high, color=style.TRAIN_COLOR, alpha=0.15, linewidth=0, label="training, 10th-90th percentile")
    ax.plot(steps, mean, color=style.TRAIN_COLOR, alpha=0.35, linewidth=0.8, label="training, mean per update")
    ax.plot(steps, style.ema(mean), color=style.TRAIN_COLOR, linewidth=1.6, label="training, mean (smoothed)")
    esteps, evals = style.series(rows, "eval_return")
    if evals:
        ax.plot(esteps, evals, "o-", color=style.VAL_COLOR, markersize=4, linewidth=1.2, label="evaluation scenarios, greedy agent")
    for name, value in baselines.items():
        label, color, dashes = POLICY_STYLE[name]
        ax.axhline(value, color=color, linestyle=dashes, linewidth=1.2, label=f"evaluation, {label}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
    return style.save(fig, path)


def reward_terms(rows: list[dict], terms: list[str], path: Path, title: str) -> Path:
    fig, ax = style.figure(title, "update", "weighted term, summed per episode (mean over batch)")
    for i, name in enumerate(terms):
        steps, values = style.series(rows, f"term_{name}")
        color = TERM_COLORS[i % len(TERM_COLORS)]
        ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(steps, style.ema(values), color=color, linewidth=1.6, label=f"{name} (smoothed)")
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.legend(loc="best", fontsize=8)
    return style.save(fig, path)


def diagnostics(rows: list[dict], path: Path, title: str, n_actions: int = 3) -> Path:
    fig, (top, bottom) = panels(title, 2, [1, 1], "update")
    steps, entropy = style.series(rows, "entropy")
    top.plot(steps, entropy, color=style.TRAIN_COLOR, linewidth=1.4, label="policy entropy")
    top.axhline(math.log(n_actions), color="#7f7f7f", linestyle=":", label=f"uniform (log {n_actions})")
    top.set_ylabel("entropy (nats)")
    top.legend(loc="upper right", fontsize=8)
    steps, value_loss = style.series(rows, "value_loss")
    bottom.plot(steps, value_loss, color=style.VAL_COLOR, linewidth=1.4, label="value loss")
    bottom.set_yscale("log")
    bottom.set_ylabel("value loss (log scale)")
    bottom.legend(loc="upper right", fontsize=8)
    return style.save(fig, path)


def _spans(positions: list[float]) -> list[tuple[int, int, float]]:
    """Runs of equal position as (first step, end step, position)."""
    spans, start = [], 0
    for t in range(1, len(positions) + 1):
        if t == len(positions) or positions[t] != positions[start]:
            spans.append((start, t, positions[start]))
            start = t
    return spans


def scenario_figure(doc: dict, path: Path, title: str) -> Path:
    """Price shaded by the agent's position, and cumulative net P&L of every policy, on one scenario path."""
    fig, (top, bottom) = panels(title, 2, [3, 2], "step")
    price = doc["price"]
    top.plot(range(len(price)), price, color="black", linewidth=1.2, label="price")
    for start, end, position in _spans(doc["policies"]["agent"]["position"]):
        if position:
            top.axvspan(start, end, color=LONG_COLOR if position > 0 else SHORT_COLOR, alpha=0.15 * min(abs(position), 2), linewidth=0)
    step = 0
    for regime, steps in doc["schedule"]:
        top.axvline(step, color="#7f7f7f", linestyle=":", linewidth=0.8)
        top.annotate(regime, (step + 1, 1.0), xycoords=("data", "axes fraction"), va="top", fontsize=8, color="#4d5560")
        step += steps
    top.fill_between([], [], color=LONG_COLOR, alpha=0.15, label="agent long")
    top.fill_between([], [], color=SHORT_COLOR, alpha=0.15, label="agent short")
    top.set_ylabel("price")
    top.legend(loc="best", fontsize=8)
    for name, trace in doc["policies"].items():
        label, color, dashes = POLICY_STYLE[name]
        bottom.plot(range(len(trace["equity"])), [100.0 * (e - 1.0) for e in trace["equity"]], color=color,
                    linestyle=dashes, linewidth=1.4, label=label)
    bottom.set_ylabel("cumulative net P&L (% of start)")
    bottom.legend(loc="best", fontsize=8)
    return style.save(fig, path)


def _position_color(level: float, largest: float) -> tuple:
    """Short red, flat grey, long green; a smaller position a lighter shade of its side."""
    if level == 0:
        return (0.62, 0.62, 0.62, 1.0)
    base = matplotlib.colors.to_rgb(LONG_COLOR if level > 0 else SHORT_COLOR)
    strength = 0.45 + 0.55 * abs(level) / (largest or 1.0)
    return (*(1 - strength * (1 - c) for c in base), 1.0)


def behaviour_figure(doc: dict, path: Path, title: str) -> Path:
    """One bar per market regime, cut into the shares of steps the agent spent at each position (scenarios.behaviour)."""
    regimes = list(doc["regimes"])
    actions = doc["actions"]
    largest = max((abs(a) for a in actions), default=1.0)
    fig, ax = style.figure(title, "share of steps in the regime (%)", "")
    fig.set_size_inches(7.0, 1.2 + 0.55 * max(len(regimes), 1))
    for i, action in enumerate(actions):
        shares = [100.0 * doc["regimes"][r]["shares"][i] for r in regimes]
        left = [sum(100.0 * doc["regimes"][r]["shares"][j] for j in range(i)) for r in regimes]
        name = "flat" if action == 0 else ("long" if action > 0 else "short") + ("" if abs(action) == 1 else f" {abs(action):g}")
        ax.barh(regimes, shares, left=left, color=_position_color(action, largest), edgecolor="white", label=name)
    for y, regime in enumerate(regimes):
        facts = doc["regimes"][regime]
        ax.annotate(f"position {facts['mean_position']:+.2f}, turnover {facts['turnover']:.2f}", (101, y), va="center",
                    fontsize=8, annotation_clip=False)
    ax.set_xlim(0, 100)
    ax.invert_yaxis()  # regimes top to bottom in the config's order
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=len(actions), fontsize=8,
              frameon=False)
    return style.save(fig, path)
