"""The site's size budget: which files of which runs stay on the site, and which live in the second store.

GitHub Pages refuses a site over 1 GB, and every run adds its figures and files to the site. A publish is
given a budget (`--site-budget`, default DEFAULT_BUDGET); when the site would outgrow it, the files of the
oldest runs move to the second store (`--store-url`, e.g. an orphan branch of the same repository served
by raw.githubusercontent.com), oldest first, in two tiers:
  1. figures and the artifacts no page reads (embeddings, traces, ...);
  2. only when that is not enough, the files pages read (metrics, samples, the sections' artifacts).
The record and resolved config of every run always stay, so every run keeps its page, rendered from its
record, with its moved files linked from the store. Nothing is ever deleted: a file moved once stays in
the store (a later publish has only the history, not the bytes), and the history index says where it is.

The decision is a pure function of the runs, the budget and what was stored before (`place`); the
generators render the links from it and ship it in the site (history.STORE_SHIPPED), where the history
export reads it to write the index and copy the newly moved files into the store folder. Torch-free.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from trainer.tracking import layout

from . import history, markup
from .runs import RunView
from .sections import SECTIONS

DEFAULT_BUDGET = "500MB"
"""half of GitHub Pages' 1 GB limit: room for the pages themselves and for a few publishes' growth"""
PAGE_BYTES, FIGURE_BYTES, FILE_BYTES = 14_000, 1_000, 300
"""what a run adds to the site besides its files (`page_bytes`): a base for its page, its rows in listings and
taxonomy pages, its share of the search index and its chart data, and more for each figure and file it shows.
Measured at 10,000 synthetic runs of the benchmark (1 figure, 3.75 files each): 245.2 MB built, 248.8 MB by this
model. (The base was 9,000 before the search index, about 4.4 KB a run, and the chart data; with it the model said
198.8 MB, and a site built within a 200 MB budget came out at 232 MB.)"""
SITE_BYTES = 1_500_000
"""what the site holds besides its runs, bounded whatever their number: the guide, styles, comparison pages and each
experiment's figures (measured: about 1.2 MB with the four default experiments)"""
PAGES_LIMIT = 1_000_000_000
"""GitHub Pages refuses a site larger than this; a publish over it fails (`check`), over its budget it only warns"""
HEADROOM = 0.9
"""files move until the estimate is under this share of the budget, so an estimate a little short still fits"""
ALWAYS_KEPT = (layout.RECORD, layout.CONFIG)
"""on the site for every run, forever: the page is rendered from them (and its model files: `_tiers`)"""
PAGE_DATA = (layout.METRICS, layout.SAMPLES, *sorted({s.artifact for s in SECTIONS.values() if s.artifact}))
"""files the pages read besides the record: moved only when the figures and other files are not enough"""
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?", re.I)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


class BudgetError(Exception):
    """The site cannot be kept within its budget as asked; the message says by how much and what would help."""


def parse_size(text: str) -> int | None:
    """Bytes of "500MB", "1.5GB", "800MiB" or "250000000"; None for "none" (no budget)."""
    if str(text).strip().lower() in ("none", "off", ""):
        return None
    m = _SIZE.fullmatch(str(text).strip())
    if not m:
        raise BudgetError(f"site budget {text!r}: expected a size such as 500MB, 1GB or 800MiB, or none")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()])


@dataclass
class Placement:
    stored: dict[str, set[str]] = field(default_factory=dict)
    """run id -> names of its files that live in the store"""
    site_bytes: int = 0
    """the site's estimated size with this placement"""
    store_bytes: int = 0
    """bytes of every file in the store (from the records)"""
    moved: int = 0
    """files this placement moves that were on the site before"""


def _files(run: RunView) -> dict[str, int]:
    """Bytes of each file the run's page publishes, its model files included (RunView.footprint)."""
    return dict(run.footprint["files"])


def page_bytes(run: RunView) -> int:
    return PAGE_BYTES + FIGURE_BYTES * run.footprint["figures"] + FILE_BYTES * run.footprint["artifacts"]


def _tiers(run: RunView, files: dict[str, int]) -> tuple[set[str], set[str]]:
    # A run's model files stay with its page: `trainer sample` and `trainer eval` load them from the page's address.
    movable = set(files) - set(ALWAYS_KEPT) - set(run.footprint["models"])
    return movable - set(PAGE_DATA), movable & set(PAGE_DATA)


def footprint(runs: list[RunView]) -> dict[str, int]:
    """Bytes of a site of these runs with nothing in the store, by what may move: "site" and "kept" (pages, records,
    configs) never, "page data" second, "figures and files" first."""
    total = {"site": SITE_BYTES, "kept": 0, "page data": 0, "figures and files": 0}
    for run in runs:
        files = _files(run)
        first, second = _tiers(run, files)
        total["kept"] += page_bytes(run) + sum(files[n] for n in set(files) - first - second)
        total["page data"] += sum(files[n] for n in second)
        total["figures and files"] += sum(files[n] for n in first)
    return total


def place(runs: list[RunView], budget: int | None, stored_before: dict[str, set[str]]) -> Placement:
    """Which files of `runs` (newest first) live in the store so the site fits `budget` bytes (None: no budget)."""
    files = {run.id: _files(run) for run in runs}
    stored = {run.id: set(stored_before.get(run.id, ())) & set(files[run.id]) for run in runs}
    before = {run_id: set(names) for run_id, names in stored.items()}
    site = SITE_BYTES + sum(page_bytes(r) + sum(b for n, b in files[r.id].items() if n not in stored[r.id]) for r in runs)
    target = None if budget is None else int(budget * HEADROOM)
    for tier in (0, 1):
        for run in reversed(runs):  # oldest first
            if target is None or site <= target:
                break
            move = _tiers(run, files[run.id])[tier] - stored[run.id]
            stored[run.id] |= move
            site -= sum(files[run.id][n] for n in move)
    if target is not None and site > target:
        raise BudgetError(f"the site would be {markup.size(site)} even with every run's figures, metrics and files in the "
                          f"store: over {HEADROOM:.0%} of its budget of {markup.size(budget)} with {len(runs):,} runs' pages and "
                          f"records alone; raise SITE_BUDGET (GitHub Pages allows 1 GB)")
    placement = Placement({k: v for k, v in stored.items() if v}, site)
    placement.store_bytes = sum(files[k][n] for k, names in placement.stored.items() for n in names)
    placement.moved = sum(len(v - before[k]) for k, v in stored.items())
    return placement


def store_base(given: str | None, runs: list[RunView]) -> str | None:
    """The store's base address: the one given, which must be the history's own when it already stores files."""
    known = {history.store_base_of(url) for r in runs for url in r.stored.values()}
    if given and not history.STORE_URL.fullmatch(given):
        raise BudgetError(f"store URL {given!r}: expected http(s)://host/path/ ending in '/', without credentials or query")
    if given and known - {given}:
        raise BudgetError(f"store URL {given!r}: the published history keeps files at {sorted(known)[0]!r}; one history has "
                          "one store (move its files there first)")
    return given or (sorted(known)[0] if known else None)


def apply(runs: list[RunView], placement: Placement, base: str | None) -> list[RunView]:
    """The runs with `stored` set: each stored file's address in the store."""
    if placement.moved and not base:
        raise BudgetError(f"the site would be over its budget ({placement.moved} files of old runs must move off it) and "
                          "no second store is configured: set STORE_URL (and STORE, the folder the publish fills; see "
                          "docs/ci.md), or raise SITE_BUDGET")
    out = []
    for run in runs:
        names = placement.stored.get(run.id, set())
        urls = {n: run.stored.get(n) or history.stored_url(base or "", run.id, n) for n in sorted(names)}
        out.append(run.copy_with(stored=urls) if urls or run.stored else run)
    return out


def shipped(runs: list[RunView], base: str | None) -> str | None:
    """The text of history.STORE_SHIPPED for a site whose runs keep files in the store; None when none does."""
    listed = {r.id: set(r.stored) for r in runs if r.stored}
    return history.stored_listing(base, listed) if listed and base else None


# --- the built site, measured ------------------------------------------------------------------------

def folder_bytes(folder: Path) -> tuple[int, int]:
    """(bytes, files) of every file under `folder` (none when it does not exist)."""
    sizes = [p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()] if folder.is_dir() else []
    return sum(sizes), len(sizes)


def check(site: Path, budget: int | None, store: Path | None) -> str:
    """A line saying how large the built site (and what moved to the store) is; BudgetError over Pages' limit."""
    size, count = folder_bytes(site)
    line = f"{site}: {markup.size(size)} in {count:,} files"
    if budget is not None:
        line += f", {size / budget:.0%} of its budget of {markup.size(budget)}"
    if store is not None:
        moved, files = folder_bytes(store)
        line += f"; {markup.size(moved)} in {files:,} files in the store folder {store}"
    if size > PAGES_LIMIT:
        raise BudgetError(f"{line}: over GitHub Pages' limit of {markup.size(PAGES_LIMIT)}, which would refuse it; lower "
                          "SITE_BUDGET and give a store (STORE_URL) so that old runs' files move there")
    if budget is not None and size > budget:
        line += " (over the budget: the estimate of its pages was short; lower SITE_BUDGET a little)"
    return line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators.site_budget", description="Measure a built site against its budget.")
    p.add_argument("--site", type=Path, default=Path("public"), help="the built site (default: public)")
    p.add_argument("--budget", default=DEFAULT_BUDGET, help=f"its budget, e.g. 500MB, or none (default: {DEFAULT_BUDGET})")
    p.add_argument("--store", type=Path, help="the folder this publish moved files into")
    args = p.parse_args(argv)
    try:
        print(check(args.site, parse_size(args.budget), args.store), file=sys.stderr)
    except BudgetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
