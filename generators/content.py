"""Writing generated pages into a content folder without ever touching hand-written ones.

A generated page says `"generated": true` in its front matter; a page without it is the
author's and is never overwritten or deleted. Generated pages (and bundles) that this pass did
not produce, e.g. for runs that no longer exist, are removed. A folder the generators own whole
(MkDocs' docs folder, rebuilt from content/ and runs/) is pruned of anything not written.

Files published next to a page are hard links to the run's own files where the file system
allows (a run's artifacts are never rewritten, and a publish of 10,000 runs should not copy
10,000 sets of figures); pages and drawn figures are written atomically, and only when their
bytes change. Pages skip the per-file fsync (they can be rebuilt from runs/); one sync makes
them durable before the manifest records them as written.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

from trainer.figures import parallel
from trainer.tracking.files import write_bytes, write_text

from .incremental import STATE_DIR, Manifest
from .site import Page
from .targets import TARGETS, Target


class ContentError(Exception):
    pass


def is_generated(path: Path) -> bool:
    """True when the file's front matter marks it as written by the generators."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.readline().strip() != "---":
                return False
            lines = []
            for line in f:
                if line.strip() == "---":
                    break
                lines.append(line)
        return json.loads("".join(lines)).get("generated") is True
    except (OSError, ValueError, UnicodeDecodeError, AttributeError):
        return False


def publish_file(src: Path, dst: Path) -> None:
    """Make `dst` the same file as `src`: a hard link if possible, else an atomic copy."""
    try:
        if os.path.samefile(src, dst):
            return
    except OSError:  # dst does not exist yet
        dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.link")
    try:
        tmp.unlink(missing_ok=True)
        os.link(src, tmp)
        os.replace(tmp, dst)
    except OSError:  # another file system, or links not allowed: copy instead
        tmp.unlink(missing_ok=True)
        if not (dst.is_file() and dst.stat().st_size == src.stat().st_size and dst.read_bytes() == src.read_bytes()):
            write_bytes(dst, src.read_bytes(), durable=False)


def write(content_dir: Path, pages: list[Page], target: Target | None = None, manifest: Manifest | None = None,
          owned: bool = False, loose: dict[str, Path] | None = None, drawer: parallel.FigureWorker | None = None,
          meanwhile: Callable[[], object] | None = None) -> dict:
    """Write every page and its files, and `loose` files (content path -> source) that belong to no page;
    prune stale generated pages. Returns counts for the log (`removed`: the content paths of the pages and files
    pruned). With `drawer`, each rendered page's figures
    (`parallel.Figure`) are sent to it as soon as the page is written, and drawn there while later pages render;
    `meanwhile` is called once every page is written, while the last figures are drawn (the manifest is saved
    after them, so it never names a figure that is not there)."""
    target = target or TARGETS["hugo"]
    manifest = manifest or Manifest(content_dir, enabled=False)
    files_of = {p.path: target.file_of(p.path) for p in pages}
    known = set(files_of.values())
    written: list[tuple[Page, Path]] = []
    """the pages built now (not kept), with their files: at 10,000 runs most pages are kept, and a path object for
    each of them would cost a publish of one new run a good part of its time"""
    bundles: set[Path] = set()
    """folders of pages rendered now that publish files: stale files in them are removed"""
    rendered: list[str] = []
    drawing: list[tuple[Callable[[Path], object], Path]] = []
    for page in pages:
        if page.kept is not None:  # known fresh when it was made (Site.fresh): nothing to build or write
            manifest.record(page.path, page.key, page.kept)
            continue
        target_file = content_dir / files_of[page.path]
        written.append((page, target_file))
        names = [src.name for src in page.files] + list(page.drawn)
        if manifest.fresh(page.path, page.key, target_file):
            manifest.record(page.path, page.key, names)
            continue
        if not owned and target_file.exists() and not is_generated(target_file):
            raise ContentError(f"{target_file}: a hand-written page is in the way of a generated one; move or rename it")
        text = target.finish_body(page.path, page.text(), known)
        rendered.append(page.path)
        if not target_file.is_file() or target_file.read_text(encoding="utf-8") != text:
            write_text(target_file, text, durable=False)  # synced once below, before the manifest says it is there
        for src in page.files:
            if src.is_file():  # a missing artifact is reported on its run's page by verification
                publish_file(src, target_file.parent / src.name)
        jobs = [(draw, target_file.parent / name) for name, draw in page.drawn.items()]
        if drawer is not None:
            drawer.submit([job for job in jobs if isinstance(job[0], parallel.Figure)])
            jobs = [job for job in jobs if not isinstance(job[0], parallel.Figure)]
        drawing += jobs
        if names:
            bundles.add(target_file.parent)
        manifest.record(page.path, page.key, names)
    for rel, src in (loose or {}).items():
        publish_file(src, content_dir / rel)
    if drawer is None:
        parallel.draw_all(drawing)
    else:  # what is left is a few data files, each written in a moment: no second process for them
        parallel.draw_each(drawing)
    if meanwhile is not None:
        meanwhile()
    if drawer is not None:
        drawer.wait()
    # The files next to each page are the names the manifest recorded for it above (a kept page's, as it was).
    if owned:
        keep = {content_dir / f for f in known}
        for page in pages:  # files next to pages: every page's, in a folder owned whole
            folder = (content_dir / files_of[page.path]).parent
            keep.update(folder / n for n in manifest.files.get(page.path, []))
        keep.update(content_dir / rel for rel in loose or {})
        removed = prune_owned(content_dir, keep)
    else:
        # Files next to pages: those of the folders rendered now (a kept page's folder is as it was).
        keep = {target_file for _, target_file in written}
        for page, target_file in written:
            if target_file.parent in bundles:
                keep.update(target_file.parent / n for n in manifest.files.get(page.path, []))
        keep.update(content_dir / rel for rel in loose or {})
        if manifest.previous is None:  # no record of the last publish's pages: every page of the folder is looked at
            previous = None
            keep.update(content_dir / f for f in known)
        else:
            previous = {content_dir / f for f in {target.file_of(p) for p in manifest.previous} - known}
        removed = prune(content_dir, keep, bundles, manifest.old_files, previous)
    now = set(rendered)
    sync([t for page, t in written if page.path in now] +
         [t.parent / name for page, t in written if t.parent in bundles for name in page.drawn])
    manifest.save()
    return {"pages": len(pages), "rendered": rendered, "removed": removed, "new": [p.path for p in pages if p.path not in manifest.old]}


SYNC_ONE_BY_ONE = 200
"""up to this many files written, each is fsynced; more, and one os.sync() flushes them all (it flushes every
file system of the machine, which on a busy machine costs more than a few fsyncs)"""


def sync(paths: list[Path]) -> None:
    """Make the files a pass wrote durable before the manifest says they are there."""
    if len(paths) > SYNC_ONE_BY_ONE:
        os.sync()
        return
    for path in [*paths, *{p.parent for p in paths}]:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # a drawing that wrote nothing (a figure with no data to draw)
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def prune(content_dir: Path, keep: set[Path], bundles: set[Path] = frozenset(), files: dict[str, list[str]] | None = None,
          candidates: set[Path] | None = None) -> list[str]:
    """Remove generated pages not in `keep` with the `files` the last publish wrote next to them
    (page path -> file names), and files not in `keep` from the generated `bundles`. Returns the content paths
    of the pages and files that went (a page's own files go with it, unnamed). `candidates`: the pages the last publish generated, so that only those are
    looked at (None: every page of the folder is, as when no publish recorded its pages)."""
    removed: list[str] = []
    pages = content_dir.rglob("*.md") if candidates is None else (p for p in candidates - keep if p.is_file())
    for page in sorted(pages):
        if page in keep or not is_generated(page):
            continue
        if page.name == "index.md":  # a generated leaf bundle: the folder is all ours
            shutil.rmtree(page.parent)
        else:
            for name in (files or {}).get(page.relative_to(content_dir).as_posix(), []):
                (page.parent / name).unlink(missing_ok=True)
            page.unlink()
        removed.append(page.relative_to(content_dir).as_posix())
        for folder in page.parents:  # folders left empty by it
            if folder == content_dir or folder.is_dir() and any(folder.iterdir()):
                break
            if folder.is_dir():
                folder.rmdir()
    for bundle in bundles:
        try:
            with os.scandir(bundle) as entries:  # a section's folder (runs/) holds a folder per run: no stat for each
                found = [Path(e.path) for e in entries if not e.name.endswith(".md") and not e.name.startswith(".") and e.is_file()]
        except FileNotFoundError:
            continue
        for f in found:
            if f not in keep:
                f.unlink()
                removed.append(f.relative_to(content_dir).as_posix())  # a published file gone: a built site must drop it
    return removed


def prune_owned(out_dir: Path, keep: set[Path]) -> list[str]:
    """In a folder the generators own whole, remove every file not written by this pass, then empty folders; returns
    the pages removed."""
    removed: list[str] = []
    for path in sorted(out_dir.rglob("*"), reverse=True):
        if STATE_DIR in path.relative_to(out_dir).parts:
            continue
        if path.is_file() and path not in keep:
            path.unlink()
            if path.suffix == ".md":
                removed.append(path.relative_to(out_dir).as_posix())
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return removed
