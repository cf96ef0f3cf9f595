"""The base every page module builds on: `Page`, `Site` (what pages may depend on, worked out once per
publish), and rendering a template into a page or a page section.

A page is (path, front matter, Markdown body, files to publish next to it), written by `content.py`.
Formatting decisions (which metrics, what summary) live in Python, not in templates. Each page module
(`run_page`, `experiment_pages`, `listings`, `home`, `taxonomies`, `compare`) makes its pages from a
`Site`; `catalog.all_pages` is the one list of them all.

A page may carry a `key`: a hash of every input it is made of. When the key matches the one the
last publish recorded, the page is not rendered again (its body is a callable for that reason).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import incremental, markup, pairing, reproductions
from .runs import RunView
from .targets import TARGETS, Target, href, root_of

TEMPLATES = Path(__file__).parent / "templates"
_env = markup.environment(TEMPLATES)


@dataclass
class Page:
    path: str
    """content-relative path in Hugo's convention, e.g. runs/<id>/index.md; targets map it to their own files"""
    front: dict
    """the front matter; for a page rendered lazily, at least its title (the rendered body carries all of it)"""
    body: str | Callable[[], str]
    """the whole file (front matter and Markdown), or a function that renders it when it is needed"""
    files: list[Path] = field(default_factory=list)
    """files published next to the page (figures, raw records), linked rather than copied where possible"""
    key: str | None = None
    """hash of the page's inputs; None renders and compares the page on every publish"""
    drawn: dict[str, Callable[[Path], object]] = field(default_factory=dict)
    """files drawn next to the page (file name -> function that writes it), redrawn when the key changes"""
    kept: list[str] | None = None
    """for a page whose key is the one the last publish wrote it with (`Site.fresh`): the names of the files next to
    it; such a page is not built at all, only kept"""

    def text(self) -> str:
        return self.body() if callable(self.body) else self.body


def front_matter(front: dict) -> markup.Safe:
    """YAML front matter written as JSON (a subset of YAML), so no value can break out of it."""
    return markup.Safe("---\n" + json.dumps({**front, "generated": True}, indent=1, ensure_ascii=False) + "\n---\n")


def render(template: str, front: dict, **values) -> str:
    return _env.get_template(template).render(front=front_matter(front), **values)


def render_section(template: str, **values) -> markup.Safe:
    """A page section (no front matter) from its own template; see generators/sections/."""
    return markup.Safe(_env.get_template(template).render(**values))



@dataclass(frozen=True)
class Later:
    """A template value computed only when its page is rendered (most pages of a publish are not)."""

    make: Callable[[], object]


@dataclass
class Site:
    """Everything pages may depend on, worked out once per publish."""

    runs: list[RunView]
    target: Target = TARGETS["hugo"]
    changes: object | None = None
    """publish_log.Changes since the previous publish (None when not tracked, e.g. in a unit test)"""
    published: dict | None = None
    """this publish's snapshot (publish_log), shipped with the site"""
    sweeps: list[RunView] = field(default_factory=list)
    """the sweeps' folders (records of kind `sweep`), newest first: their pages are sweep_pages'"""
    version: str = field(default_factory=incremental.code_version)
    fresh: Callable[[str, str], list[str] | None] = lambda path, key: None
    """(page path, key) -> the files next to it when the last publish wrote it with this key and it is still there, else
    None (the manifest's answer, given by the publish), so that a page with many siblings need not be built to be kept"""
    by_experiment: dict[str, list[RunView]] = field(init=False)
    older: dict[str, RunView | None] = field(init=False)
    newer: dict[str, RunView | None] = field(init=False)
    baseline: dict[str, RunView | None] = field(init=False)
    """run id -> the latest earlier finished run of its experiment with a key metric, to compare against"""
    pairs: list[tuple[RunView, RunView]] = field(init=False)
    """(base, head) of every comparison page (see pairing), newest head first"""
    comparisons: dict[str, list[tuple[str, RunView]]] = field(init=False)
    """run id -> (comparison page path, the other run) for each comparison page the run is part of"""
    reproductions: dict[str, list[RunView]] = field(init=False)
    """run id -> the runs that reproduce it (`trainer reproduce`), newest first"""
    ids: set[str] = field(init=False)
    shared: dict = field(default_factory=dict)
    """what several pages show and one page module works out once per publish (experiment_pages' picks, say)"""

    def __post_init__(self):
        self.reproductions, self.ids = reproductions.index(self.runs), {r.id for r in self.runs}

        self.by_experiment, self.older, self.newer, self.baseline, self.comparisons = {}, {}, {}, {}, {}
        self.pairs = pairing.pairs(self.runs)
        for base, head in self.pairs:
            self.comparisons.setdefault(head.id, []).append((pairing.page_path(base, head), base))
            self.comparisons.setdefault(base.id, []).append((pairing.page_path(base, head), head))
        for run in self.runs:  # newest first
            self.by_experiment.setdefault(run.experiment, []).append(run)
        for group in self.by_experiment.values():
            comparable = None
            for run in reversed(group):  # oldest first
                self.baseline[run.id] = comparable
                if run.status == "ok" and isinstance(run.key_value, (int, float)):
                    comparable = run
            for i, run in enumerate(group):
                self.newer[run.id] = group[i - 1] if i else None
                self.older[run.id] = group[i + 1] if i + 1 < len(group) else None

    def page(self, template: str, path: str, meta: dict | Callable[[], dict], **values) -> tuple[dict, Callable[[], str]]:
        """Front matter for this target, and a function rendering the page with link helpers bound to `path`.

        `meta` and any value wrapped in `Later` are worked out only if the page is rendered; the
        front matter returned is then only the title (the rendered page carries all of it)."""
        front = self.target.front(meta) if isinstance(meta, dict) else {"title": values.get("title", path)}

        def body() -> str:
            root = root_of(path)
            full = front if isinstance(meta, dict) else self.target.front(meta())
            ready = {k: v.make() if isinstance(v, Later) else v for k, v in values.items()}
            return render(template, full, here=path, root=root, link=lambda to: markup.Safe(href(path, to)),
                          asset=lambda file: markup.Safe(root + file), target=self.target, **ready)

        return front, body

    def key(self, *parts) -> str:
        return incremental.key(self.version, self.target.name, *parts)


def run_fingerprint(run: RunView | None) -> str:
    """The facts about a run that other pages show: enough to know when they must change (RunView.fingerprint)."""
    return "" if run is None else run.fingerprint
