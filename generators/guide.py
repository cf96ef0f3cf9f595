"""The Guide: the Markdown pages of docs/ as a section of the site, and a configuration reference
rendered from the experiment schemas, so the product documents itself in either site engine.

`docs/<name>.md` is published at `/guide/<name>/`, `docs/index.md` at `/guide/` (the section's own
page). Each starts with YAML front matter: `title`, `weight` (the order) and `description`. Links
between guide pages are written as they work on GitHub, `[the audit trail](audit-trail.md#faults)`,
and rewritten here into the site's directory links (which the MkDocs target points back at `.md`
files, for `--strict` to check). A link the site cannot follow (any other relative path), a Hugo
shortcode (MkDocs would print it) or a level-1 heading (the title is the page's one h1) stops the
publish, naming the file and the line.

The reference page has one table per engine the registry knows (`trainer.engines.registry.specs()`): every field
`trainer.config.describe` finds in its schema, with type, default and the docstring written under
the field. Docstrings are escaped like every generated value; only their `code` spans become code.

A page's key holds its source text (the reference: its rows), so editing a guide page or a docstring
renders that page again on the next publish, and nothing else.
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from trainer.config import describe, field_docs
from trainer.engines.contract import EngineSpec
from trainer.engines import registry

from . import guide_sources, markup
from .content import ContentError
from .site import Later, Page, Site
from .targets import href

DOCS = guide_sources.DOCS
SECTION = "guide"
INDEX = f"{SECTION}/_index.md"
REFERENCE = f"{SECTION}/reference.md"
REFERENCE_META = {
    "title": "Configuration reference", "weight": 1000,
    "description": "Every setting of an experiment file, engine by engine, from the docstrings in the schemas.",
}
REFERENCE_NAME = "reference"
"""guide pages link the reference as `reference.md`, like any other guide page"""

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_LINK = re.compile(r'(\]\()([^)\s]+)((?:\s+"[^"]*")?\))')
_GUIDE_LINK = re.compile(r"([a-z0-9][a-z0-9-]*)\.md(#[A-Za-z0-9_-]+)?")
_EXTERNAL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:|//|#")
_SHORTCODE = re.compile(r"\{\{[<%]")
_FENCE = re.compile(r"\s*(```|~~~)")


@dataclass(frozen=True)
class Source:
    """One page of docs/ as read: its name, front matter and Markdown body."""

    file: Path
    front: dict
    body: str
    text: str
    """the whole file: what the page's key is made of"""

    @property
    def name(self) -> str:
        return self.file.stem

    @property
    def path(self) -> str:
        return INDEX if self.name == "index" else f"{SECTION}/{self.name}.md"

    @property
    def weight(self) -> int:
        return self.front.get("weight", 0)


def page_path(name: str) -> str:
    return INDEX if name == "index" else f"{SECTION}/{name}.md"


def _front(file: Path, text: str) -> tuple[dict, str]:
    if not text.startswith("---\n") or (end := text.find("\n---\n", 3)) < 0:
        raise ContentError(f"{file}: expected YAML front matter between two `---` lines (title, weight, description)")
    try:
        front = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError as e:
        raise ContentError(f"{file}: front matter is not valid YAML: {e}") from None
    if not isinstance(front, dict) or not isinstance(front.get("title"), str) or not front["title"].strip():
        raise ContentError(f"{file}: front matter needs a `title` (text)")
    if not isinstance(front.get("weight", 0), int) or not isinstance(front.get("description", ""), str):
        raise ContentError(f"{file}: front matter `weight` must be a whole number and `description` text")
    return front, text[end + 5:].lstrip("\n")


def read(docs: Path = DOCS) -> list[Source]:
    """Every page of docs/, the front page first, then by weight and name; [] when there is no docs/index.md."""
    if not (docs / "index.md").is_file():
        return []
    sources = []
    for file in sorted(docs.glob("*.md")):
        if not _NAME.fullmatch(file.stem) or file.stem == REFERENCE_NAME:
            raise ContentError(f"{file}: a guide page's file name must be lower-case letters, digits and '-' "
                               f"(and not {REFERENCE_NAME}.md, which is generated), e.g. audit-trail.md")
        text = file.read_text(encoding="utf-8")
        front, body = _front(file, text)
        sources.append(Source(file, front, body, text))
    return sorted(sources, key=lambda s: (s.name != "index", s.weight, s.name))


def site_markdown(source: Source, names: set[str]) -> str:
    """The page's Markdown with links to guide pages as site links; refuses what a site cannot show."""
    out, fenced = [], False
    for number, line in enumerate(source.body.splitlines(), start=1):
        where = f"{source.file}: line {number}"
        if _SHORTCODE.search(line):
            raise ContentError(f"{where} uses a Hugo shortcode, which MkDocs would print as text; write Markdown instead")
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and line.startswith("# "):
            raise ContentError(f"{where} is a level-1 heading; the front matter's title is the page's heading, start at ##")
        out.append(line if fenced else _LINK.sub(lambda m: _relink(m, source, names, where), line))
    return "\n".join(out) + "\n"


def _relink(m: re.Match, source: Source, names: set[str], where: str) -> str:
    target = m.group(2)
    if _EXTERNAL.match(target):
        return m.group(0)
    page = _GUIDE_LINK.fullmatch(target)
    if page is None or page.group(1) not in names:
        raise ContentError(f"{where} links to {target!r}, which the site does not have; link a guide page as NAME.md "
                           f"({', '.join(sorted(n + '.md' for n in names))}) or a full address (https://...)")
    return f"{m.group(1)}{href(source.path, page_path(page.group(1)))}{page.group(2) or ''}{m.group(3)}"


# --- the configuration reference -------------------------------------------------------------

def code_spans(text: str) -> markup.Safe:
    """A docstring as escaped Markdown text, its `code` spans as <code>."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: all of it is text
        return markup.inline(text)
    return markup.Safe("".join(markup.code(p) if i % 2 else markup.inline(p) for i, p in enumerate(parts)))


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def default_text(value) -> markup.Safe:
    """A default as an experiment file would write it (JSON is YAML), or `required`."""
    if value is dataclasses.MISSING:
        return markup.Safe("required")
    return markup.code(json.dumps(_plain(value), ensure_ascii=False))


def reference_rows(spec: EngineSpec) -> list[dict]:
    """The schema's fields grouped by section: the experiment's own fields first, then each section as declared."""
    docs = field_docs(spec.experiment_schema())
    groups: dict[str, dict] = {}
    for key, type_name, default, doc in describe(spec.experiment_schema()):
        section = key.split(".", 1)[0] if "." in key else ""
        group = groups.setdefault(section, {"section": section, "doc": docs.get(section, ""), "rows": []})
        group["rows"].append({"key": key, "type": type_name, "default": default, "doc": doc})
    return list(groups.values())


def _engine(spec: EngineSpec) -> dict:
    metric = spec.key_metric
    can = [what for what, yes in (("resume", spec.resumable), ("train under torchrun", spec.multi_process),
                                  ("replay its evaluation", spec.replay)) if yes]
    return {
        "type": spec.model_type, "description": spec.description, "kind": spec.kind, "schema": spec.experiment_schema().__name__,
        "module": spec.module, "metric": f"{metric.label} ({metric.unit}), {'lower' if metric.goal == 'min' else 'higher'} is better",
        "can": ", ".join(can) or "none of resume, torchrun, replay", "artifacts": ", ".join(spec.artifacts),
        "groups": [{"section": g["section"], "doc": code_spans(g["doc"]), "rows": [
            {"key": markup.code(r["key"]), "type": r["type"], "default": default_text(r["default"]), "doc": code_spans(r["doc"])}
            for r in g["rows"]]} for g in reference_rows(spec)],
    }


# --- the pages -----------------------------------------------------------------------------

def pages(site: Site, docs: Path = DOCS, specs: dict[str, EngineSpec] | None = None) -> list[Page]:
    """The guide's pages for this site: docs/ in order, then the reference; none without docs/index.md."""
    sources, specs = read(docs), registry.specs() if specs is None else specs
    if not sources:
        return []
    names = {s.name for s in sources} | {REFERENCE_NAME}
    order = [(s.path, {"title": s.front["title"], "weight": s.weight, "description": s.front.get("description", "")})
             for s in sources] + [(REFERENCE, REFERENCE_META)]
    entries = [{"path": p, "title": m["title"], "description": m["description"]} for p, m in order]
    contents = entries[1:]
    built = []
    for i, (path, meta) in enumerate(order):
        near = {"previous": entries[i - 1] if i else None, "next": entries[i + 1] if i + 1 < len(entries) else None}
        meta = {**meta, "page_type": "guide"}
        if path == REFERENCE:
            front, body = site.page("guide_reference.md.j2", path, meta, engines=Later(lambda: [_engine(s) for s in specs.values()]),
                                    **near)
            inputs = guide_sources.reference(specs)
        else:
            source = sources[i]
            front, body = site.page("guide.md.j2", path, meta, body=markup.Safe(site_markdown(source, names)),
                                    contents=contents if path == INDEX else [], **near)
            inputs = [source.text, contents if path == INDEX else []]
        built.append(Page(path, front, body, key=site.key("guide", path, meta, near, inputs)))
    return built


def nav(pages: list[Page]) -> list:
    """The MkDocs navigation's Guide group: its front page, then every page in the guide's order."""
    entries: list = []
    for page in pages:
        if page.path == INDEX:
            entries.insert(0, "guide/index.md")
        elif page.path.startswith(f"{SECTION}/"):
            entries.append({page.front["title"]: page.path})
    return entries
