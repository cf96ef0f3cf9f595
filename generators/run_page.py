"""The page of one run: its results, figures, engine sections, samples, how to reproduce it, its
configuration and its audit record (`run.md.j2`)."""
from __future__ import annotations

from trainer.figures import parallel
from trainer.tracking import layout

from . import curves, describe, markup, reproductions, taxonomies
from .runs import RunView
from . import sections
from .site import Later, Page, Site, run_fingerprint
from .targets import Target


def figure_rows(run: RunView, target: Target, charted: bool) -> list[dict]:
    """Each figure's title and markup; with `charted`, a figure of per-step curves also names its series for the chart."""
    rows = []
    for f in run.record.get("figures", []):
        stored = run.stored.get(f["file"])
        if not stored and not (run.folder / f["file"]).is_file():
            continue
        first_sentence = str(f.get("caption", "")).split(". ")[0].rstrip(".")
        alt = f"{f['title']}: {first_sentence}" if first_sentence else str(f["title"])
        src = markup.Safe(stored) if stored else f["file"]  # a store address is built from safe names (history.stored_url)
        series = [str(s) for s in f.get("series") or []] if charted else []
        markup_ = target.curve_figure(src, alt, f.get("caption", ""), series, curves.FILE) if series else \
            target.figure(src, alt, f.get("caption", ""))
        rows.append({"title": f["title"], "markup": markup_})
    return rows


def charted(run: RunView, files: list) -> bool:
    """Whether the page gets its curves as chart data: it has per-step metrics, and no artifact takes the file's name."""
    return layout.METRICS in run.artifact_list and curves.FILE not in {f.name for f in files}


def _flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows = []
        for k in sorted(value):
            rows += _flatten(value[k], f"{prefix}.{k}" if prefix else k)
        return rows or [(prefix, "–")]
    if isinstance(value, list):
        return [(prefix, ", ".join(map(str, value)) or "–")]
    return [(prefix, "–" if value is None else markup.number(value) if isinstance(value, float) else str(value))]


AUDIT_SECTIONS = ("run_id", "status", "reason", "started_at", "ended_at", "duration_s", "config_sha256", "source",
                  "code", "data", "environment", "seeds", "resumed_from", "trigger")


def audit_rows(run: RunView) -> list[tuple[str, str]]:
    rows = []
    for key in AUDIT_SECTIONS:
        if key in run.record:
            rows += _flatten(run.record[key], key)
    return rows


def verified_text(run: RunView) -> str:
    if run.verification:
        return "no"
    if run.state == "interrupted":
        return "not sealed (the run was interrupted; the next trainer command seals it)"
    return "yes" if run.sealed else "not sealed yet (still running)"


LIVE_SERIES = ("train_loss", "return_mean")
"""besides the key metric, what a running run's live chart shows first when the run logs it (any logged series can be chosen)"""


def live_facts(run: RunView) -> dict | None:
    """What a running run's page shows of it (only a live publish has running runs: see generators.watch)."""
    if run.live is None:
        return None
    key = run.key_metric["name"]
    return {"text": describe.live_text(run), "last": describe.last_values_text(run), "endpoint": f"live/{run.id}/",
            "updated": markup.date(run.live.get("updated_at")) if run.live.get("updated_at") else "–",
            "series": " ".join(dict.fromkeys((*LIVE_SERIES, key)))}


def run_meta(run: RunView, before: RunView | None) -> dict:
    live = {"live": describe.live_text(run)} if run.live is not None else {}
    return {
        "title": run.id, "page_type": "run", "date": run.started,
        "description": f"{run.experiment} run: {describe.metric_text(run)}",
        "terms": taxonomies.run_terms(run),
        "params": {
            "experiment": run.experiment, "status": run.status, "key_metric": describe.metric_text(run), "verified": verified_text(run),
            "duration": markup.duration(run.duration), "commit": markup.short(run.commit), "started": markup.date(run.started),
            "seconds": run.duration or 0, "key_value": run.key_value if isinstance(run.key_value, (int, float)) else "",
            "change": describe.change_text(describe.improvement(run, before)), **live,
        },
    }


def run_page(run: RunView, site: Site | None = None) -> Page:
    site = site or Site([run])
    path = f"runs/{run.id}/index.md"
    before, older, newer = site.baseline.get(run.id), site.older.get(run.id), site.newer.get(run.id)
    compared = site.comparisons.get(run.id, [])
    # The files it publishes follow from the record (its model files too), which the fingerprint hashes.
    page_key = site.key("run", run_fingerprint(run), run.from_history, run_fingerprint(before), before and before.key_value,
                        older and older.id, newer and newer.id, run.stored, [p for p, _ in compared],
                        reproductions.fingerprint(run, site.reproductions, site.ids), sections.fingerprint(run))
    kept = site.fresh(path, page_key)
    if kept is not None:  # as the last publish wrote it: not built (a publish of 10,000 runs keeps most of them)
        return Page(path, {"title": run.id}, "", key=page_key, kept=kept)
    files = run.published_files
    chart = charted(run, files)
    front, body = site.page(
        "run.md.j2", path, lambda: run_meta(run, before), title=run.id, run=run, before=before, older=older, newer=newer,
        summary=Later(lambda: describe.summary(run, before)), metrics=Later(lambda: sorted(run.metrics.items())),
        figures=Later(lambda: figure_rows(run, site.target, chart)), sections=Later(lambda: sections.render_sections(run)),
        audit=Later(lambda: audit_rows(run)), published={f.name for f in files}, verified=verified_text(run),
        compared=compared, reproduction=Later(lambda: reproductions.facts(run, site.reproductions, site.ids)),
        reproduce=Later(lambda: describe.reproduce_commands(run)), terms=Later(lambda: taxonomies.run_links(run)),
        names=layout, live=Later(lambda: live_facts(run)),
    )
    drawn = {curves.FILE: parallel.Figure(curves.write, run.folder / layout.METRICS)} if chart else {}
    return Page(path, front, body, files, key=page_key, drawn=drawn)
