"""What the site says about runs: one page per run, per experiment, and the two indexes.

Pages are built here as (path, front matter, Markdown body, files to copy) and written by
`content.py`. Formatting decisions (which metrics, what summary) live here, not in templates.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import markup
from .runs import RunView

TEMPLATES = Path(__file__).parent / "templates"
_env = markup.environment(TEMPLATES)


@dataclass
class Page:
    path: str
    """content-relative path, e.g. runs/<id>/index.md (Hugo's bundle and section conventions)"""
    front: dict
    body: str
    files: list[Path] = field(default_factory=list)
    """files published next to the page (figures, raw records)"""


def front_matter(front: dict) -> markup.Safe:
    """YAML front matter written as JSON (a subset of YAML), so no value can break out of it."""
    return markup.Safe("---\n" + json.dumps({**front, "generated": True}, indent=1, ensure_ascii=False) + "\n---\n")


def render(template: str, front: dict, **values) -> str:
    return _env.get_template(template).render(front=front_matter(front), **values)


def render_section(template: str, **values) -> markup.Safe:
    """A page section (no front matter) from its own template; see generators/sections/."""
    return markup.Safe(_env.get_template(template).render(**values))


def metric_text(run: RunView) -> str:
    km = run.key_metric
    arrow = "↓" if km.get("goal") == "min" else "↑"
    value = run.key_value
    return f"{km.get('label', km['name'])} {markup.number(value)} {arrow}" if value is not None else "–"


def summary(run: RunView) -> str:
    """One sentence a reviewer reads first."""
    rec, m = run.record, run.metrics
    env = rec.get("environment", {})
    where = env.get("gpu") or env.get("device") or "cpu"
    if run.status != "ok":
        return f"This run {run.status} after {markup.duration(rec.get('duration_s'))} on {where}."
    parts = [f"{markup.duration(rec.get('duration_s'))} on {where}"]
    if "steps" in m:
        parts.append(f"{markup.number(m['steps'])} steps")
    parts += [f"{k.replace('_', ' ')} {markup.number(v)}" for k, v in m.items() if k.endswith("_loss") and k not in ("init_loss", "uniform_loss")]
    return ", ".join(parts) + "."


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


def run_page(run: RunView) -> Page:
    figures = [f for f in run.record.get("figures", []) if (run.folder / f["file"]).is_file()]
    published = {p.name for p in run.published_files}
    verified = "yes" if run.sealed and not run.verification else "no" if run.verification else "not sealed yet"
    front = {
        "title": run.id, "date": run.started, "experiment": run.experiment, "status": run.status,
        "key_metric": metric_text(run), "verified": verified, "kind": "run",
    }
    from .sections import render_sections

    body = render("run.md.j2", front, run=run, summary=summary(run), metrics=sorted(run.metrics.items()),
                  figures=figures, sections=render_sections(run), audit=audit_rows(run), published=published, verified=verified)
    return Page(f"runs/{run.id}/index.md", front, body, run.published_files)


def runs_index(runs: list[RunView]) -> Page:
    front = {"title": "Runs", "kind": "runs"}
    rows = [{"run": r, "metric": metric_text(r)} for r in runs]
    return Page("runs/_index.md", front, render("runs_index.md.j2", front, rows=rows))


def experiment_pages(runs: list[RunView]) -> list[Page]:
    by_name: dict[str, list[RunView]] = {}
    for run in runs:  # newest first already
        by_name.setdefault(run.experiment, []).append(run)
    pages, summaries = [], []
    for name, group in sorted(by_name.items()):
        latest = group[0]
        cfg = latest.record.get("config", {})
        front = {
            "title": name, "kind": "experiment", "date": latest.started, "runs": len(group),
            "latest_status": latest.status, "latest_metric": metric_text(latest),
            "latest_run": f"runs/{latest.id}/", "description": cfg.get("description", ""),
        }
        body = render("experiment.md.j2", front, runs=group, latest=latest, description=cfg.get("description", ""),
                      tags=cfg.get("tags", []), metric_label=latest.key_metric.get("label", "key metric"),
                      rows=[{"run": r, "metric": metric_text(r)} for r in group])
        pages.append(Page(f"experiments/{name}.md", front, body))
        summaries.append({"name": name, "count": len(group), "latest": latest, "metric": metric_text(latest)})
    index_front = {"title": "Experiments", "kind": "experiments"}
    pages.append(Page("experiments/_index.md", index_front, render("experiments_index.md.j2", index_front, experiments=summaries)))
    return pages


def all_pages(runs: list[RunView]) -> list[Page]:
    from .compare import compare_pages

    return [runs_index(runs), *experiment_pages(runs), *(run_page(r) for r in runs), *compare_pages(runs)]
