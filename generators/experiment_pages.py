"""One page per experiment (its trend over runs, recent curves, every run in several orders) and their index.

An experiment page is a bundle: `experiments/<name>/_index.md` with its figures next to it, and
its sort and filter pages (see listings) under the same folder.
"""
from __future__ import annotations

import json

from trainer import gates
from trainer.tracking import layout, picks
from trainer.figures.parallel import Figure
from trainer.tracking.files import write_text

from . import describe, figures, listings, markup, sweep_pages, taxonomies
from .site import Later, Page, Site, run_fingerprint
from .runs import RunView

HISTORY, RECENT, SPARKLINE = "history.png", "recent.png", "sparkline.png"
MODELS = layout.SITE_MODELS.rpartition("/")[2]
"""the site's model registry, next to the experiments index (`trainer sample EXPERIMENT@current --site URL` reads it)"""
MODELS_FORMAT = "trainbook-models-1"


def picked(site: Site, name: str) -> dict[str, RunView | None]:
    """The experiment's latest, best and current run (trainer/tracking/picks.py, as `trainer sample` picks them),
    worked out once per publish: its page and the site's models.json both show them."""
    found = site.shared.setdefault("picked", {})
    if name not in found:
        found[name] = _picks(site.by_experiment[name])
    return found[name]


def _picks(runs: list[RunView]) -> dict[str, RunView | None]:
    by_id = {r.id: r for r in runs}
    # The summary a publish keeps of each run (run_index.summary) holds every field picks reads: no record is read.
    candidates = [picks.Candidate(r.id, r.facts, verified=r.sealed and not r.verification) for r in runs]
    return {which: by_id[c.run_id] if (c := picks.pick(which, candidates)) else None for which in picks.WHICH}


def model_link(run: RunView | None) -> dict | None:
    """What the experiment page says of a run as a model: its page and its final weights file, if published."""
    if run is None:
        return None
    final = (run.record.get("weights") or {}).get("final") or {}
    published = layout.model_files(run.record)
    return {"run": run, "metric": describe.metric_text(run), "weights": final.get("file") if final.get("file") in published else None}


def spark_values(runs: list[RunView]) -> list[float]:
    """The key metric of the last finished runs, oldest first."""
    ok = [r.key_value for r in runs if r.status == "ok" and isinstance(r.key_value, (int, float))][: figures.SPARK]
    return ok[::-1]


def figure_specs(site: Site, name: str, runs: list[RunView]) -> list[dict]:
    """The experiment's figures: file, title, caption, and how to draw it."""
    latest = runs[0]
    km = latest.key_metric
    label = km.get("label", km["name"])
    specs = []  # a trend needs two finished runs; one is already on its run page
    if sum(r.status == "ok" and isinstance(r.key_value, (int, float)) for r in runs) >= 2:
        specs.append({
            "file": HISTORY, "title": f"{label} across runs",
            "caption": f"The {label} of every finished run by start time (dots) and the best so far (line); "
                       f"{'lower' if km.get('goal', 'min') == 'min' else 'higher'} is better. Runs that did not finish are marked ×.",
            "draw": Figure(figures.draw_metric_history, figures.history_points(runs), title=f"{name}: {label} across runs", label=label, goal=km.get("goal", "min")),
        })
    recent = [r for r in runs if r.status == "ok"][: figures.RECENT]
    series = figures.curve_key(recent[0]) if len(recent) >= 2 else None
    if series:
        shown = series.replace("_", " ")
        specs.append({
            "file": RECENT, "title": f"{shown} of the last {len(recent)} runs",
            "caption": f"The {shown} per step of the {len(recent)} most recent finished runs, newest darkest; "
                       "curves that part ways show where a change of code or config made a difference.",
            "draw": Figure(figures.draw_recent_curves, recent, series, title=f"{name}: {shown}, recent runs", ylabel=shown),
        })
    return specs


def experiment_page(site: Site, name: str, runs: list[RunView]) -> list[Page]:
    chosen = picked(site, name)
    latest, best = runs[0], chosen["best"]
    cfg = latest.record.get("config", {})
    km = latest.key_metric
    metric_label = km.get("label", km["name"])
    path = listings.view_path(name, "newest", "all")
    specs = figure_specs(site, name, runs)
    values = spark_values(runs)
    view_pages, views = listings.experiment_views(site, name, runs, metric_label)
    _, first_rows, pager = listings.layout(runs, lambda k: listings.view_path(name, "newest", "all", k), anchored=True)[0]
    originals = {"kinds": [latest.kind], "datasets": [latest.dataset or ""], "tags": latest.tags}
    meta = {
        "title": name, "page_type": "experiment", "date": latest.started, "description": cfg.get("description", ""),
        "terms": taxonomies.experiment_terms(latest),
        "params": {"runs": len(runs), "latest_status": latest.status, "latest_metric": describe.metric_text(latest),
                   "latest_run": f"runs/{latest.id}/"},
    }
    facts = {
        "running": [{"run": r, "text": describe.live_text(r)} for r in runs if r.live is not None],
        "runs": len(runs), "statuses": ", ".join(f"{n} {s}" for s, n in listings.statuses(runs)),
        "latest": latest, "latest_metric": describe.metric_text(latest), "best": best,
        "best_metric": describe.metric_text(best) if best else "–", "current": model_link(chosen["current"]),
        "gated": bool(gates.declared(latest.record)),
    }
    front, body = site.page(
        "experiment.md.j2", path, meta, name=name, description=cfg.get("description", ""), facts=facts,
        terms=taxonomies.links(taxonomies.experiment_terms(latest), originals),
        figures=[{"title": s["title"], "markup": site.target.figure(s["file"], s["title"], s["caption"])} for s in specs],
        views=views, rows=Later(lambda: listings.rows(site, first_rows)), pager=pager, with_experiment=False, metric_label=metric_label,
        config_yaml=Later(lambda: latest.config_yaml), config_source=(latest.record.get("source") or {}).get("file"),
        sweeps=sweep_pages.of_experiment(site.sweeps, name),
    )
    drawn = {s["file"]: s["draw"] for s in specs}
    if len(values) >= 2:
        drawn[SPARKLINE] = Figure(figures.draw_sparkline, values)
    page_key = site.key("experiment", meta, [run_fingerprint(r) for r in runs], [s["file"] for s in specs],
                        [run_fingerprint(w) for w in site.sweeps],
                        [run_fingerprint(site.baseline.get(r.id)) for r in first_rows])
    return [Page(path, front, body, key=page_key, drawn=drawn), *view_pages]


def card(site: Site, name: str, runs: list[RunView]) -> dict:
    """What the home page shows of one experiment (formatted here; the card template only prints)."""
    latest = runs[0]
    values = spark_values(runs)
    label = latest.key_metric.get("label", latest.key_metric["name"])
    finished = next((r for r in runs if r.status == "ok" and isinstance(r.key_value, (int, float))), None)
    trend = ""
    if len(values) >= 2:
        first, last = values[0], values[-1]
        goal = latest.key_metric.get("goal", "min")
        better = last < first if goal == "min" else last > first
        trend = "steady" if first == last else f"{'better' if better else 'worse'} over the last {len(values)} runs"
    return {
        "name": name, "path": f"experiments/{name}/_index.md", "latest": latest, "status": latest.status,
        "metric": describe.metric_text(latest), "date": markup.date(latest.started), "runs": len(runs),
        "description": (latest.record.get("config") or {}).get("description", ""),
        "kind": taxonomies.label("kinds", latest.kind), "kind_path": taxonomies.term_path("kinds", latest.kind),
        "last_finished": describe.metric_text(finished) if finished and finished is not latest else "",
        "sparkline": f"experiments/{name}/{SPARKLINE}" if len(values) >= 2 else None,
        "sparkline_alt": figures.sparkline_alt(values, label) if len(values) >= 2 else "", "trend": trend, "values": values,
        "summary": describe.summary(latest, site.baseline.get(latest.id)),
    }


def card_key(card: dict) -> list:
    """Everything a card shows: its formatted texts, and the latest run's fingerprint."""
    return [run_fingerprint(card["latest"]), sorted((k, v) for k, v in card.items() if k != "latest")]


def models(site: Site) -> dict:
    """models.json: each experiment's latest, best and current run, with the model files its page publishes."""
    experiments = {}
    for name, runs in sorted(site.by_experiment.items()):
        chosen = picked(site, name)
        entry = {which: run.id if run else None for which, run in chosen.items()}
        entry["runs"] = {run.id: {"page": f"{layout.SITE_RUNS}/{run.id}/", "status": run.status, "key_metric": run.key_metric,
                                  "value": picks.key_value(run.record), "files": layout.model_files(run.record)}
                         for run in {r.id: r for r in chosen.values() if r}.values()}
        experiments[name] = entry
    return {"format": MODELS_FORMAT, "experiments": experiments}


def index_page(site: Site) -> Page:
    rows = [card(site, name, runs) for name, runs in sorted(site.by_experiment.items())]
    meta = {"title": "Experiments", "page_type": "experiments",
            "description": "Every experiment, its latest run and how its key metric has moved."}
    front, body = site.page("experiments_index.md.j2", "experiments/_index.md", meta, experiments=rows, models=MODELS)
    registry = json.dumps(models(site), indent=1, sort_keys=True, allow_nan=False) + "\n"
    page_key = site.key("experiments", [card_key(r) for r in rows], registry)

    def draw_models(path) -> None:
        if not path.is_file() or path.read_text() != registry:
            write_text(path, registry)

    return Page("experiments/_index.md", front, body, key=page_key, drawn={MODELS: draw_models})


def pages(site: Site) -> list[Page]:
    out = [index_page(site)]
    for name, runs in sorted(site.by_experiment.items()):
        out += experiment_page(site, name, runs)
    return out
