"""Lists of runs that work without JavaScript: every order and filter is a page of its own.

A listing is a table of runs, cut into pages of PAGE_SIZE rows with links between them. An
experiment's runs are listed once per (order, status) pair — newest, best key metric, longest;
all statuses or one — so a reader without JavaScript sorts and filters by following links.
With JavaScript, static/js/runs-table.js adds column sorting and a text filter on top.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from . import describe, markup
from .pages import Later, Page, Site, run_fingerprint
from .runs import RunView

PAGE_SIZE = 100


@dataclass(frozen=True)
class Order:
    slug: str
    label: str
    sort: Callable[[list[RunView]], list[RunView]]


def _best_first(runs: list[RunView]) -> list[RunView]:
    def rank(run: RunView):
        value = run.key_value
        if not isinstance(value, (int, float)) or run.status != "ok":
            return (1, 0.0, "")  # unfinished or metric-less runs last, newest first among them (stable sort)
        return (0, value if run.key_metric.get("goal", "min") == "min" else -value, "")

    return sorted(runs, key=rank)


ORDERS = (
    Order("newest", "newest first", lambda runs: list(runs)),
    Order("best", "best first", _best_first),
    Order("longest", "longest first", lambda runs: sorted(runs, key=lambda r: -(r.duration or 0.0))),
)


def rows(site: Site, runs: list[RunView]) -> list[dict]:
    """Display values of each run for a table: formatted here, printed by the template."""
    out = []
    for run in runs:
        value = run.key_value
        out.append({
            "run": run, "metric": describe.metric_text(run), "number": markup.number(value) if value is not None else "–",
            "value": value if isinstance(value, (int, float)) else "",
            "change": describe.change_text(describe.improvement(run, site.baseline.get(run.id))).replace(" than the previous run", ""),
            "duration": markup.duration(run.duration), "seconds": run.duration or 0,
            "commit": markup.short(run.commit), "date": markup.date(run.started).removesuffix(" UTC"),
        })
    return out


def paged(site: Site, runs: list[RunView], first_path: str, path_of: Callable[[int], str], meta: dict, *,
          intro: str = "", views: list | None = None, related: list | None = None, with_experiment: bool = True,
          metric_label: str = "key metric", template: str = "listing.md.j2") -> list[Page]:
    """`runs` as a table cut into pages: `first_path`, then `path_of(2)`, `path_of(3)`..."""
    count = max(1, math.ceil(len(runs) / PAGE_SIZE))
    paths = [first_path] + [path_of(k) for k in range(2, count + 1)]
    pages = []
    for k, path in enumerate(paths, start=1):
        chunk = runs[(k - 1) * PAGE_SIZE: k * PAGE_SIZE]
        page_meta = {**meta, "search_exclude": True}
        if k > 1:
            page_meta["title"] = f"{meta['title']} (page {k} of {count})"
        pager = {"k": k, "count": count, "total": len(runs), "first": (k - 1) * PAGE_SIZE + 1, "last": (k - 1) * PAGE_SIZE + len(chunk),
                 "prev": paths[k - 2] if k > 1 else None, "next": paths[k] if k < count else None, "paths": paths}
        front, body = site.page(template, path, page_meta, intro=intro, views=views or [], related=related or [],
                                rows=Later(lambda chunk=chunk: rows(site, chunk)), pager=pager, with_experiment=with_experiment, metric_label=metric_label)
        key = site.key("listing", template, page_meta, intro, views, related, with_experiment, metric_label, pager,
                       [run_fingerprint(r) + run_fingerprint(site.baseline.get(r.id)) for r in chunk])
        pages.append(Page(path, front, body, key=key))
    return pages


def runs_index(site: Site) -> list[Page]:
    meta = {"title": "Runs", "page_type": "runs", "description": "Every run on record, newest first."}
    intro = ("Every run on record, newest first, across all experiments. Each experiment's page lists its own runs "
             "by other orders and by status.")
    return paged(site, site.runs, "runs/_index.md", lambda k: f"runs/page-{k}.md", meta, intro=intro)


def view_slug(order: str, status: str) -> str:
    return order if status == "all" else f"{order}-{status}"


def view_path(experiment: str, order: str, status: str, k: int = 1) -> str:
    """Where one order/filter of an experiment's runs is published; newest/all is the experiment page itself."""
    if order == "newest" and status == "all" and k == 1:
        return f"experiments/{experiment}/_index.md"
    slug = view_slug(order, status)
    return f"experiments/{experiment}/{slug}.md" if k == 1 else f"experiments/{experiment}/{slug}-page-{k}.md"


def statuses(runs: list[RunView]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    return sorted(counts.items(), key=lambda kv: (kv[0] != "ok", kv[0]))


def views_menu(experiment: str, runs: list[RunView], order: str, status: str, metric_label: str) -> list[dict]:
    """The links of the sort and filter bar, as (group, label, path, current) rows."""
    menu = [{"group": "Sort", "label": o.label.replace("best", f"best {metric_label}"), "path": view_path(experiment, o.slug, status),
             "current": o.slug == order} for o in ORDERS]
    if len(statuses(runs)) > 1:  # one status: a filter would repeat the list
        menu.append({"group": "Status", "label": f"all ({len(runs)})", "path": view_path(experiment, order, "all"), "current": status == "all"})
        menu += [{"group": "Status", "label": f"{name} ({n})", "path": view_path(experiment, order, name), "current": status == name}
                 for name, n in statuses(runs)]
    return menu


def experiment_views(site: Site, experiment: str, runs: list[RunView], metric_label: str) -> tuple[list[Page], list[dict]]:
    """Every order and status filter of one experiment's runs, except the first page of newest/all
    (that one is on the experiment page itself: see experiment_pages). Returns the pages, and the
    first page's rows and pager for the experiment page to show."""
    pages = []
    for order in ORDERS:
        ordered = order.sort(runs)
        found = statuses(runs)
        for status in ["all"] + ([name for name, _ in found] if len(found) > 1 else []):
            chosen = ordered if status == "all" else [r for r in ordered if r.status == status]
            label = order.label.replace("best", f"best {metric_label}")
            meta = {"title": f"{experiment}: runs, {label}" + ("" if status == "all" else f", {status} only"),
                    "page_type": "listing", "description": f"Runs of {experiment}, {label}."}
            views = views_menu(experiment, runs, order.slug, status, metric_label)
            pages += paged(site, chosen, view_path(experiment, order.slug, status), lambda k, o=order.slug, s=status: view_path(experiment, o, s, k),
                           meta, views=views, with_experiment=False, metric_label=metric_label)
    first = pages.pop(0)  # newest/all page 1: rendered as part of the experiment page
    assert first.path == view_path(experiment, "newest", "all")
    return pages, views_menu(experiment, runs, "newest", "all", metric_label)
