"""Comparison pages: two runs side by side (configs with differences marked, metrics with deltas, both runs'
curves in one figure), pre-rendered so they work without JavaScript, in either site engine.

Which pairs get a page is `pairing`'s rule (the site's run pages link to the same pairs). Like every generated
page, a comparison carries a key of what it shows, so a publish that changes neither run renders and draws
nothing for it.
"""
from __future__ import annotations

import functools
import json

from trainer import gates
from trainer.figures.parallel import Figure
from trainer.tracking.files import write_text

from . import diff, figures, markup
from .site import Later, Page, Site, run_fingerprint
from .pairing import RECENT, page_path
from .runs import RunView

INDEX = "compare/_index.md"


def facts(base: RunView, head: RunView) -> list[tuple[str, str, str]]:
    def commit(run: RunView) -> str:
        code = run.record.get("code") or {}
        return markup.short(code.get("commit")) + (" (uncommitted changes)" if code.get("dirty") else "")

    def verdicts(run: RunView) -> str:
        found = gates.judge_all(gates.declared(run.record), run.record)
        return f"{sum(v.passed for v in found)} of {len(found)} passed" if found else "none declared"

    data_a, data_b = diff.data_hash(base), diff.data_hash(head)
    return [
        ("Status", base.status, head.status),
        ("Started", markup.date(base.started), markup.date(head.started)),
        ("Duration", markup.duration(base.duration), markup.duration(head.duration)),
        ("Code", commit(base), commit(head)),
        ("Data sha256", markup.short(data_a), markup.short(data_b) + ("" if data_a == data_b else " (changed)")),
        ("Reproduction", diff.reproduction(base) or "not checked", diff.reproduction(head) or "not checked"),
        ("Gates", verdicts(base), verdicts(head)),
    ]


def metric_rows(base: RunView, head: RunView) -> list[dict]:
    across = diff.comparable(base, head).across

    def name(d: diff.MetricDelta) -> str:
        return d.name + (" (key metric)" if d.is_key else " (comparable across units)" if d.name == across else "")

    return [{"name": name(d), "base": markup.number(d.base), "head": markup.number(d.head), "delta": diff.delta_text(d),
             "mark": diff.mark(d)} for d in diff.metric_deltas(base, head)]


def comparability_note(base: RunView, head: RunView) -> str:
    """A sentence saying why the key metric is not compared, and what is instead; empty when it is comparable."""
    rule = diff.comparable(base, head)
    if rule.comparable:
        return ""
    label = head.key_metric.get("label", head.key_metric["name"])
    instead = f" Compare {rule.across} instead: it is measured in the same unit for both." if rule.across else ""
    return f"The {label} of these runs is not comparable: {rule.reason}. No better or worse is said about it or the other losses.{instead}"


def _highlight(value: str | None, differs: bool) -> markup.Safe:
    text = markup.inline("–" if value is None else value)
    return markup.Safe(f"<mark>{text}</mark>") if differs else text


def config_table(base: RunView, head: RunView) -> dict:
    """Every resolved setting of either run, the differing ones first and highlighted."""
    rows = diff.config_rows(base, head)
    return {"changed": sum(r[3] for r in rows),
            "rows": [{"key": _highlight(k, differs), "base": _highlight(a, differs), "head": _highlight(b, differs),
                      "sign": "≠" if differs else ""} for k, a, b, differs in sorted(rows, key=lambda r: (not r[3], r[0]))]}


def figure(site: Site, series: list[tuple[str, str]]) -> dict | None:
    """The figure's title and markup for this engine, or None when neither run logged a curve."""
    if not series:
        return None
    what = " and ".join(label for _, label in series)
    losses = all(k in figures.LOSS_SERIES for k, _ in series)
    validation = ", validation dashed with points" if any(k == "val_loss" for k, _ in series) else ""
    caption = f"{what.capitalize()} of both runs per training step: the base run in blue, the head run in red{validation}."
    alt = f"{what.capitalize()} of the base run and the head run over training steps"
    return {"title": "Loss curves" if losses else f"{series[0][1].capitalize()} per step",
            "markup": site.target.figure(diff.PAIR_FIGURE, alt, caption)}


def compare_page(site: Site, base: RunView, head: RunView) -> Page:
    path = page_path(base, head)
    series = functools.cache(lambda: figures.pair_series(base, head))
    meta = {"title": f"{base.id} vs {head.id}", "page_type": "compare", "date": head.started,
            "description": f"{head.experiment}: run {head.id} side by side with {base.id}",
            "params": {"experiment": head.experiment}}

    front, body = site.page(
        "compare.md.j2", path, meta, base=base, head=head, experiment=head.experiment,
        facts=Later(lambda: facts(base, head)), metrics=Later(lambda: metric_rows(base, head)),
        comparability=Later(lambda: comparability_note(base, head)),
        config=Later(lambda: config_table(base, head)), figure=Later(lambda: figure(site, series())),
    )
    page_key = site.key("compare", run_fingerprint(base), run_fingerprint(head))
    return Page(path, front, body, key=page_key, drawn={diff.PAIR_FIGURE: Figure(figures.draw_comparison, base, head, title=f"{head.experiment}: base vs head")})


def index_rows(chosen: list[tuple[RunView, RunView]]) -> list[dict]:
    rows = []
    for base, head in chosen:
        d = diff.key_delta(base, head)
        rows.append({"path": page_path(base, head), "experiment": head.experiment, "base": base.id, "head": head.id,
                     "metric": head.key_metric.get("label", d.name), "delta": diff.delta_text(d), "mark": diff.mark(d)})
    return rows


RULES = "rules.json"
"""next to the comparisons page: diff.rules(), for the picker's comparison of any runs (static/js/compare.js)"""


def index_page(site: Site) -> Page:
    meta = {"title": "Comparisons", "page_type": "comparisons",
            "description": "Runs you pick, side by side; and pairs of runs compared with the run before them."}
    rules = json.dumps(diff.rules(), sort_keys=True, ensure_ascii=False) + "\n"
    front, body = site.page("compare_index.md.j2", INDEX, meta, rows=Later(lambda: index_rows(site.pairs)), recent=RECENT,
                            rules=RULES)
    page_key = site.key("comparisons", [(run_fingerprint(base), run_fingerprint(head)) for base, head in site.pairs])
    return Page(INDEX, front, body, key=page_key, drawn={RULES: lambda target: write_text(target, rules, durable=False)})


def pages(site: Site) -> list[Page]:
    """The comparisons page (the picker's view, and the list of pairs), and a page per pair."""
    return [index_page(site), *(compare_page(site, base, head) for base, head in site.pairs)] if site.runs else []
