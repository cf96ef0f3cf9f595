"""Lists of runs that work without JavaScript: every order and filter is a page of its own.

A listing is a table of runs, cut into pages of PAGE_SIZE rows with links between them. An
experiment's runs are listed once per (order, status) pair — newest, best key metric, longest;
all statuses or one — so a reader without JavaScript sorts and filters by following links.
With JavaScript, static/js/runs-table.js adds column sorting and a text filter on top.

Newest-first listings are "anchored": their later pages are counted from the oldest run, so a new
run changes only the first page and a publish of 10,000 runs re-renders a handful of pages. Ranked
orders (best, longest) show their top PAGE_SIZE only: a new run's place in a ranking would move every
row after it, so 25 numbered pages of an experiment's 2,500 runs would all change with each run; every
run is still listed, newest first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from . import describe, markup
from .site import Later, Page, Site, run_fingerprint
from .targets import href
from .runs import RunView

PAGE_SIZE = 100


@dataclass(frozen=True)
class Order:
    slug: str
    label: str
    sort: Callable[[list[RunView]], list[RunView]]


def best_first(runs: list[RunView]) -> list[RunView]:
    def rank(run: RunView):
        value = run.key_value
        if not isinstance(value, (int, float)) or run.status != "ok":
            return (1, 0.0, "")  # unfinished or metric-less runs last, newest first among them (stable sort)
        return (0, value if run.key_metric.get("goal", "min") == "min" else -value, "")

    return sorted(runs, key=rank)


ORDERS = (
    Order("newest", "newest first", lambda runs: list(runs)),
    Order("best", "best first", best_first),
    Order("longest", "longest first", lambda runs: sorted(runs, key=lambda r: -(r.duration or 0.0))),
)


def rows(site: Site, runs: list[RunView]) -> list[dict]:
    """Display values of each run for a table: formatted here, printed by the template."""
    out = []
    for run in runs:
        value = run.key_value
        out.append({
            "run": run, "metric": describe.live_text(run) if run.live is not None else describe.metric_text(run),
            "number": markup.number(value) if value is not None else describe.live_text(run) if run.live is not None else "–",
            "value": value if isinstance(value, (int, float)) else "",
            "change": describe.change_text(describe.improvement(run, site.baseline.get(run.id))).replace(" than the previous run", ""),
            "duration": markup.duration(run.duration), "seconds": run.duration or 0,
            "commit": markup.short(run.commit), "date": markup.date(run.started).removesuffix(" UTC"),
        })
    return out


def row_fingerprint(site: Site, run: RunView) -> str:
    """What a listing's row of the run shows (the run, and the run it is compared with), worked out once per publish:
    each run is a row of several listings (the runs, its experiment's views, its terms)."""
    rows = site.shared.setdefault("row fingerprints", {})
    found = rows.get(run.id)
    if found is None:
        found = rows[run.id] = run_fingerprint(run) + run_fingerprint(site.baseline.get(run.id))
    return found


def _standard(runs: list[RunView], paths_of: Callable[[int], str]) -> list[tuple[str, list[RunView], dict]]:
    """Pages of PAGE_SIZE in list order, numbered 1, 2, 3... (any insertion moves every later row)."""
    count = max(1, math.ceil(len(runs) / PAGE_SIZE))
    paths = [paths_of(k) for k in range(1, count + 1)]
    out = []
    for k, path in enumerate(paths, start=1):
        chunk = runs[(k - 1) * PAGE_SIZE: k * PAGE_SIZE]
        out.append((path, chunk, {"mode": "numbered", "k": k, "count": count, "total": len(runs), "first": (k - 1) * PAGE_SIZE + 1,
                                  "last": (k - 1) * PAGE_SIZE + len(chunk), "prev": paths[k - 2] if k > 1 else None,
                                  "next": paths[k] if k < count else None, "paths": paths}))
    return out


def _anchored(runs: list[RunView], paths_of: Callable[[int], str]) -> list[tuple[str, list[RunView], dict]]:
    """Newest-first pages that stay put as runs are added: older runs fill pages of PAGE_SIZE counted from
    the oldest, and the first page holds the newest PAGE_SIZE to 2 x PAGE_SIZE - 1. A new run changes the
    first page only (and, once per PAGE_SIZE runs, the newest older page), so a publish stays small at any size."""
    archives = max(0, len(runs) // PAGE_SIZE - 1)
    oldest_first = runs[::-1]
    first = runs[: len(runs) - archives * PAGE_SIZE]
    archive = {j: paths_of(j + 1) for j in range(1, archives + 1)}  # paths_of(1) is the first page
    out = [(paths_of(1), first, {"mode": "newest", "shown": len(first), "older": archive.get(archives), "oldest": archive.get(1)
                                 if archives > 1 else None})]
    for j in range(archives, 0, -1):
        chunk = oldest_first[(j - 1) * PAGE_SIZE: j * PAGE_SIZE][::-1]
        out.append((archive[j], chunk, {"mode": "archive", "from": (j - 1) * PAGE_SIZE + 1, "to": j * PAGE_SIZE,
                                        "newer": archive.get(j + 1, paths_of(1)), "older": archive.get(j - 1), "newest": paths_of(1)}))
    return out


def layout(runs: list[RunView], paths_of: Callable[[int], str], anchored: bool) -> list[tuple[str, list[RunView], dict]]:
    """(path, runs, pager facts) for each page of a listing; `paths_of(1)` is its first page."""
    return _anchored(runs, paths_of) if anchored else _standard(runs, paths_of)


def paged(site: Site, runs: list[RunView], paths_of: Callable[[int], str], meta: dict, *, anchored: bool = False,
          intro: str = "", views: list | None = None, related: list | None = None, with_experiment: bool = True,
          metric_label: str = "key metric", template: str = "listing.md.j2") -> list[Page]:
    """`runs` as a table cut into pages, the first at `paths_of(1)`; newest-first lists are `anchored`."""
    pages = []
    for number, (path, chunk, pager) in enumerate(layout(runs, paths_of, anchored)):
        page_meta = {**meta, "search_exclude": True}
        page_views = views or []
        if number:
            where = f"page {pager['k']} of {pager['count']}" if pager["mode"] == "numbered" else \
                f"runs {pager['from']:,}–{pager['to']:,} counted from the oldest"
            page_meta["title"] = f"{meta['title']} ({where})"
            # The description may count the runs (a term's does): the later pages get one that does not change.
            page_meta["description"] = f"{page_meta['title']}."
            # Counts change with every run; left off the later pages so that they do not.
            page_views = [{**v, "label": v["label"].split(" (")[0]} for v in page_views]
        front, body = site.page(template, path, page_meta, intro=intro if not number else "", views=page_views, related=related or [],
                                rows=Later(lambda chunk=chunk: rows(site, chunk)), pager=pager, with_experiment=with_experiment,
                                metric_label=metric_label)
        key = site.key("listing", template, page_meta, intro if not number else "", page_views, related, with_experiment,
                       metric_label, pager, [row_fingerprint(site, r) for r in chunk])
        pages.append(Page(path, front, body, key=key))
    return pages


def runs_index(site: Site) -> list[Page]:
    meta = {"title": "Runs", "page_type": "runs", "description": "Every run on record, newest first."}
    intro = ("Every run on record, newest first, across all experiments. Each experiment's page lists its own runs "
             "by other orders and by status.")
    return paged(site, site.runs, lambda k: "runs/_index.md" if k == 1 else f"runs/older-{k - 1}.md", meta, intro=intro, anchored=True)


def view_slug(order: str, status: str) -> str:
    return order if status == "all" else f"{order}-{status}"


def view_path(experiment: str, order: str, status: str, k: int = 1) -> str:
    """Where one order/filter of an experiment's runs is published; newest/all is the experiment page itself.
    Newest-first lists continue on pages named from the oldest (`newest-older-3`), the others by number."""
    if order == "newest" and status == "all" and k == 1:
        return f"experiments/{experiment}/_index.md"
    slug = view_slug(order, status)
    if k == 1:
        return f"experiments/{experiment}/{slug}.md"
    return f"experiments/{experiment}/{slug}-older-{k - 1}.md" if order == "newest" else f"experiments/{experiment}/{slug}-page-{k}.md"


def statuses(runs: list[RunView]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    return sorted(counts.items(), key=lambda kv: (kv[0] != "ok", kv[0]))


def views_menu(experiment: str, runs: list[RunView], order: str, status: str, metric_label: str,
               found: list[tuple[str, int]] | None = None) -> list[dict]:
    """The links of the sort and filter bar, as (group, label, path, current) rows (`found`: statuses(runs), if known)."""
    found = statuses(runs) if found is None else found
    menu = [{"group": "Sort", "label": o.label.replace("best", f"best {metric_label}"), "path": view_path(experiment, o.slug, status),
             "current": o.slug == order} for o in ORDERS]
    if len(found) > 1:  # one status: a filter would repeat the list
        menu.append({"group": "Status", "label": f"all ({len(runs)})", "path": view_path(experiment, order, "all"), "current": status == "all"})
        menu += [{"group": "Status", "label": f"{name} ({n})", "path": view_path(experiment, order, name), "current": status == name}
                 for name, n in found]
    return menu


def experiment_views(site: Site, experiment: str, runs: list[RunView], metric_label: str) -> tuple[list[Page], list[dict]]:
    """Every order and status filter of one experiment's runs, except the first page of newest/all
    (that one is on the experiment page itself: see experiment_pages). Returns the pages, and the
    first page's rows and pager for the experiment page to show."""
    pages = []
    found = statuses(runs)
    for order in ORDERS:
        ordered = order.sort(runs)
        for status in ["all"] + ([name for name, _ in found] if len(found) > 1 else []):
            chosen = ordered if status == "all" else [r for r in ordered if r.status == status]
            label = order.label.replace("best", f"best {metric_label}")
            meta = {"title": f"{experiment}: runs, {label}" + ("" if status == "all" else f", {status} only"),
                    "page_type": "listing", "description": f"Runs of {experiment}, {label}."}
            views = views_menu(experiment, runs, order.slug, status, metric_label, found)
            anchored, intro = order.slug == "newest", ""
            if not anchored and len(chosen) > PAGE_SIZE:  # a ranking's top only (see the module's note)
                newest = href(view_path(experiment, order.slug, status), view_path(experiment, "newest", status))
                intro = f"The first {PAGE_SIZE} of {len(chosen):,} runs, {label}. Every run is listed [newest first]({newest})."
                chosen = chosen[:PAGE_SIZE]
            pages += paged(site, chosen, lambda k, o=order.slug, s=status: view_path(experiment, o, s, k), meta, views=views,
                           anchored=anchored, intro=intro, with_experiment=False, metric_label=metric_label)
    first = pages.pop(0)  # newest/all page 1: rendered as part of the experiment page
    assert first.path == view_path(experiment, "newest", "all")
    return pages, views_menu(experiment, runs, "newest", "all", metric_label, found)
