"""The Hugo site's search: a static Pagefind index built at publish (no service), searched in the browser.

Pagefind (the PyPI package, its own binary) indexes the built HTML of the pages marked
`data-pagefind-body` (run, experiment, comparison, guide and the author's pages; the listings, which
repeat the run pages, are not) into `<site>/pagefind/`. A run page is indexed by its id, experiment,
tags, configuration, description and samples; its results, audit and download tables are left out.

Indexing every page costs seconds per thousand pages, so a full Hugo build indexes the whole site and
an incremental one indexes only the pages it rendered, into a small index of its own
(`<site>/pagefind-delta-<n>/`, each entry labelled with its index's name as Pagefind metadata), by
Pagefind's command line over a folder holding just those pages. (Pagefind's Python service reads one
response per tenth of a second, so a page added through it costs 0.1 s: 0.7 s for a one-run publish,
and a quarter of an hour for 10,000 pages.) More than DELTA_PAGES pages are indexed as a whole site.
static/js/search.js merges the deltas with the whole-site index and, for a page held by several, keeps
the newest one's entry (`<site>/search.json` names the deltas and, for each page they hold, the newest; for a
page removed since, none, so that every entry of it is dropped). Past MAX_DELTAS deltas, after a full Hugo build, or when the
state is lost, the whole site is indexed again. MkDocs Material keeps its own search.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from trainer.tracking.files import write_text

from .incremental import STATE_DIR, read_state

BUNDLE, DELTA, MANIFEST = "pagefind", "pagefind-delta-", "search.json"
STATE = "search.json"
"""in the content's state folder: the site indexed, its deltas and the pages each holds"""
MAX_DELTAS = 40
DELTA_PAGES = 1000
"""pages rendered since the last index beyond which the whole site is indexed again rather than a delta (the
whole site's index costs seconds per thousand pages; a delta that large would hold most of it a second time)"""
MARK = "data-pagefind-body"
GONE = 0
"""the delta number of a page removed from the site since the whole site was indexed (search.json: "")"""


def _page_html(site: Path, url: str) -> str | None:
    """The built HTML of a site-relative URL (`/runs/x/`), when it is a page the index holds."""
    path = site / url.strip("/") / "index.html" if url.strip("/") else site / "index.html"
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    return raw.decode("utf-8") if MARK.encode() in raw else None


def _url(rendered: str) -> str:
    """`/runs/x` (as hugo_build records what was rendered) as Pagefind names the page: `/runs/x/`."""
    path = rendered.strip("/")
    return f"/{path}/" if path else "/"


def _pagefind(site: Path, output: list[str], keep: tuple[int, ...]) -> None:
    """Pagefind's binary (from the pagefind_bin package; its Python wrapper only starts it) over the HTML in `site`."""
    from pagefind_bin import get_executable

    result = subprocess.run([str(get_executable()), "--site", str(site), *output, "--quiet"],
                            capture_output=True, text=True, pass_fds=keep)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(result.returncode)


def full(site: Path, keep: tuple[int, ...] = ()) -> None:
    """Index every marked page of the built site into <site>/pagefind/, and drop the deltas. `keep`: file descriptors
    Pagefind inherits (the publish's locks)."""
    _pagefind(site, ["--output-subdir", BUNDLE], keep)
    for old in site.glob(f"{DELTA}*"):
        shutil.rmtree(old, ignore_errors=True)


def _labelled(html: str, name: str) -> str:
    """A page's HTML with its index's name as Pagefind metadata, so the search can tell which index an entry is from."""
    start = html.find(MARK)
    end = html.find(">", start) + 1 if start >= 0 else 0
    return html[:end] + f'<span hidden data-pagefind-meta="index:{name}"></span>' + html[end:] if end else html


def delta(site: Path, number: int, urls: list[str], keep: tuple[int, ...] = ()) -> list[str]:
    """Index the pages at `urls` into <site>/pagefind-delta-<number>/; returns the URLs indexed."""
    files = {u: html for u in urls if (html := _page_html(site, u)) is not None}
    target = site / f"{DELTA}{number}"
    shutil.rmtree(target, ignore_errors=True)
    if files:
        # The pages, labelled, at their own paths in a folder of their own: Pagefind names each by its path there.
        with tempfile.TemporaryDirectory(prefix="trainbook-search-") as pages:
            for url, html in files.items():
                page = Path(pages, url.strip("/"), "index.html")
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(_labelled(html, f"{target.name}/"), encoding="utf-8")
            _pagefind(Path(pages), ["--output-path", str(target)], keep)
    return sorted(files)


def update(content_dir: Path, site: Path, how: str, rendered: list[str], keep: tuple[int, ...] = (),
           removed: list[str] = ()) -> str:
    """Bring the site's index up to date after a Hugo build (`how`: full, incremental or unchanged; `removed`: the
    URLs of pages an incremental build deleted). A full build was indexed whole before it replaced the site
    (hugo_build), so only the state is written for it."""
    state_path = content_dir / STATE_DIR / STATE
    state = read_state(state_path)
    same_site = state.get("site") == str(site.resolve()) and (site / BUNDLE).is_dir()
    if how == "unchanged" and same_site:
        return "unchanged"
    deltas: list[int] = state.get("deltas", []) if same_site else []
    fresh: dict[str, int] = state.get("fresh", {}) if same_site else {}
    if how == "full" or not same_site or len(deltas) >= MAX_DELTAS or len(rendered) > DELTA_PAGES:
        if how != "full":
            full(site, keep)
        deltas, fresh, done = [], {}, "whole site"
    else:
        number = max(deltas, default=0) + 1
        fresh.update({_url(url): GONE for url in removed})  # no index holds them now: every entry of theirs is stale
        indexed = delta(site, number, [_url(u) for u in rendered], keep)
        if indexed:
            deltas.append(number)
            fresh.update({url: number for url in indexed})
        done = f"{len(indexed)} pages, in delta {number} of {len(deltas)}" + (f", {len(removed)} dropped" if removed else "")
    manifest = {"deltas": [f"{DELTA}{n}/" for n in deltas],
                "fresh": {url: f"{DELTA}{n}/" if n != GONE else "" for url, n in fresh.items()}}
    write_text(site / MANIFEST, json.dumps(manifest, sort_keys=True) + "\n", durable=False)
    write_text(state_path, json.dumps({"site": str(site.resolve()), "deltas": deltas, "fresh": fresh}) + "\n")
    return done
