"""Writing generated pages into content/ without ever touching hand-written ones.

A generated page says `"generated": true` in its front matter; a page without it is the
author's and is never overwritten or deleted. Generated pages (and bundles) that this pass did
not produce, e.g. for runs that no longer exist, are removed.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from trainer.tracking.files import write_bytes, write_text

from .pages import Page


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


def _copy(src: Path, dst: Path) -> None:
    if dst.is_file() and dst.stat().st_size == src.stat().st_size and dst.read_bytes() == src.read_bytes():
        return
    write_bytes(dst, src.read_bytes())


def write(content_dir: Path, pages: list[Page]) -> dict:
    """Write every page and its files; prune stale generated pages. Returns counts for the log."""
    written = set()
    for page in pages:
        target = content_dir / page.path
        if target.exists() and not is_generated(target):
            raise ContentError(f"{target}: a hand-written page is in the way of a generated one; move or rename it")
        if not target.exists() or target.read_text(encoding="utf-8") != page.body:
            write_text(target, page.body)
        written.add(target.resolve())
        for src in page.files:
            _copy(src, target.parent / src.name)
            written.add((target.parent / src.name).resolve())
    removed = prune(content_dir, written)
    return {"pages": len(pages), "removed": removed}


def prune(content_dir: Path, keep: set[Path]) -> int:
    removed = 0
    for page in sorted(content_dir.rglob("*.md")):
        if page.resolve() in keep or not is_generated(page):
            continue
        if page.name == "index.md":  # a generated leaf bundle: the folder is all ours
            shutil.rmtree(page.parent)
        else:
            page.unlink()
        removed += 1
    for bundle in {p.parent for p in keep if p.name == "index.md"}:  # stale files inside kept bundles
        for f in bundle.iterdir():
            if f.is_file() and f.resolve() not in keep:
                f.unlink()
    return removed
