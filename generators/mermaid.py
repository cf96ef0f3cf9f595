"""Two runs' curves as a Mermaid `xychart-beta` block: a figure GitHub draws itself in a comment, so the
pull-request report shows curves without hosting an image anywhere (and without a token to upload one).

The block is built from numbers and a small alphabet only: every text (a title from an experiment name, an
axis label from a metric key or a record's label) keeps letters, digits and plain punctuation, so nothing a
run recorded can close the block, open another, or inject markup. Mermaid's xychart draws every line over
the same x positions and has no gaps, so both runs are put on one grid of steps: the steps both logged when
they logged the same few, else up to POINTS bins over the steps both runs cover (each bin the mean of a run's
points in it, or its line's value there when it has none), so a noisy training curve does not alias.
"""
from __future__ import annotations

import math
import re

from .figures import BASE_COLOR, HEAD_COLOR, curve_key
from .runs import RunView

POINTS = 40
"""the most x positions a chart has: enough for a curve's shape, few enough for a comment"""
FENCE = "```"
_TEXT = re.compile(r"[^A-Za-z0-9 _.,:;()/%+=<>-]+")
_DIGITS = 6


def text(value, limit: int = 80) -> str:
    """A string for inside a Mermaid double-quoted label: only a safe alphabet, one line, no quotes."""
    cleaned = " ".join(_TEXT.sub(" ", str(value)).split())
    return cleaned[:limit].rstrip() or "-"


def number(value: float) -> str:
    """A finite number written without an exponent (Mermaid's grammar reads plain decimals only)."""
    if value == 0:
        return "0"
    decimals = max(0, _DIGITS - 1 - math.floor(math.log10(abs(value))))
    written = f"{value:.{decimals}f}"
    return written.rstrip("0").rstrip(".") if "." in written else written


def points(run: RunView, key: str) -> list[tuple[int, float]]:
    """The run's (step, value) rows of one series, finite numbers only, in step order."""
    found = []
    for row in run.metric_rows():
        step, value = row.get("step"), row.get(key)
        if isinstance(step, int) and not isinstance(step, bool) and isinstance(value, (int, float)) \
                and not isinstance(value, bool) and math.isfinite(value):
            found.append((step, float(value)))
    return sorted(found)


def _at(curve: list[tuple[int, float]], x: float) -> float:
    """The curve's value at step x, by linear interpolation (held flat beyond its ends)."""
    if x <= curve[0][0]:
        return curve[0][1]
    for (s0, v0), (s1, v1) in zip(curve, curve[1:]):
        if x <= s1:
            return v0 if s1 == s0 else v0 + (v1 - v0) * (x - s0) / (s1 - s0)
    return curve[-1][1]


def grid(curves: list[list[tuple[int, float]]]) -> tuple[list[int], list[list[float]], str]:
    """Common x positions, each curve's values on them, and how they were taken (for the caption)."""
    steps = [[s for s, _ in c] for c in curves]
    if all(s == steps[0] for s in steps) and len(steps[0]) <= POINTS:
        return steps[0], [[v for _, v in c] for c in curves], "at every logged step"
    lo, hi = max(c[0][0] for c in curves), min(c[-1][0] for c in curves)
    if hi <= lo:
        lo, hi = min(c[0][0] for c in curves), max(c[-1][0] for c in curves)
    bins = min(POINTS, max(2, max(len(c) for c in curves)))
    width = (hi - lo) / bins
    edges = [lo + width * i for i in range(bins + 1)]
    xs = [round((a + b) / 2) for a, b in zip(edges, edges[1:])]
    values = []
    for c in curves:
        line = []
        for i, (a, b) in enumerate(zip(edges, edges[1:])):
            inside = [v for s, v in c if a <= s < b or (i == bins - 1 and s == b)]
            line.append(sum(inside) / len(inside) if inside else _at(c, (a + b) / 2))
        values.append(line)
    return xs, values, f"over steps {lo:,}-{hi:,} in {bins} equal bins (each the mean of a run's points in it)"


def series(base: RunView | None, head: RunView) -> str | None:
    """The per-step series a comparison of the two runs draws: the key metric if either logs it, else `curve_key`'s pick."""
    return curve_key(head) or (curve_key(base) if base else None)


def chart(base: RunView | None, head: RunView, title: str) -> tuple[str, str] | None:
    """(the fenced mermaid block, a caption line's facts) for the two runs' curve of one series; None without one."""
    key = series(base, head)
    if key is None:
        return None
    runs = [(r, points(r, key)) for r in ((base, head) if base and base.id != head.id else (head,))]
    runs = [(r, p) for r, p in runs if p]
    if not runs:
        return None
    xs, values, how = grid([p for _, p in runs])
    low, high = min(min(v) for v in values), max(max(v) for v in values)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    colours = ", ".join(BASE_COLOR if r is base else HEAD_COLOR for r, _ in runs)
    label = key if key != (head.key_metric or {}).get("name") else head.key_metric.get("label", key)
    unit = (head.key_metric or {}).get("unit") if key == (head.key_metric or {}).get("name") else None
    lines = [
        FENCE + "mermaid",
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + colours + '"}}}}%%',
        "xychart-beta",
        f'    title "{text(title)}"',
        f'    x-axis "step" [{", ".join(str(x) for x in xs)}]',
        f'    y-axis "{text(label + (f" ({unit})" if unit else ""))}" {number(low - pad)} --> {number(high + pad)}',
        *(f"    line [{', '.join(number(v) for v in line)}]" for line in values),
        FENCE,
    ]
    shown = " and ".join(("blue: base" if r is base else "red: head") for r, _ in runs)
    return "\n".join(lines) + "\n", f"{text(label)} per step ({shown}), {how}"
