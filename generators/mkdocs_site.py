"""The MkDocs Material site: a docs folder and a config the generators own whole.

`python -m generators --engine mkdocs` writes `<out>/docs/` (the generated pages, the author's
hand-written pages from content/ converted for MkDocs, the stylesheet and script from static/)
and `<out>/mkdocs.yml`, which inherits everything a person edits from `site/mkdocs.yml` and adds
an explicit, grouped navigation: one entry per experiment and per index, never one per run (a
navigation of 1,000 runs takes MkDocs minutes to build and no reader can use it).

The author's pages are never edited: their copies get MkDocs file names and YAML front matter,
and their links to pages are pointed at the `.md` files MkDocs checks. A Hugo shortcode in them
stops the build with the file and line, since MkDocs would print it literally.
"""
from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import yaml

from . import guide
from .content import ContentError, is_generated
from .home import OVERVIEW
from .site import Page, front_matter
from .targets import MkDocs

BASE_CONFIG = Path(__file__).resolve().parents[1] / "site" / "mkdocs.yml"
STATIC = Path(__file__).resolve().parents[1] / "static"
SHORTCODE = re.compile(r"\{\{[<%]")
KEPT_FRONT = ("title", "description")
"""front matter keys of hand-written pages that mean the same in MkDocs; the rest are Hugo's"""


def _split_front(path: Path, text: str) -> tuple[dict, str]:
    for fence, parse in (("---", yaml.safe_load), ("+++", tomllib.loads)):
        if text.startswith(fence + "\n"):
            end = text.find("\n" + fence, len(fence))
            if end < 0:
                raise ContentError(f"{path}: front matter opened with {fence} is never closed")
            try:
                front = parse(text[len(fence) + 1: end]) or {}
            except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
                raise ContentError(f"{path}: front matter is not valid: {e}") from None
            return front, text[end + len(fence) + 1:].lstrip("\n")
    return {}, text


def _authored_files(content_dir: Path) -> list[Path]:
    """Files under content/ outside the folders the generators wrote for Hugo (never descended into)."""
    found = []
    for folder, dirs, names in os.walk(content_dir):
        here = Path(folder)
        if here != content_dir and any(n in names and is_generated(here / n) for n in ("_index.md", "index.md")):
            dirs.clear()
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [here / n for n in sorted(names) if not n.startswith(".")]
    return found


def hand_written(content_dir: Path) -> tuple[list[Page], dict[str, Path]]:
    """The author's pages (as MkDocs pages) and their other files (docs path -> source)."""
    pages, files = [], {}
    if not content_dir.is_dir():
        return pages, files
    for path in _authored_files(content_dir):
        rel = path.relative_to(content_dir)
        if path.suffix != ".md":
            files[rel.as_posix()] = path
            continue
        if is_generated(path):
            continue
        text = path.read_text(encoding="utf-8")
        front, body = _split_front(path, text)
        if front.get("draft") is True:
            continue
        for number, line in enumerate(body.splitlines(), start=1):
            if SHORTCODE.search(line):
                raise ContentError(f"{path}: line {number} uses a Hugo shortcode, which MkDocs would print as text; "
                                   "write it as Markdown or HTML instead")
        kept = {k: front[k] for k in KEPT_FRONT if front.get(k)}
        kept.setdefault("title", path.stem.replace("-", " ").capitalize() if path.stem != "_index" else "Trainbook")
        pages.append(Page(rel.as_posix(), kept, _unmarked_front(kept) + body))
    return pages, files


def _unmarked_front(front: dict) -> str:
    """The author's front matter without the `generated` mark (their page, only converted)."""
    return "---\n" + json.dumps(front, indent=1, ensure_ascii=False) + "\n---\n"


def home_page(author: Page | None, overview: Page | None) -> Page:
    """The author's home page with the generated overview after it."""
    front = author.front if author else {"title": "Trainbook"}
    body = author.text() if author else front_matter(front)
    if overview is not None:
        text = overview.text()
        body = body.rstrip("\n") + "\n\n" + text[text.index("\n---\n", 3) + 5:]
    return Page("_index.md", front, body)


def site_pages(generated: list[Page], content_dir: Path) -> tuple[list[Page], list[Page], dict[str, Path]]:
    """Every page of the MkDocs site, the author's pages among them, and the author's other files to copy."""
    authored, files = hand_written(content_dir)
    author_home = next((p for p in authored if p.path == "_index.md"), None)
    overview = next((p for p in generated if p.path == OVERVIEW), None)
    taken = {MkDocs().file_of(p.path) for p in generated}
    pages = [p for p in generated if p.path != OVERVIEW]
    for page in authored:
        if page is author_home:
            continue
        if MkDocs().file_of(page.path) in taken:
            raise ContentError(f"{content_dir / page.path}: a hand-written page is in the way of a generated one; move or rename it")
        pages.append(page)
    return [home_page(author_home, overview), *pages], authored, files


def static_files() -> dict[str, Path]:
    return {p.relative_to(STATIC).as_posix(): p for p in sorted(STATIC.rglob("*")) if p.is_file()}


def nav(pages: list[Page], authored: list[Page]) -> list:
    """Home, experiments (one entry each), runs, the taxonomies, the guide, then the author's other pages."""
    by_path = {p.path: p for p in pages}
    entries: list = ["index.md"]  # titled by the author's home page
    experiments = sorted(p.path for p in pages if re.fullmatch(r"experiments/[^/]+/_index\.md", p.path))
    if "experiments/_index.md" in by_path:
        entries.append({"Experiments": ["experiments/index.md"] + [{p.split("/")[1]: MkDocs().file_of(p)} for p in experiments]})
    if "runs/_index.md" in by_path:
        entries.append({"Runs": "runs/index.md"})
    if "compare/_index.md" in by_path:
        entries.append({"Comparisons": "compare/index.md"})
    if "sweeps/_index.md" in by_path:
        entries.append({"Sweeps": "sweeps/index.md"})
    browse = [{by_path[f"{t}/_index.md"].front["title"]: f"{t}/index.md"} for t in ("kinds", "datasets", "statuses", "tags")
              if f"{t}/_index.md" in by_path]
    if browse:
        entries.append({"Browse": browse})
    if guide.INDEX in by_path:
        entries.append({"Guide": guide.nav(pages)})
    for page in authored:
        if page.path != "_index.md" and "/" not in page.path:  # top-level pages of the author, e.g. about.md
            entries.append({page.front["title"]: MkDocs().file_of(page.path)})
    return entries


def config(out_dir: Path, pages: list[Page], authored: list[Page], site_dir: Path | None = None) -> str:
    """`<out>/mkdocs.yml`: the base config by inheritance, this site's folders and navigation."""
    conf = {
        "INHERIT": os.path.relpath(BASE_CONFIG, out_dir.resolve()),
        "docs_dir": "docs",
        "nav": nav(pages, authored),
    }
    if site_dir is not None:
        conf["site_dir"] = os.path.relpath(site_dir.resolve(), out_dir.resolve())
    return "# Written by `python -m generators --engine mkdocs`; edit site/mkdocs.yml instead.\n" + \
        yaml.safe_dump(conf, sort_keys=False, allow_unicode=True)
