"""Comparison pages: two runs side by side (configs with differences marked, metrics with deltas, loss
curves overlaid in one figure), pre-rendered so they work without JavaScript.

Which pairs: the newest RECENT runs of each experiment, each against the finished run before it; and each
run not yet in the published history against the newest published run of its experiment, which is the
pair the pull-request report links to (both use `diff.latest_ok`, so the link always exists in a site
built with that history).
"""
from __future__ import annotations

from . import compare_figures, diff, markup
from .history import PublishedRun
from .pages import Page, render
from .runs import RunView
from trainer import gates

RECENT = 10
"""runs per experiment that get a page comparing them with their predecessor; older pairs are not drawn"""


def pairs(runs: list[RunView]) -> list[tuple[RunView, RunView]]:
    """(base, head) pairs worth a page, each once, newest head first."""
    chosen: dict[tuple[str, str], tuple[RunView, RunView]] = {}
    by_experiment: dict[str, list[RunView]] = {}
    for run in sorted(runs, key=lambda r: (r.started, r.id), reverse=True):
        by_experiment.setdefault(run.experiment, []).append(run)
    for group in by_experiment.values():
        for run in group[:RECENT]:
            base = diff.previous_ok(run, group)
            if base is not None:
                chosen[(base.id, run.id)] = (base, run)
    published = [r for r in runs if isinstance(r, PublishedRun)]
    for run in runs:
        base = None if isinstance(run, PublishedRun) else diff.latest_ok(published, run.experiment)
        if base is not None and base.id != run.id:
            chosen[(base.id, run.id)] = (base, run)
    return sorted(chosen.values(), key=lambda pair: (pair[1].started, pair[1].id, pair[0].id), reverse=True)


def page_path(base: RunView, head: RunView) -> str:
    return f"compare/{diff.pair_slug(base, head)}/index.md"


def _run_link(run: RunView) -> markup.Safe:
    return markup.Safe(f"[{markup.inline(run.id)}](../../runs/{markup.url_part(run.id)}/)")


def _facts(base: RunView, head: RunView) -> list[tuple[str, str, str]]:
    def commit(run: RunView) -> str:
        code = run.record.get("code") or {}
        return markup.short(code.get("commit")) + (" (uncommitted changes)" if code.get("dirty") else "")

    def verdicts(run: RunView) -> str:
        found = gates.judge_all(gates.declared(run.record), run.record)
        return f"{sum(v.passed for v in found)} of {len(found)} passed" if found else "none declared"

    data_a, data_b = diff.data_hash(base), diff.data_hash(head)
    return [
        ("Run", _run_link(base), _run_link(head)),
        ("Status", base.status, head.status),
        ("Started", markup.date(base.started), markup.date(head.started)),
        ("Duration", markup.duration(base.record.get("duration_s")), markup.duration(head.record.get("duration_s"))),
        ("Code", commit(base), commit(head)),
        ("Data sha256", markup.short(data_a), markup.short(data_b) + ("" if data_a == data_b else " (changed)")),
        ("Reproduction", diff.reproduction(base) or "not checked", diff.reproduction(head) or "not checked"),
        ("Gates", verdicts(base), verdicts(head)),
    ]


def _highlight(value: str | None, differs: bool) -> markup.Safe:
    text = markup.inline("–" if value is None else value)
    return markup.Safe(f"<mark>{text}</mark>") if differs else text


def compare_page(base: RunView, head: RunView) -> Page:
    key = head.key_metric
    front = {"title": f"{base.id} vs {head.id}", "page_type": "compare", "experiment": head.experiment,
             "date": head.started, "base": base.id, "head": head.id}
    metrics = [{"name": d.name + (" (key metric)" if d.is_key else ""), "base": markup.number(d.base),
                "head": markup.number(d.head), "delta": diff.delta_text(d), "mark": diff.mark(d)}
               for d in diff.metric_deltas(base, head)]
    rows = diff.config_rows(base, head)
    config = [{"key": _highlight(k, differs), "base": _highlight(a, differs), "head": _highlight(b, differs),
               "sign": "≠" if differs else ""} for k, a, b, differs in sorted(rows, key=lambda r: (not r[3], r[0]))]
    figure = compare_figures.compare_figure(f"base {base.id}", base.folder / "metrics.jsonl", f"head {head.id}",
                                    head.folder / "metrics.jsonl", f"{head.experiment}: base vs head", key["name"])
    body = render("compare.md.j2", front, base=base, head=head, experiment=head.experiment, facts=_facts(base, head),
                  metrics=metrics, config=config, changed=sum(r[3] for r in rows), figure=figure.name if figure else None)
    return Page(page_path(base, head), front, body, [figure] if figure else [])


def compare_index(chosen: list[tuple[RunView, RunView]]) -> Page:
    front = {"title": "Comparisons", "page_type": "comparisons"}
    rows = []
    for base, head in chosen:
        d = diff.key_delta(base, head)
        rows.append({"slug": diff.pair_slug(base, head), "experiment": head.experiment, "base": base.id, "head": head.id,
                     "metric": head.key_metric.get("label", d.name), "delta": diff.delta_text(d), "mark": diff.mark(d)})
    return Page("compare/_index.md", front, render("compare_index.md.j2", front, rows=rows, recent=RECENT))


def compare_pages(runs: list[RunView]) -> list[Page]:
    chosen = pairs(runs)
    return [compare_index(chosen), *(compare_page(base, head) for base, head in chosen)] if chosen else []
