"""The Hugo site's search: a static Pagefind index built at publish (no service), searched in the browser.

Pagefind (the PyPI package, its own binary) indexes the built HTML of the pages marked
`data-pagefind-body` (run, experiment, comparison, guide and the author's pages; the listings, which
repeat the run pages, are not) into `<site>/pagefind/`. A run page is indexed by its id, experiment,
tags, configuration, description and samples; its audit and download tables are left out.

Indexing every page costs seconds per thousand pages, so an incremental Hugo build has only the pages
it rendered indexed, into a second, small index (`<site>/pagefind-delta/`) that static/js/search.js
merges with the first; for a page in both, the newer (the delta's) is shown. The delta holds every
page rendered since the whole site was last indexed: past DELTA_MAX pages, after a full Hugo build or
when the state is lost, the whole site is indexed again. `<site>/search.json` tells the script which
pages the delta holds. MkDocs Material keeps its own search.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

from trainer.tracking.files import write_text

from .incremental import STATE_DIR

BUNDLE, DELTA, MANIFEST = "pagefind", "pagefind-delta", "search.json"
STATE = "search.json"
"""in the content's state folder: the destination indexed and the pages in its delta"""
DELTA_MAX = 400
MARK = "data-pagefind-body"


def _load(path: Path) -> dict:
    try:
        found = json.loads(path.read_text())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _page_file(site: Path, url: str) -> Path | None:
    """The built HTML of a site-relative URL (`/runs/x`), when it is a page the index holds."""
    path = site / url.strip("/") / "index.html" if url.strip("/") else site / "index.html"
    try:
        return path if MARK in path.read_text(encoding="utf-8", errors="replace") else None
    except OSError:
        return None


def full(site: Path) -> None:
    """Index every marked page of the built site into <site>/pagefind/, and drop the delta."""
    result = subprocess.run([sys.executable, "-m", "pagefind", "--site", str(site), "--output-subdir", BUNDLE, "--quiet"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(result.returncode)
    shutil.rmtree(site / DELTA, ignore_errors=True)
    write_text(site / MANIFEST, json.dumps({"delta": None, "fresh": []}) + "\n", durable=False)


def delta(site: Path, urls: list[str]) -> None:
    """Index the pages at `urls` into <site>/pagefind-delta/ (replacing the last delta)."""
    files = {u: f for u in urls if (f := _page_file(site, u)) is not None}
    staging = site / f".{DELTA}.new"
    shutil.rmtree(staging, ignore_errors=True)
    if files:
        asyncio.run(_write(staging, files))
    shutil.rmtree(site / DELTA, ignore_errors=True)
    if staging.exists():
        staging.rename(site / DELTA)
    write_text(site / MANIFEST, json.dumps({"delta": DELTA + "/" if files else None, "fresh": sorted(files)}) + "\n",
               durable=False)


async def _write(into: Path, files: dict[str, Path]) -> None:
    from pagefind.index import PagefindIndex  # starts its binary as a service: only when a delta is written

    async with PagefindIndex(config={"output_path": str(into)}) as index:
        for url, path in sorted(files.items()):
            await index.add_html_file(content=path.read_text(encoding="utf-8"), url=url)


def update(content_dir: Path, site: Path, how: str, rendered: list[str]) -> str:
    """Bring the site's index up to date after a Hugo build (`how`: full, incremental or unchanged)."""
    state_path = content_dir / STATE_DIR / STATE
    state = _load(state_path)
    same_site = state.get("site") == str(site.resolve()) and (site / BUNDLE).is_dir()
    if how == "unchanged" and same_site:
        return "unchanged"
    fresh = sorted(set(state.get("fresh", [])) | {"/" + u.strip("/") + ("/" if u.strip("/") else "") for u in rendered})
    if how == "full" or not same_site or len(fresh) > DELTA_MAX:
        full(site)
        fresh, done = [], "full"
    else:
        delta(site, fresh)
        done = f"delta of {len(fresh)} pages"
    write_text(state_path, json.dumps({"site": str(site.resolve()), "fresh": fresh}) + "\n")
    return done
