"""A sweep's figures: the objective by trial with the best so far, parallel coordinates, one slice per
parameter, and the parameters' importances. Drawn from the sweep's record summary (the trial rows), so the
figures show exactly what the sealed record holds. Matplotlib only.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from ..tracking import layout
from .style import STYLE, VAL_COLOR, figure, save

OBJECTIVE, PARALLEL, SLICES, IMPORTANCE = layout.SWEEP_FIGURES
PRUNED_COLOR, BEST_COLOR = "#9e9e9e", "#d62728"


def _done(trials: list[dict]) -> list[dict]:
    return [t for t in trials if t.get("value") is not None and math.isfinite(t["value"])]


def objective_figure(trials: list[dict], metric: str, goal: str, path: Path, title: str) -> Path:
    fig, ax = figure(title, "trial", metric.replace("_", " "))
    done = _done(trials)
    ax.scatter([t["number"] for t in done], [t["value"] for t in done], color="#1f77b4", label="finished trial", zorder=3)
    pruned = [(t["number"], list(t["intermediate"].values())[-1]) for t in trials if t["status"] == "pruned" and t.get("intermediate")]
    if pruned:
        ax.scatter(*zip(*pruned), marker="x", color=PRUNED_COLOR, label="pruned (last reported value)", zorder=3)
    best, xs, ys = None, [], []
    for t in sorted(done, key=lambda t: t["number"]):
        if best is None or (t["value"] < best if goal == "min" else t["value"] > best):
            best = t["value"]
        xs.append(t["number"])
        ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color=BEST_COLOR, label="best so far")
    ax.legend(loc="best")
    return save(fig, path)


def _axis_value(trial: dict, key: str, spec: dict) -> float | None:
    """A parameter's value on a parallel-coordinates axis from 0 to 1 (log ranges on a log scale, choices by position)."""
    value = trial["params"].get(key)
    if value is None:
        return None
    if "choices" in spec:
        choices = spec["choices"]
        return choices.index(value) / max(len(choices) - 1, 1) if value in choices else None
    low, high = spec["low"], spec["high"]
    if spec.get("log"):
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def parallel_figure(trials: list[dict], parameters: dict, metric: str, goal: str, path: Path, title: str) -> Path:
    keys = list(parameters)
    done = _done(trials)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(5.0, 1.8 * (len(keys) + 1)), 4.2))
    ax.set_title(title)
    values = [t["value"] for t in done]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = (high - low) or 1.0
    cmap = matplotlib.colormaps["viridis"]

    def badness(t: dict) -> float:  # 0 for the best trial (darkest), 1 for the worst
        share = (t["value"] - low) / span
        return share if goal == "min" else 1 - share

    for t in sorted(done, key=badness, reverse=True):  # the best drawn last, on top
        ys = [_axis_value(t, k, parameters[k]) for k in keys] + [(t["value"] - low) / span]
        ax.plot(range(len(ys)), ys, color=cmap(0.9 * badness(t)), alpha=0.85, linewidth=1.5)
    ax.set_xticks(range(len(keys) + 1), [*keys, metric.replace("_", " ")], rotation=15)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("position in range (log ranges: log scale; choices: in order)")
    for i, k in enumerate(keys):
        spec = parameters[k]
        ends = (spec["choices"][0], spec["choices"][-1]) if "choices" in spec else (spec["low"], spec["high"])
        ax.annotate(f"{ends[0]:g}" if isinstance(ends[0], float) else str(ends[0]), (i, 0), textcoords="offset points",
                    xytext=(4, -12), fontsize=8)
        ax.annotate(f"{ends[1]:g}" if isinstance(ends[1], float) else str(ends[1]), (i, 1), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    if values:
        ax.annotate(f"{low:.4g}", (len(keys), 0), textcoords="offset points", xytext=(4, -12), fontsize=8)
        ax.annotate(f"{high:.4g}", (len(keys), 1), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.grid(axis="y", alpha=0.0)
    ax.grid(axis="x", alpha=0.6)
    return save(fig, path)


def slices_figure(trials: list[dict], parameters: dict, metric: str, path: Path, title: str) -> Path:
    keys, done = list(parameters), _done(trials)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(keys), figsize=(max(4.0, 3.4 * len(keys)), 3.6), sharey=True, squeeze=False)
    fig.suptitle(title)
    for ax, key in zip(axes[0], keys):
        spec = parameters[key]
        xs = [t["params"][key] for t in done]
        if "choices" in spec:
            labels = [str(c) for c in spec["choices"]]
            ax.scatter([labels.index(str(x)) for x in xs], [t["value"] for t in done], color="#1f77b4")
            ax.set_xticks(range(len(labels)), labels)
        else:
            ax.scatter(xs, [t["value"] for t in done], color="#1f77b4")
            if spec.get("log"):
                ax.set_xscale("log")
        ax.set_xlabel(key)
    axes[0][0].set_ylabel(metric.replace("_", " "))
    return save(fig, path)


def importance_figure(importances: dict[str, float], path: Path, title: str) -> Path:
    fig, ax = figure(title, "share of the objective's variance (fANOVA)", "parameter")
    names = sorted(importances, key=importances.get)
    ax.barh(names, [importances[n] for n in names], color=VAL_COLOR)
    ax.set_xlim(0, 1)
    return save(fig, path)


def draw(summary: dict, metric: str, goal: str, folder: Path, name: str) -> list[tuple[str, str, str]]:
    """Every figure the summary supports, written into `folder`; (file, title, caption) for each."""
    trials, parameters, label = summary["trials"], summary["parameters"], metric.replace("_", " ")
    drawn = []
    if not _done(trials):
        return drawn
    objective_figure(trials, metric, goal, folder / OBJECTIVE, f"{name}: {label} by trial")
    drawn.append((OBJECTIVE, "Objective by trial", f"Each finished trial's {label} (dots), pruned trials at their last reported "
                  f"value (crosses), and the best so far (line): how quickly the search found its best."))
    parallel_figure(trials, parameters, metric, goal, folder / PARALLEL, f"{name}: parallel coordinates")
    drawn.append((PARALLEL, "Parallel coordinates", f"One line per finished trial across every parameter's range and the "
                  f"{label}; darker lines are better. Lines that bunch at one end of an axis show where good trials sit."))
    slices_figure(trials, parameters, metric, folder / SLICES, f"{name}: {label} by parameter")
    drawn.append((SLICES, "Slices", f"The {label} of every finished trial against each parameter alone: a clear trend "
                  "means that parameter matters on its own."))
    if summary.get("importances"):
        importance_figure(summary["importances"], folder / IMPORTANCE, f"{name}: parameter importance")
        drawn.append((IMPORTANCE, "Parameter importance", "How much of the objective's variation over the finished trials "
                      "each parameter explains (Optuna's fANOVA evaluator); with few trials, a rough guide."))
    return drawn
