"""The page of one run: its results, figures, engine sections, samples, how to reproduce it, its
configuration and its audit record (`run.md.j2`)."""
from __future__ import annotations

from trainer.tracking import layout

from . import describe, markup, reproductions, taxonomies
from .runs import RunView
from . import sections
from .site import Later, Page, Site, run_fingerprint
from .targets import Target


def figure_rows(run: RunView, target: Target) -> list[dict]:
    rows = []
    for f in run.record.get("figures", []):
        stored = run.stored.get(f["file"])
        if not stored and not (run.folder / f["file"]).is_file():
            continue
        first_sentence = str(f.get("caption", "")).split(". ")[0].rstrip(".")
        alt = f"{f['title']}: {first_sentence}" if first_sentence else str(f["title"])
        src = markup.Safe(stored) if stored else f["file"]  # a store address is built from safe names (history.stored_url)
        rows.append({"title": f["title"], "markup": target.figure(src, alt, f.get("caption", ""))})
    return rows


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


def run_meta(run: RunView, before: RunView | None) -> dict:
    return {
        "title": run.id, "page_type": "run", "date": run.started,
        "description": f"{run.experiment} run: {describe.metric_text(run)}",
        "terms": taxonomies.run_terms(run),
        "params": {
            "experiment": run.experiment, "status": run.status, "key_metric": describe.metric_text(run), "verified": verified_text(run),
            "duration": markup.duration(run.duration), "commit": markup.short(run.commit), "started": markup.date(run.started),
            "seconds": run.duration or 0, "key_value": run.key_value if isinstance(run.key_value, (int, float)) else "",
            "change": describe.change_text(describe.improvement(run, before)),
        },
    }


def run_page(run: RunView, site: Site | None = None) -> Page:
    site = site or Site([run])
    path = f"runs/{run.id}/index.md"
    before, older, newer = site.baseline.get(run.id), site.older.get(run.id), site.newer.get(run.id)
    files = run.published_files
    compared = site.comparisons.get(run.id, [])
    page_key = site.key("run", run_fingerprint(run), run.from_history, run_fingerprint(before), before and before.key_value,
                        older and older.id, newer and newer.id, [f.name for f in files], run.stored, [p for p, _ in compared],
                        reproductions.fingerprint(run, site.reproductions, site.ids), sections.fingerprint(run))
    front, body = site.page(
        "run.md.j2", path, lambda: run_meta(run, before), title=run.id, run=run, before=before, older=older, newer=newer,
        summary=Later(lambda: describe.summary(run, before)), metrics=Later(lambda: sorted(run.metrics.items())),
        figures=Later(lambda: figure_rows(run, site.target)), sections=Later(lambda: sections.render_sections(run)),
        audit=Later(lambda: audit_rows(run)), published={f.name for f in files}, verified=verified_text(run),
        compared=compared, reproduction=Later(lambda: reproductions.facts(run, site.reproductions, site.ids)),
        reproduce=Later(lambda: describe.reproduce_commands(run)), terms=Later(lambda: taxonomies.run_links(run)),
        names=layout,
    )
    return Page(path, front, body, files, key=page_key)
