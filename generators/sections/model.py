"""Run-page section: the trained model, as a reader can take it away: its weights files (final and best) with
their sha256 and size, the vocabulary it needs, and the commands that sample from it or score it.

What a page offers is `layout.model_files(record)`: the files the record's `weights` section names, each up
to the run's cap; the published history keeps the same files, so the downloads outlast the run folder.
"""
from __future__ import annotations

import shlex

from trainer.engines import registry
from trainer.tracking import layout

from .. import markup
from ..markup import Safe
from ..runs import RunView
from ..site import render_section

ROLES = {"final": "final weights", "best": "best weights", "vocabulary": "vocabulary"}


def _files(run: RunView) -> list[dict]:
    """A row per published model file; the final state that is also the best is one file, and one row."""
    section = run.record.get("weights") or {}
    published = layout.model_files(run.record)
    rows: dict[str, dict] = {}
    for role, what in ROLES.items():
        entry = section.get(role)
        if not isinstance(entry, dict) or entry.get("file") not in published:
            continue
        if entry["file"] in rows:
            rows[entry["file"]]["what"] += f", and the {what} (the final state was the best)"
            continue
        facts, step = published[entry["file"]], entry.get("step")
        rows[entry["file"]] = {"what": what, "file": entry["file"], "step": "–" if step is None else markup.number(step),
                               "size": markup.size(facts.get("bytes")), "sha256": facts.get("sha256", "")}
    return list(rows.values())


def commands(run: RunView) -> str:
    """Shell lines that use this run's model (plain text; escaped when shown)."""
    spec = registry.spec_for(run.model_type)
    if spec is None or not spec.generates:
        return ""
    sample = "python -m trainer sample"
    lines = ["# the run's own samples again, from its folder in runs/ (add --prompt TEXT, --count N, --temperature T):",
             f"{sample} runs/{shlex.quote(run.id)}", "",
             "# the same from this page, anywhere (the download is checked against the record and the site's ledger):",
             f"{sample} <address of this page>"]
    if spec.scores_choices:
        lines += ["", "# multiple-choice accuracy on a HellaSwag-format file:",
                  f"python -m trainer eval runs/{run.id} --file hellaswag_val.jsonl"]
    return "\n".join(lines)


def build(run: RunView) -> Safe | None:
    section = run.record.get("weights")
    if not isinstance(section, dict):
        return None
    files = _files(run)
    return render_section("sections/model.md.j2", files=files, left_out=section.get("left_out"),
                          cap=markup.size(section.get("max_bytes")), commands=commands(run) if files else "")
