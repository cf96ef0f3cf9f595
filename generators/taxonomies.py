"""Ways to browse runs across experiments: by kind, dataset, status and tag.

Terms are written as slugs (`language-model`), so `/kinds/language-model/` is the same URL in
both engines. The generators write every term's list of runs themselves, for both engines, newest
first on anchored pages (listings.paged): a new run changes the first page of each of its terms only,
and an incremental Hugo build can render a term without reading every run page (generators/hugo_build.py).
Hugo still files each page under its terms (taxonomies in site/hugo.toml).
"""
from __future__ import annotations

import functools
import hashlib
import re

from . import listings
from .site import Page, Site
from .runs import RunView

TAXONOMIES = {"kinds": "Kind", "datasets": "Dataset", "statuses": "Status", "tags": "Tags"}
"""front matter key -> row label on run pages; the keys are Hugo's taxonomy names (site/hugo.toml)"""
TITLES = {"kinds": "Experiment kinds", "datasets": "Datasets", "statuses": "Run statuses", "tags": "Tags"}
KIND_LABELS = {"language-model": "language model", "manual-backprop": "manual backprop", "rl": "reinforcement learning"}
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
MAX_SLUG = 64
"""longest term slug: a tag is free text, but its slug is a folder name (255 bytes at most) and a URL"""


@functools.lru_cache(maxsize=None)  # every run's terms are slugged on every publish; there are few distinct terms
def slug(term: str) -> str:
    """The term's URL segment: lower-case letters, digits and '-'. A term that loses everything to this
    (`日本語`) or is too long for a folder name is told apart by a hash of the original."""
    text = _NOT_SLUG.sub("-", str(term).lower()).strip("-")
    if text and len(text) <= MAX_SLUG:
        return text
    digest = hashlib.sha256(str(term).encode()).hexdigest()[:8]
    return f"{text[:MAX_SLUG - len(digest) - 1].rstrip('-')}-{digest}" if text else digest


def label(taxonomy: str, term: str) -> str:
    return KIND_LABELS.get(term, term.replace("-", " ")) if taxonomy == "kinds" else term


def _terms(run: RunView, with_status: bool) -> dict[str, list[str]]:
    terms = {"kinds": [run.kind], "datasets": [run.dataset] if run.dataset else [], "tags": run.tags}
    if with_status:
        terms["statuses"] = [run.status]
    return {tax: sorted({slug(t) for t in values}) for tax, values in terms.items()}


def run_terms(run: RunView) -> dict[str, list[str]]:
    return _terms(run, with_status=True)


def experiment_terms(latest: RunView) -> dict[str, list[str]]:
    """An experiment is filed under its latest run's kind, dataset and tags (statuses belong to runs)."""
    return _terms(latest, with_status=False)


def term_path(taxonomy: str, term: str) -> str:
    return f"{taxonomy}/{slug(term)}/_index.md"


def links(terms: dict[str, list[str]], originals: dict[str, list[str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    rows = []
    for taxonomy, row_label in TAXONOMIES.items():
        if terms.get(taxonomy):
            named = {slug(t): t for t in originals.get(taxonomy, [])}
            rows.append((row_label, [(label(taxonomy, named.get(s, s)), term_path(taxonomy, s)) for s in terms[taxonomy]]))
    return rows


def run_links(run: RunView) -> list[tuple[str, list[tuple[str, str]]]]:
    """(row label, [(term label, term page path)]) for a run page's fact table."""
    originals = {"kinds": [run.kind], "datasets": [run.dataset or ""], "statuses": [run.status], "tags": run.tags}
    return links(run_terms(run), originals)


def index(site: Site) -> dict[str, dict[str, dict]]:
    """taxonomy -> term slug -> {label, runs (newest first), experiments}."""
    found: dict[str, dict[str, dict]] = {tax: {} for tax in TAXONOMIES}
    kinds, datasets, statuses, tags = (found[t] for t in ("kinds", "datasets", "statuses", "tags"))
    for run in site.runs:  # 10,000 runs, each under four or five terms: kept to plain dict work
        for taxonomy, terms, values in (("kinds", kinds, (run.kind,)), ("datasets", datasets, (run.dataset,) if run.dataset else ()),
                                        ("statuses", statuses, (run.status,)), ("tags", tags, run.tags)):
            for value in values:
                term_slug = slug(value)
                entry = terms.get(term_slug)
                if entry is None:
                    entry = terms[term_slug] = {"label": label(taxonomy, value), "runs": [], "experiments": {}}
                entry["runs"].append(run)
                entry["experiments"][run.experiment] = None
    for terms in found.values():
        for entry in terms.values():
            entry["experiments"] = list(entry["experiments"])
    return found


def pages(site: Site) -> list[Page]:
    found = index(site)
    pages: list[Page] = []
    for taxonomy, terms in found.items():
        if not terms:
            continue
        listing = [{"label": t["label"], "path": term_path(taxonomy, s), "runs": len(t["runs"]), "experiments": len(t["experiments"])}
                   for s, t in sorted(terms.items())]
        meta = {"title": TITLES[taxonomy], "page_type": "taxonomy", "description": f"Runs and experiments by {TAXONOMIES[taxonomy].lower()}."}
        front, body = site.page("taxonomy.md.j2", f"{taxonomy}/_index.md", meta, terms=listing)
        pages.append(Page(f"{taxonomy}/_index.md", front, body, key=site.key("taxonomy", meta, listing)))
        for term_slug, term in sorted(terms.items()):
            pages += term_pages(site, taxonomy, term_slug, term)
    return pages


def term_pages(site: Site, taxonomy: str, term_slug: str, term: dict) -> list[Page]:
    title = f"{TAXONOMIES[taxonomy].rstrip('s')}: {term['label']}"
    description = f"{len(term['experiments'])} experiment(s) and {len(term['runs'])} run(s) filed under {term['label']}."
    meta = {"title": title, "page_type": "term", "description": description}
    # By name, not by newest run: the order must not change with each run, or every later page would change with it.
    experiments = [{"name": name, "path": f"experiments/{name}/_index.md"} for name in sorted(term["experiments"])]
    first = term_path(taxonomy, term_slug)
    intro = f"{description} Runs newest first."
    return listings.paged(site, term["runs"], lambda k: first if k == 1 else f"{taxonomy}/{term_slug}/older-{k - 1}.md", meta,
                          intro=intro, related=experiments, anchored=True)
