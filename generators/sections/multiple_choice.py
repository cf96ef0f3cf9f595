"""Run-page section: the multiple-choice completion evaluation (HellaSwag format), from `choices.json`."""
from __future__ import annotations

from trainer.tracking import layout

from .. import markup
from ..runs import RunView
from ..site import render_section

CONTEXT_SHOWN = 160  # characters of each shown example's context, enough to judge the endings
MEASURES = (
    ("acc", "lowest total loss (acc)"),
    ("acc_norm", "lowest loss per token (acc_norm)"),
    ("acc_char", "lowest loss per character (lm-evaluation-harness's acc_norm)"),
)
"""each accuracy in choices.json and how the page names it"""


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _chance(value) -> str:
    return "–" if value is None else f"{100 * value:g}%"


def _with_interval(value, bounds) -> str:
    return _percent(value) + ("" if not bounds else f" ({100 * bounds[0]:.1f}–{100 * bounds[1]:.1f}%)")


def _against_chance(bounds, chance) -> str:
    """Where the interval lies against chance: what a reader should conclude from the row."""
    if not bounds or chance is None:
        return "–"
    if bounds[0] > chance:
        return "above chance"
    return "below chance" if bounds[1] < chance else "indistinguishable from chance"


def measure_rows(data: dict) -> list[dict]:
    """One row per accuracy: the trained model's and the untrained model's, each with its interval."""
    untrained, chance = data.get("untrained") or {}, data.get("chance")
    rows = []
    for key, label in MEASURES:
        if key not in data:  # a run from before this accuracy was reported
            continue
        bounds, baseline = (data.get("interval") or {}).get(key), (untrained.get("interval") or {}).get(key)
        rows.append({"label": label, "trained": _with_interval(data[key], bounds), "verdict": _against_chance(bounds, chance),
                     "untrained": _with_interval(untrained.get(key), baseline),
                     "untrained_verdict": _against_chance(baseline, chance)})
    return rows


def _item(item: dict) -> dict:
    rows = []
    char_loss = item.get("char_loss") or [None] * len(item["endings"])
    for i, (ending, loss, per_char) in enumerate(zip(item["endings"], item["mean_loss"], char_loss)):
        marks = [m for m, on in (("true ending", i == item["label"]), ("pick per token", i == item["pick_norm"]),
                                 ("pick per character", i == item.get("pick_char"))) if on]
        rows.append({"ending": ending, "loss": markup.number(loss), "char_loss": markup.number(per_char), "mark": ", ".join(marks)})
    context = item["context"]
    return {"source": item.get("source_id", ""), "rows": rows, "per_char": "char_loss" in item,
            "context": ("…" if len(context) > CONTEXT_SHOWN else "") + context[-CONTEXT_SHOWN:]}


def build(run: RunView):
    data = run.read_json(layout.CHOICES) if layout.CHOICES in run.artifacts else None
    if not isinstance(data, dict):
        return None
    source = data.get("source", {})
    return render_section(
        "sections/multiple_choice.md.j2",
        built=source.get("built", False), how=source.get("how", ""), file=source.get("file", ""),
        measures=source.get("measures", ""), sha256=source.get("sha256", ""), examples=data.get("examples"),
        skipped=data.get("skipped", 0), chance=_chance(data.get("chance")), rows=measure_rows(data),
        level=f"{100 * data['level']:g}%" if data.get("level") else None, untrained="untrained" in data, items=[_item(i) for i in data.get("shown", [])],
    )
