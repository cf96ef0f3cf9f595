"""Figures about several runs (an experiment's trend and recent curves, two runs compared), drawn with the
trainer's figure helpers (`trainer.figures.style`).

matplotlib is imported only when a figure is actually drawn, so a publish that changes nothing
(or a test that never draws) does not pay for it. PNGs through `viz.save` are byte-identical for
the same data, which keeps incremental publishes from rewriting unchanged figures.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from . import markup
from .runs import RunView

RECENT = 8
"""runs overlaid in the recent-curves figure"""
SPARK = 20
"""runs in a home-page sparkline"""
BASE_COLOR, HEAD_COLOR = "#4a78a8", "#e4572e"
"""the two runs of a comparison: blue for the base, red for the head"""
LOSS_SERIES = {"train_loss": "smoothed training loss", "val_loss": "validation loss"}
"""the series a comparison draws when the runs log them, as the run pages' loss figure does"""


def _viz():
    """The figure helpers, imported on the first draw: they import matplotlib, which costs a publish that
    draws nothing (most incremental ones) about a second. A lazy import for speed, not to dodge a circle."""
    import matplotlib.dates  # noqa: F401  (used through viz.matplotlib.dates)

    from trainer.figures import style as viz

    return viz


def prepare() -> None:
    """What a publish's figure worker (trainer.figures.parallel.FigureWorker) imports before it is sent a figure."""
    _viz()


PREFERRED = ("val_loss", "train_loss", "mean_return", "episode_return", "return", "reward")
"""per-step series to overlay when the key metric itself is not logged per step, best first"""


def curve_key(run: RunView) -> str | None:
    """The per-step series to overlay: the key metric when it is logged per step, else the first of
    PREFERRED that is, else any numeric series but the schedule."""
    rows = run.metric_rows()
    logged = {k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for name in (run.key_metric["name"], *PREFERRED):
        if name in logged:
            return name
    rest = sorted(logged - {"step", "lr", "time", "elapsed_s"})
    return rest[0] if rest else None


def _curve(viz, rows: list[dict], series: str) -> tuple[list[int], list[float]]:
    """One per-step series of a run; training loss is logged every step or interval, so it is smoothed as on run pages."""
    steps, values = viz.series(rows, series)
    return steps, viz.ema(values) if series == "train_loss" else values


def _log_scale(viz, ax, values: list[float]) -> bool:
    """A log scale with plain tick labels (2.90, not 2.9 x 10^0) when every value is positive, as losses are."""
    if not values or min(values) <= 0:
        return False
    ax.set_yscale("log")
    plain = viz.matplotlib.ticker.FormatStrFormatter("%.2f")
    ax.yaxis.set_major_formatter(plain)
    # Label minor ticks only within one decade; across several they crowd into a smear.
    ax.yaxis.set_minor_formatter(plain if max(values) / min(values) < 10 else viz.matplotlib.ticker.NullFormatter())
    return True


def draw_recent_curves(runs: list[RunView], series: str, path: Path, title: str, ylabel: str) -> Path:
    """Overlay one per-step series of the most recent runs (newest darkest)."""
    viz = _viz()
    fig, ax = viz.figure(title, "step", ylabel)
    shown = runs[:RECENT]
    cmap = viz.plt.get_cmap("viridis")
    for i, run in enumerate(reversed(shown)):
        steps, values = _curve(viz, run.metric_rows(), series)
        shade = cmap(0.85 * (1 - i / max(len(shown) - 1, 1)))
        ax.plot(steps, values, color=shade, linewidth=1.8 if run is shown[0] else 1.1,
                label=f"{run.started[:16].replace('T', ' ')} ({run.id[-7:]})")
    _log_scale(viz, ax, [v for run in shown for v in viz.series(run.metric_rows(), series)[1]])
    ax.legend(title="run started (UTC)", fontsize=8, loc="best")
    return viz.save(fig, path)


def pair_series(base: RunView, head: RunView) -> list[tuple[str, str]]:
    """What a comparison of two runs draws, as (series, label): training and validation loss where either run
    logs them, else the series `curve_key` picks for the head run (or the base run); empty when neither logs a curve."""
    logged = {k for run in (base, head) for row in run.metric_rows() for k in row}
    losses = [(k, label) for k, label in LOSS_SERIES.items() if k in logged]
    if losses:
        return losses
    key = curve_key(head) or curve_key(base)
    return [(key, key.replace("_", " "))] if key else []


def draw_pair(base: RunView, head: RunView, series: list[tuple[str, str]], path: Path, title: str) -> Path:
    """Both runs' curves in one figure: each series of `pair_series` in the run's colour, validation as points."""
    viz = _viz()
    fig, ax = viz.figure(title, "step", "")
    every = []
    for run, role, color in ((base, "base", BASE_COLOR), (head, "head", HEAD_COLOR)):
        rows = run.metric_rows()
        for key, label in series:
            steps, values = _curve(viz, rows, key)
            style = {"marker": "o", "linestyle": "--", "markersize": 4, "linewidth": 1.0} if key == "val_loss" else {"linewidth": 1.6}
            ax.plot(steps, values, color=color, label=f"{role}: {label}", **style)
            every += values
    scale = ", log scale" if _log_scale(viz, ax, every) else ""
    losses = all(k in LOSS_SERIES for k, _ in series)
    ax.set_ylabel(f"cross-entropy loss (nats{scale})" if losses else f"{series[0][1]}{' (log scale)' if scale else ''}")
    ax.legend(loc="best", fontsize=8)
    return viz.save(fig, path)


def draw_comparison(base: RunView, head: RunView, path: Path, title: str) -> None:
    """A comparison page's figure: `draw_pair` of what `pair_series` picks; no file when neither run logs a curve."""
    series = pair_series(base, head)
    if series:
        draw_pair(base, head, series, path, title)
    else:
        path.unlink(missing_ok=True)


def _dates(started: list[str]) -> list[datetime]:
    return [datetime.fromisoformat(s).replace(tzinfo=None) for s in started]


def history_points(runs: list[RunView]) -> list[tuple[str, str, object]]:
    """What the metric history draws of each run, newest first: (started, status, key metric value). Plain tuples,
    not the runs: the figure is drawn in another process, and thousands of views would be pickled to get there."""
    return [(r.started, r.status, r.key_value) for r in runs]


def draw_metric_history(points: list[tuple[str, str, object]], path: Path, title: str, label: str, goal: str) -> Path:
    """The key metric of every finished run over time (`history_points`), with the best value so far as a step line."""
    viz = _viz()
    ok = [(started, value) for started, status, value in reversed(points) if status == "ok" and isinstance(value, (int, float))]
    fig, ax = viz.figure(title, "run started (UTC)", f"{label} ({'lower' if goal == 'min' else 'higher'} is better)")
    dates, values = _dates([s for s, _ in ok]), [v for _, v in ok]
    best, acc = [], None
    for v in values:
        acc = v if acc is None else min(acc, v) if goal == "min" else max(acc, v)
        best.append(acc)
    ax.plot(dates, values, "o", color=viz.VAL_COLOR, markersize=4, alpha=0.8, label=f"{label} of each run")
    ax.step(dates, best, where="post", color=viz.TRAIN_COLOR, linewidth=1.4, label="best so far")
    failed = [started for started, status, _ in points if status != "ok"]
    if failed:
        ax.plot(_dates(failed), [min(values or [0])] * len(failed), "x", color="#555555", label=f"not ok ({len(failed)})")
    locator = viz.matplotlib.dates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(viz.matplotlib.dates.ConciseDateFormatter(locator))
    ax.legend(loc="best", fontsize=8)
    return viz.save(fig, path)


def draw_sparkline(values: list[float], path: Path) -> Path:
    """A word-sized trend line of the last runs' key metric; the alt text carries the numbers."""
    viz = _viz()
    with viz.plt.rc_context({"svg.hashsalt": "trainbook"}):
        fig, ax = viz.plt.subplots(figsize=(2.2, 0.55))
    ax.plot(range(len(values)), values, color=viz.TRAIN_COLOR, linewidth=1.4)
    ax.plot([len(values) - 1], [values[-1]], "o", color=viz.VAL_COLOR, markersize=3)
    ax.set_axis_off()
    fig.subplots_adjust(0.02, 0.08, 0.98, 0.92)
    return viz.save(fig, path)


def sparkline_alt(values: list[float], label: str) -> str:
    if len(values) == 1:
        return f"{label} of the one finished run: {markup.number(values[0])}"
    return (f"{label} over the last {len(values)} finished runs, from {markup.number(values[0])} to {markup.number(values[-1])} "
            f"(lowest {markup.number(min(values))}, highest {markup.number(max(values))})")
