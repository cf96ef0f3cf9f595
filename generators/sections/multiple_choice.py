"""Run-page section: the multiple-choice completion evaluation (HellaSwag format), from `choices.json`."""
from __future__ import annotations

from trainer.tracking import layout

from .. import markup
from ..runs import RunView
from ..site import render_section

CONTEXT_SHOWN = 160  # characters of each shown example's context, enough to judge the endings


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _item(item: dict) -> dict:
    rows = []
    for i, (ending, loss) in enumerate(zip(item["endings"], item["mean_loss"])):
        marks = [m for m, on in (("true ending", i == item["label"]), ("model's pick", i == item["pick_norm"])) if on]
        rows.append({"ending": ending, "loss": markup.number(loss), "mark": ", ".join(marks)})
    context = item["context"]
    return {"source": item.get("source_id", ""), "rows": rows,
            "context": ("…" if len(context) > CONTEXT_SHOWN else "") + context[-CONTEXT_SHOWN:]}


def build(run: RunView):
    data = run.read_json(layout.CHOICES) if layout.CHOICES in run.artifacts else None
    if not isinstance(data, dict):
        return None
    source = data.get("source", {})
    return render_section(
        "sections/multiple_choice.md.j2",
        built=source.get("built", False), how=source.get("how", ""), file=source.get("file", ""),
        sha256=source.get("sha256", ""), examples=data.get("examples"), skipped=data.get("skipped", 0),
        acc=_percent(data.get("acc")), acc_norm=_percent(data.get("acc_norm")), chance=_percent(data.get("chance")),
        items=[_item(i) for i in data.get("shown", [])],
    )
