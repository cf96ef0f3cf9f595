"""The README is the first five minutes; docs/ is the Guide, published on both sites with a reference
rendered from the schemas' docstrings."""
from __future__ import annotations

import html
import importlib.util
import re
import sys
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest

from generators import guide
from generators.content import ContentError
from generators.site import Site
from trainer.config import describe
from trainer.engines.contract import EngineSpec, KeyMetric
from trainer.engines import registry
from tests.conftest import REPO
from tests.sitebuild import build_site

DOC_NAMES = sorted(p.stem for p in (REPO / "docs").glob("*.md"))


def url_of(name: str) -> str:
    return "guide" if name == "index" else f"guide/{name}"


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """Both engines built for real; the guide does not depend on runs, so there are none."""
    work = tmp_path_factory.mktemp("guide")
    return {"hugo": build_site(work / "no-runs", work / "hugo"),
            "mkdocs": build_site(work / "no-runs", work / "mkdocs", engine="mkdocs")}


class Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids, self.h1 = [], set(), 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.h1 += tag == "h1"
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])


def parsed(public: Path, url: str) -> Anchors:
    page = Anchors()
    page.feed((public / url / "index.html").read_text())
    return page


def text_of(public: Path, url: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", (public / url / "index.html").read_text()))


def test_the_readme_is_at_most_200_lines_and_gives_both_commands():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "make train publish" in readme and "make test" in readme


def test_the_readme_links_every_guide_page_that_exists():
    readme = (REPO / "README.md").read_text()
    linked = set(re.findall(r"\]\(docs/([a-z0-9-]+)\.md\)", readme))
    assert linked and all((REPO / "docs" / f"{name}.md").is_file() for name in linked)
    assert set(DOC_NAMES) - {"index"} <= linked


@pytest.mark.parametrize("engine", ["hugo", "mkdocs"])
def test_every_docs_page_is_published_at_guide_slash_its_name_with_its_title_as_the_one_h1(sites, engine):
    public = sites[engine]
    assert len(DOC_NAMES) >= 8
    for name in DOC_NAMES + ["reference"]:
        assert (public / url_of(name) / "index.html").is_file(), f"{engine}: /{url_of(name)}/ is missing"
        assert parsed(public, url_of(name)).h1 == 1, f"{engine}: /{url_of(name)}/"
    for name in DOC_NAMES:
        title = guide._front(REPO / "docs" / f"{name}.md", (REPO / "docs" / f"{name}.md").read_text())[0]["title"]
        assert re.search(rf"<h1[^>]*>\s*{re.escape(html.escape(title, quote=False))}", (public / url_of(name) / "index.html").read_text())


@pytest.mark.parametrize("engine", ["hugo", "mkdocs"])
def test_every_page_of_the_site_links_the_guide(sites, engine):
    public = sites[engine]
    for url in ("", "experiments", "guide/audit-trail"):
        hrefs = parsed(public, url).hrefs
        here = f"http://site/{url}/" if url else "http://site/"
        assert "http://site/guide/" in {urllib.parse.urljoin(here, h) for h in hrefs}, f"{engine}: /{url}/"


@pytest.mark.parametrize("engine", ["hugo", "mkdocs"])
def test_relative_links_between_guide_pages_resolve_to_pages_and_anchors_in_both_engines(sites, engine):
    public = sites[engine]
    followed = 0
    for name in DOC_NAMES + ["reference"]:
        here = f"http://site/{url_of(name)}/"
        for href in parsed(public, url_of(name)).hrefs:
            target = urllib.parse.urlparse(urllib.parse.urljoin(here, href))
            if target.netloc != "site" or not target.path.startswith("/guide/") or href.startswith("#"):
                continue
            folder = target.path.strip("/")
            assert (public / folder / "index.html").is_file(), f"{engine}: /{url_of(name)}/ links {href}"
            if target.fragment:
                assert target.fragment in parsed(public, folder).ids, f"{engine}: /{url_of(name)}/ links {href}"
            followed += 1
    assert followed > 30  # the guide's pages link each other (and the checks above are not vacuous)


@pytest.mark.parametrize("engine", ["hugo", "mkdocs"])
def test_the_reference_lists_every_documented_field_of_every_engine_with_its_docstring(sites, engine):
    text = " ".join(text_of(sites[engine], "guide/reference").split())
    for spec in registry.specs().values():
        assert f"The {spec.model_type} engine" in text
        for key, _, _, doc in describe(spec.experiment_schema()):
            assert key in text, f"{engine}: {spec.model_type} {key}"
            assert " ".join(doc.replace("`", "").split()) in text, f"{engine}: {spec.model_type} {key}"  # `x` is code
    assert "peak learning rate" in text  # optim.lr's docstring, in trainer/schemas/common.py
    assert "manual backprop: relative tolerance of the gradient check (torch.allclose's rtol)" in text


def _toy_spec(tmp_path: Path, doc: str) -> EngineSpec:
    """An engine whose schema is a module of its own, with `doc` under its one field."""
    name = f"toy_schema_{abs(hash(doc))}"
    file = tmp_path / f"{name}.py"
    file.write_text("from dataclasses import dataclass\n\n\n@dataclass\nclass ToyModel:\n    type: str = 'toy'\n"
                    f"    width: int = 3\n    {doc!r}\n\n\n@dataclass\nclass Toy:\n    model: ToyModel\n")
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return EngineSpec("toy", module.Toy, "toy-kind", KeyMetric("loss", "min", "loss", "nats"), name)


def _docs(folder: Path, pages: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in pages.items():
        (folder / f"{name}.md").write_text(f"---\ntitle: {name.title()}\nweight: {len(name)}\ndescription: about {name}\n---\n\n{body}")
    return folder


def _by_path(docs: Path, specs=None) -> dict:
    return {p.path: p for p in guide.pages(Site([]), docs=docs, specs=specs)}


def test_editing_a_docstring_changes_the_reference_page_and_nothing_else(tmp_path):
    docs = _docs(tmp_path / "docs", {"index": "Front.\n", "alpha": "A.\n"})
    before = _by_path(docs, {"toy": _toy_spec(tmp_path, "how wide the toy is")})
    after = _by_path(docs, {"toy": _toy_spec(tmp_path, "how many units the toy has")})
    assert "how wide the toy is" in before[guide.REFERENCE].text()
    assert "how many units the toy has" in after[guide.REFERENCE].text()
    assert before[guide.REFERENCE].key != after[guide.REFERENCE].key
    assert {p: page.key for p, page in before.items() if p != guide.REFERENCE} == \
        {p: page.key for p, page in after.items() if p != guide.REFERENCE}


def test_editing_a_guide_page_changes_its_key_and_no_other(tmp_path):
    docs = _docs(tmp_path / "docs", {"index": "Front.\n", "alpha": "A.\n", "beta": "B.\n"})
    before = _by_path(docs)
    (docs / "alpha.md").write_text((docs / "alpha.md").read_text().replace("A.", "A, edited."))
    after = _by_path(docs)
    changed = {p for p in before if before[p].key != after[p].key}
    assert changed == {"guide/alpha.md"}
    assert "A, edited." in after["guide/alpha.md"].text()


def test_links_to_guide_pages_become_site_links_and_code_blocks_are_left_alone(tmp_path):
    docs = _docs(tmp_path / "docs", {"index": "See [b](beta.md) and [the reference](reference.md#the-toy-engine).\n",
                                     "beta": "Back to [the front](index.md), [out](https://example.org/x.md).\n\n"
                                             "```md\n# not a heading, [not a link](elsewhere.md)\n```\n"})
    pages = _by_path(docs)
    assert "[b](beta/)" in pages[guide.INDEX].text() and "[the reference](reference/#the-toy-engine)" in pages[guide.INDEX].text()
    beta = pages["guide/beta.md"].text()
    assert "[the front](../)" in beta and "[out](https://example.org/x.md)" in beta
    assert "# not a heading, [not a link](elsewhere.md)" in beta


@pytest.mark.parametrize("body, problem", [
    ("Fine.\n\nSee [the Makefile](../Makefile).\n", "line 3 links to '../Makefile', which the site does not have"),
    ("Fine.\n\nSee [x](missing.md).\n", "line 3 links to 'missing.md'"),
    ("Fine.\n\n{{< figure src=x.png >}}\n", "line 3 uses a Hugo shortcode"),
    ("Fine.\n\n# A second title\n", "line 3 is a level-1 heading"),
])
def test_a_guide_page_the_sites_cannot_show_stops_the_publish_naming_the_file_and_line(tmp_path, body, problem):
    docs = _docs(tmp_path / "docs", {"index": "Front.\n", "bad": body})
    with pytest.raises(ContentError) as refused:
        guide.pages(Site([]), docs=docs)
    assert f"bad.md: {problem}" in str(refused.value)


def test_a_guide_page_without_a_title_is_refused(tmp_path):
    docs = _docs(tmp_path / "docs", {"index": "Front.\n"})
    (docs / "untitled.md").write_text("---\nweight: 3\n---\nText.\n")
    with pytest.raises(ContentError, match=r"untitled\.md: front matter needs a `title`"):
        guide.pages(Site([]), docs=docs)


def test_the_reference_escapes_docstrings_like_every_generated_value():
    spans = guide.code_spans("a <b>tag</b>, a `code <span>` and {{< shortcode >}}")
    assert "<b>" not in spans and "{{<" not in spans
    assert "<code>code &#60;span&#62;</code>" in spans
