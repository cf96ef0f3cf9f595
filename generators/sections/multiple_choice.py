"""Run-page section: the multiple-choice completion evaluation (HellaSwag format), from `choices.json`."""
from __future__ import annotations

import json

from .. import markup
from ..runs import RunView
from ..site import render_section

FILE = "choices.json"
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
    path = run.folder / FILE
    if FILE not in run.record.get("artifacts", {}) or not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    source = data.get("source", {})
    return render_section(
        "sections/multiple_choice.md.j2",
        built=source.get("built", False), how=source.get("how", ""), file=source.get("file", ""),
        sha256=source.get("sha256", ""), examples=data.get("examples"), skipped=data.get("skipped", 0),
        acc=_percent(data.get("acc")), acc_norm=_percent(data.get("acc_norm")), chance=_percent(data.get("chance")),
        items=[_item(i) for i in data.get("shown", [])],
    )
