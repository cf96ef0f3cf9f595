"""A sweep's page and the index of sweeps: the trials table (every order its own page, so it sorts without
JavaScript; runs-table.js sorts it in place with it), the objective by trial with the best so far, parallel
coordinates, per-parameter slices, the parameters' importances, and the best trial linked.

Everything shown is in the sweep's sealed record (`sweep` section: trials, best, importances) and its figures,
which the trainer drew from that record when it sealed the sweep; this module only formats. A sweep is a run
folder whose record says `kind: sweep`, so `split` takes sweeps out of the runs before any run page is made.
"""
from __future__ import annotations

from . import markup
from .run_page import figure_rows, verified_text
from .runs import RunView
from .site import Page, Site, run_fingerprint

INDEX = "sweeps/_index.md"
ORDERS = (("trial", "by trial"), ("best", "best first"))


def split(views: list[RunView]) -> tuple[list[RunView], list[RunView]]:
    """(runs, sweeps) of the views read from a runs folder or a history: a sweep's folder is not a run to list."""
    return [v for v in views if v.facts.get("kind") != "sweep"], [v for v in views if v.facts.get("kind") == "sweep"]


def path_of_id(sweep_id: str, order: str = "trial") -> str:
    return f"sweeps/{sweep_id}/index.md" if order == "trial" else f"sweeps/{sweep_id}/{order}/index.md"


def path_of(sweep: RunView, order: str = "trial") -> str:
    return path_of_id(sweep.id, order)


def _summary(sweep: RunView) -> dict:
    return sweep.record.get("sweep") or {}


def _value_text(value) -> str:
    return markup.number(value) if isinstance(value, (int, float)) else "–"


def _param_text(value) -> str:
    return markup.number(value) if isinstance(value, float) else str(value)


def trial_rows(sweep: RunView, ids: set[str], order: str) -> list[dict]:
    """The trials table's rows, formatted; `ids` are the runs the site has pages for (others are not linked)."""
    s = _summary(sweep)
    goal = (s.get("objective") or {}).get("goal", "min")
    trials = list(s.get("trials") or [])
    if order == "best":
        sign = 1 if goal == "min" else -1
        trials.sort(key=lambda t: (t.get("value") is None, sign * (t.get("value") or 0.0), t["number"]))
    best = (s.get("best") or {}).get("number")
    return [{
        "number": t["number"], "run": t.get("run"), "linked": t.get("run") in ids, "status": t.get("status") or "unknown",
        "value": t["value"] if isinstance(t.get("value"), (int, float)) else "", "value_text": _value_text(t.get("value")),
        "params": [_param_text(t["params"].get(k)) for k in s.get("parameters") or {}],
        "pruned": f"step {t['pruned_at_step']}" if t.get("pruned_at_step") is not None else "",
        "seconds": t.get("duration_s") or 0, "duration": markup.duration(t.get("duration_s")), "best": t["number"] == best,
    } for t in trials]


def facts(sweep: RunView, ids: set[str]) -> dict:
    s = _summary(sweep)
    objective, best = s.get("objective") or {}, s.get("best")
    counts = sweep.metrics
    return {
        "base": s.get("base_experiment"), "method": s.get("method"), "seed": s.get("seed"), "backend": s.get("backend"),
        "workers": s.get("workers"), "objective": f"{objective.get('goal', 'min')} {objective.get('metric', '')}",
        "pruner": (s.get("pruner") or {}).get("type", "none"),
        "trials": f"{counts.get('trials', 0)} ({counts.get('trials_ok', 0)} ok, {counts.get('trials_pruned', 0)} pruned, "
                  f"{counts.get('trials_failed', 0)} failed)",
        "best": best, "best_value": _value_text((best or {}).get("value")), "best_linked": bool(best and best.get("run") in ids),
        "best_params": ", ".join(f"{k} = {_param_text(v)}" for k, v in ((best or {}).get("params") or {}).items()),
        "importances": sorted((s.get("importances") or {}).items(), key=lambda kv: -kv[1]),
        "space": [(k, _space_text(v)) for k, v in (s.get("parameters") or {}).items()],
        "verified": verified_text(sweep), "status": sweep.status,
    }


def _space_text(spec: dict) -> str:
    if "choices" in spec:
        return "one of " + ", ".join(map(str, spec["choices"]))
    kind = "integer" if spec.get("type") == "int" else "number"
    return f"{kind} from {spec['low']:g} to {spec['high']:g}" + (", log scale" if spec.get("log") else "")


def sweep_pages(site: Site, sweep: RunView, ids: set[str]) -> list[Page]:
    s = _summary(sweep)
    meta = {"title": sweep.id, "page_type": "sweep", "date": sweep.started,
            "description": f"{s.get('method')} sweep of {s.get('base_experiment')}: {len(s.get('trials') or [])} trials"}
    shown = facts(sweep, ids)
    key = site.key("sweep", run_fingerprint(sweep), sorted(ids & {t.get("run") for t in s.get("trials") or []}))
    out = []
    for order, _ in ORDERS:
        path = path_of(sweep, order)
        front, body = site.page(
            "sweep.md.j2", path, meta, sweep=sweep, facts=shown, rows=trial_rows(sweep, ids, order),
            parameters=list(s.get("parameters") or {}), metric=(s.get("objective") or {}).get("metric", "objective"),
            orders=[(label, path_of(sweep, o), o == order) for o, label in ORDERS],
            figures=figure_rows(sweep, site.target, charted=False) if order == "trial" else [], config_yaml=sweep.config_yaml,
        )
        out.append(Page(path, front, body, sweep.published_files if order == "trial" else [], key=site.key(key, order)))
    return out


def index_page(site: Site, sweeps: list[RunView]) -> Page:
    rows = [{"sweep": w, "base": _summary(w).get("base_experiment"), "method": _summary(w).get("method"),
             "trials": w.metrics.get("trials", 0), "best": _value_text(w.metrics.get("best_value")),
             "metric": (_summary(w).get("objective") or {}).get("metric", ""), "date": markup.date(w.started)} for w in sweeps]
    meta = {"title": "Sweeps", "page_type": "sweeps", "description": "Every sweep: its base experiment, method, trials and best value."}
    front, body = site.page("sweeps_index.md.j2", INDEX, meta, rows=rows)
    return Page(INDEX, front, body, key=site.key("sweeps", [run_fingerprint(w) for w in sweeps]))


def of_experiment(sweeps: list[RunView], experiment: str) -> list[dict]:
    """The sweeps of one base experiment, newest first, as the experiment page lists them."""
    return [{"id": w.id, "path": path_of(w), "method": _summary(w).get("method"), "trials": w.metrics.get("trials", 0),
             "best": _value_text(w.metrics.get("best_value")), "metric": (_summary(w).get("objective") or {}).get("metric", ""),
             "status": w.status} for w in sweeps if _summary(w).get("base_experiment") == experiment]


def report_section(sweeps: list[RunView], page_link, room: int) -> str:
    """The pull-request report's lines on the change's sweeps (page_link(text, path) makes a link), within `room`."""
    if not sweeps:
        return ""
    text = "### Sweeps\n\n"
    for i, w in enumerate(sweeps):
        s, m = _summary(w), w.metrics
        best, base = s.get("best"), s.get("base_values") or {}
        metric = (s.get("objective") or {}).get("metric", "objective")
        line = (f"- {page_link(w.id, f'sweeps/{markup.url_part(w.id)}/')} ({markup.inline(w.status)}): {markup.inline(s.get('method'))} "
                f"search of {markup.inline(s.get('base_experiment'))} over {markup.inline(', '.join(s.get('parameters') or {}))}; "
                f"{m.get('trials', 0)} trials ({m.get('trials_ok', 0)} ok, {m.get('trials_pruned', 0)} pruned, "
                f"{m.get('trials_failed', 0)} failed)")
        if best:
            changed = ", ".join((f"{k} {_param_text(base[k])} → {_param_text(v)}" if k in base else f"{k} = {_param_text(v)}")
                                for k, v in best["params"].items() if base.get(k) != v) or "the base experiment's own settings"
            line += f"; best {markup.inline(metric)} {_value_text(best['value'])} at trial {best['number']}: {markup.inline(changed)}"
        line += ".\n"
        if len(text) + len(line) > room:
            return text + f"- and {len(sweeps) - i} more sweep(s) on the preview site.\n\n"
        text += line
    return text + "\n"


def pages(site: Site) -> list[Page]:
    if not site.sweeps:
        return []
    ids = {r.id for r in site.runs}
    return [index_page(site, site.sweeps), *(p for w in site.sweeps for p in sweep_pages(site, w, ids))]
