"""The overview on the home page: the latest run of each experiment, and what changed since the previous publish.

The home page itself is the author's (`content/_index.md`). The overview is generated next to it:
for Hugo a headless page the home layout includes, for MkDocs appended to the home page (see
mkdocs_site). Its links are written relative to the home page, where it is shown.
"""
from __future__ import annotations

from . import describe, experiment_pages, markup
from .site import Page, Site

OVERVIEW = "overview/index.md"
LISTED = 12
"""runs named one by one in "what changed"; more are counted"""


def change_rows(site: Site) -> dict | None:
    changes = site.changes
    if changes is None:
        return None
    runs = {r.id: r for r in site.runs}
    new = [runs[i] for i in changes.new if i in runs]
    return {
        "first": changes.since is None, "since": markup.date(changes.since) if changes.since else "", "empty": changes.empty,
        "new": [{"run": r, "metric": describe.metric_text(r)} for r in new[:LISTED]], "more_new": max(0, len(new) - LISTED),
        "removed": changes.removed[:LISTED], "more_removed": max(0, len(changes.removed) - LISTED),
        "status": [{"run": runs[i], "old": old, "new": now} for i, old, now in changes.status if i in runs][:LISTED],
        "verification": [{"run": runs[i], "verified": ok} for i, ok in changes.verification if i in runs][:LISTED],
        "best": [{"experiment": e, "label": label, "old": markup.number(old), "new": markup.number(now),
                  "change": f"{abs(now - old) / abs(old):.1%}" if old else ""} for e, label, old, now, goal in changes.best],
        "reused": [{"experiment": e, "run": runs[i], "why": why} for e, i, why in changes.reused if i in runs],
    }


def running_rows(site: Site) -> list[dict]:
    """Runs training now (only a live publish has them: generators/watch.py), newest first."""
    return [{"run": r, "text": describe.live_text(r)} for r in site.runs if r.live is not None]


def pages(site: Site) -> list[Page]:
    cards = [experiment_pages.card(site, name, runs) for name, runs in sorted(site.by_experiment.items())]
    changes = change_rows(site)
    running = running_rows(site)
    meta = {"title": "Overview", "page_type": "overview", "headless": True}
    # Written as if it were the home page: that is where its links are followed from.
    front, body = site.page("overview.md.j2", "_index.md", meta, cards=cards, changes=changes, running=running)
    page_key = site.key("overview", [experiment_pages.card_key(c) for c in cards], site.changes and vars(site.changes),
                        [(r["run"].id, r["text"]) for r in running])
    return [Page(OVERVIEW, front, body, key=page_key)]
