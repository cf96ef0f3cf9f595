"""The one list of everything generated: every page module's pages for one publish."""
from __future__ import annotations

from . import compare, experiment_pages, guide, home, listings, sweep_pages, taxonomies
from .run_page import run_page
from .runs import RunView
from .site import Page, Site
from .targets import TARGETS, Target


def all_pages(runs: list[RunView], target: Target | str = "hugo", changes=None, published: dict | None = None,
              fresh=None) -> list[Page]:
    """Every generated page for these runs and sweeps (newest first), for one site engine. `fresh`: see Site.fresh."""
    runs, sweeps = sweep_pages.split(runs)
    site = Site(runs, TARGETS[target] if isinstance(target, str) else target, changes, published, sweeps=sweeps)
    if fresh is not None:
        site.fresh = fresh
    return [
        *listings.runs_index(site),
        *experiment_pages.pages(site),
        *taxonomies.pages(site),
        *home.pages(site),
        *(run_page(r, site) for r in runs),
        *compare.pages(site),
        *sweep_pages.pages(site),
        *guide.pages(site),
    ]
