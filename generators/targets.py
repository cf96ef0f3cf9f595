"""The two site engines the generators write for: Hugo (the default) and MkDocs Material.

Every page is addressed by a content path in Hugo's convention (`runs/<id>/index.md` a leaf
bundle, `experiments/_index.md` a section's own page, `about.md` a plain page), and both engines
publish the same URLs (`/runs/<id>/`, `/experiments/`, `/about/`). So templates write one kind of
link, relative URLs, and raw-HTML links work unchanged in both sites. What differs is decided
here and only here: the file each path is written to, the front matter, Markdown link targets
(MkDocs wants `.md` files so `--strict` can check them), the figure syntax, and which syntax of
the other engine must never appear in a page (`foreign`, checked by the tests).
"""
from __future__ import annotations

import posixpath
import re

from . import markup


def url_of(path: str) -> str:
    """The site-relative URL a content path publishes to: `runs/x/index.md` -> `runs/x/`."""
    stem = path[: -len(".md")] if path.endswith(".md") else path
    head, _, name = stem.rpartition("/")
    if name in ("_index", "index"):
        return f"{head}/" if head else ""
    return f"{stem}/"


def root_of(path: str) -> str:
    """The relative prefix from a page's URL back to the site root: `../../` for `runs/x/`."""
    return "../" * url_of(path).count("/")


def href(here: str, to: str) -> str:
    """A relative URL from page `here` to page `to` (both content paths): `../x/`, `./` for itself."""
    # Both are folders of the site below its root, without "." or "..": a common prefix, then up and down again
    # (posixpath.relpath would make both absolute, with the working directory, for every link of every page).
    start, end = url_of(here).split("/")[:-1], url_of(to).split("/")[:-1]
    same = 0
    for a, b in zip(start, end):
        if a != b:
            break
        same += 1
    rel = "/".join([".."] * (len(start) - same) + end[same:])
    return rel + "/" if rel else "./"


def _src(src: str) -> str:
    """An image's address in Markdown: a file next to the page, percent-encoded, or an address already made safe (Safe)."""
    return src if isinstance(src, markup.Safe) else markup.url_part(src)


class Target:
    name = ""
    index_file = ""
    """the file name of a section's own page"""
    foreign: tuple[re.Pattern, ...] = ()
    """syntax that belongs to the other engine and must never appear in this engine's pages"""

    def file_of(self, path: str) -> str:
        return path

    def front(self, meta: dict) -> dict:
        raise NotImplementedError

    def figure(self, src: str, alt: str, caption: str) -> markup.Safe:
        raise NotImplementedError

    def curve_figure(self, src: str, alt: str, caption: str, series: list[str], data: str) -> markup.Safe:
        """A figure of per-step curves that a script may draw again as an interactive chart from the page's
        `data` file (generators/curves.py); the PNG stays for readers without JavaScript."""
        return self.figure(src, alt, caption)

    def finish_body(self, here: str, body: str, known: set[str]) -> str:
        """Last pass over a page's Markdown before it is written (MkDocs rewrites links here)."""
        return body


class Hugo(Target):
    name = "hugo"
    index_file = "_index.md"
    foreign = (
        re.compile(r'markdown="(?:span|block|1)"'),  # md_in_html
        re.compile(r"^!!! ", re.M),  # admonitions
        re.compile(r"\]\([^)\s]*\.md(?:#[^)]*)?\)"),  # links to source files
        re.compile(r"^\s*\{:? ?[.#][^}]*\}\s*$|\)\{[^}]*\}", re.M),  # attribute lists
        re.compile(r'"hide"\s*:|"search"\s*:\s*\{'),  # Material front matter
    )

    def front(self, meta: dict) -> dict:
        front = {"title": markup.visible(meta["title"]), "page_type": meta.get("page_type", "page")}
        for key in ("description", "date", "weight"):
            if meta.get(key) not in (None, ""):
                front[key] = markup.visible(meta[key]) if key == "description" else meta[key]
        front.update(meta.get("params", {}))
        front.update({taxonomy: terms for taxonomy, terms in meta.get("terms", {}).items() if terms})
        if meta.get("headless"):
            # Rendered only inside another page (the home page includes the overview).
            front["build"] = {"render": "never", "list": "never", "publishResources": False}
        return front

    def figure(self, src: str, alt: str, caption: str) -> markup.Safe:
        # A stand-alone image with a title: site/layouts/_markup/render-image.html makes it a <figure>.
        return markup.Safe(f'![{markup.inline(alt)}]({_src(src)} "{markup.inline(caption)}")')

    def curve_figure(self, src: str, alt: str, caption: str, series: list[str], data: str) -> markup.Safe:
        # A raw HTML block ends at a blank line, so the image between the two stays Markdown (and a <figure>).
        names = markup.inline(" ".join(series))
        return markup.Safe(f'<div class="curves" data-series="{names}" data-src="{markup.url_part(data)}">\n\n'
                           f"{self.figure(src, alt, caption)}\n\n</div>")


_MD_LINK = re.compile(r"(\]\()([^)\s#]*)(#[^)\s]*)?(\))")


class MkDocs(Target):
    name = "mkdocs"
    index_file = "index.md"
    foreign = (
        re.compile(r"\{\{[<%]"),  # shortcodes
        re.compile(r"\A\+\+\+"),  # TOML front matter
        re.compile(r"\.Params\.|\.RelPermalink|\.Site\."),  # Go template fields
        re.compile(r'"(?:build|page_type|kinds|datasets|statuses|aliases)"\s*:'),  # Hugo front matter
    )

    def file_of(self, path: str) -> str:
        head, _, name = path.rpartition("/")
        return f"{head}/index.md" if head and name == "_index.md" else "index.md" if name == "_index.md" else path

    def front(self, meta: dict) -> dict:
        front = {"title": markup.theme_text(meta["title"])}  # Material prints both unescaped
        if meta.get("description"):
            front["description"] = markup.theme_text(meta["description"])
        if meta.get("search_exclude"):
            front["search"] = {"exclude": True}  # paginated listings repeat the run pages' text
        return front

    def figure(self, src: str, alt: str, caption: str) -> markup.Safe:
        return markup.Safe(
            f'<figure markdown="span">\n  ![{markup.inline(alt)}]({_src(src)})\n'
            f"  <figcaption>{markup.inline(caption)}</figcaption>\n</figure>"
        )

    def finish_body(self, here: str, body: str, known: set[str]) -> str:
        """Point Markdown links at the `.md` files MkDocs checks, when they lead to a known page."""
        return _MD_LINK.sub(lambda m: self._relink(here, m, known), body)

    def _relink(self, here: str, m: re.Match, known: set[str]) -> str:
        target = m.group(2)
        last = target.rstrip("/").rsplit("/", 1)[-1]
        if not target or "://" in target or target.startswith(("/", "mailto:")) or (not target.endswith("/") and "." in last):
            return m.group(0)  # external, absolute, or a file such as loss.png
        url = posixpath.normpath(posixpath.join(url_of(here) or ".", target))
        if url == ".." or url.startswith("../"):
            return m.group(0)  # above the site root: left for MkDocs to report
        url = "" if url == "." else url + "/"
        for candidate in (f"{url}index.md", f"{url[:-1]}.md" if url else "index.md"):
            if candidate in known:
                rel = posixpath.relpath(candidate, posixpath.dirname(self.file_of(here)) or ".")
                return f"{m.group(1)}{rel}{m.group(3) or ''}{m.group(4)}"
        return m.group(0)


TARGETS = {"hugo": Hugo(), "mkdocs": MkDocs()}
