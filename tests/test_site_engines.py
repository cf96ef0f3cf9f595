"""The same runs as a Hugo site and a MkDocs Material site: same URLs, each engine's own syntax only."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from generators.targets import TARGETS
from tests.conftest import run_cli
from tests.sitebuild import author_pages, build_site, generate
from tests.synthetic import clone_run, template


def pages_under(public: Path) -> set[str]:
    return {str(p.parent.relative_to(public)) for p in public.rglob("index.html")}


@pytest.fixture(scope="module")
def both_sites(synthetic_runs, tmp_path_factory):
    work = tmp_path_factory.mktemp("engines")
    hugo = build_site(synthetic_runs, work / "hugo")
    mkdocs = build_site(synthetic_runs, work / "mkdocs", engine="mkdocs")  # `mkdocs build --strict` passes inside
    return work, hugo, mkdocs


def test_mkdocs_and_hugo_publish_every_run_experiment_and_index_at_the_same_urls(both_sites, synthetic_runs):
    work, hugo, mkdocs = both_sites
    runs = {p.name for p in synthetic_runs.iterdir() if p.is_dir() and not p.name.startswith(".")}
    expected = {f"runs/{r}" for r in runs} | {"runs", "experiments", "experiments/market-pg", "experiments/names-mlp",
                                              "kinds/rl", "kinds/manual-backprop", "statuses/failed", "tags/gpt", "about", "."}
    assert expected <= pages_under(hugo)
    assert expected <= pages_under(mkdocs)
    # The generated pages (not Hugo's own paginator pages) are published by both engines.
    generated = {p for p in pages_under(hugo) if "/page/" not in p}
    assert generated - pages_under(mkdocs) == set()
    for run in runs:
        assert (mkdocs / "runs" / run / "loss.png").stat().st_size > 1000
        assert (mkdocs / "runs" / run / "run.json").is_file()


def test_no_page_of_one_engine_contains_the_other_engines_syntax(both_sites):
    work, _, _ = both_sites
    hugo_pages = list((work / "hugo" / "content").rglob("*.md"))
    mkdocs_pages = list((work / "mkdocs" / "mkdocs" / "docs").rglob("*.md"))
    assert len(hugo_pages) > 40 and len(mkdocs_pages) > 40
    for engine, pages in (("hugo", hugo_pages), ("mkdocs", mkdocs_pages)):
        for page in pages:
            text = page.read_text()
            for pattern in TARGETS[engine].foreign:
                assert not pattern.search(text), f"{engine} page {page} contains {pattern.pattern!r}"
    assert not [p for p in mkdocs_pages if p.name == "_index.md"]
    assert any(p.name == "_index.md" for p in hugo_pages)
    # Each engine's own figure syntax is really there (so the checks above are not vacuous).
    assert any('markdown="span"' in p.read_text() for p in mkdocs_pages)
    assert any(re.search(r'!\[[^\]]+\]\(loss\.png "', p.read_text()) for p in hugo_pages)


def test_mkdocs_links_point_at_markdown_files_so_strict_mode_checks_them(both_sites):
    work, _, _ = both_sites
    experiment = (work / "mkdocs" / "mkdocs" / "docs" / "experiments" / "names-mlp" / "index.md").read_text()
    assert "](../../kinds/language-model/index.md)" in experiment
    assert not re.search(r"\]\((?:\.\./)+[a-z-]+/[^)]*/\)", experiment)  # no directory-style Markdown link is left
    home = (work / "mkdocs" / "mkdocs" / "docs" / "index.md").read_text()
    assert "](runs/index.md)" in home  # the author's `[every run](runs/)`, pointed at the page it means


def test_mkdocs_navigation_is_grouped_and_names_no_run(both_sites):
    work, _, _ = both_sites
    config = (work / "mkdocs" / "mkdocs" / "mkdocs.yml").read_text()
    assert "INHERIT:" in config and "Experiments:" in config and "Browse:" in config
    assert "runs/index.md" in config and not re.search(r"runs/[a-z].*-\d{8}T", config)


def test_authors_pages_are_converted_for_mkdocs_without_being_edited(both_sites):
    work, _, _ = both_sites
    authored = work / "mkdocs" / "content"
    before = {p.name: p.read_bytes() for p in authored.glob("*.md")}
    generate(Path(work / "no-runs"), work / "mkdocs", engine="mkdocs")
    assert {p.name: p.read_bytes() for p in authored.glob("*.md")} == before
    assert (work / "mkdocs" / "mkdocs" / "docs" / "about.md").read_text().startswith("---\n{")


def test_a_hugo_shortcode_in_an_authors_page_stops_the_mkdocs_publish_naming_file_and_line(tmp_path):
    pages = author_pages(tmp_path)
    (pages / "notes.md").write_text("---\ntitle: Notes\n---\nfine\n\n{{< figure src=x.png >}}\n")
    result = run_cli("generators", "--engine", "mkdocs", "--runs-dir", str(tmp_path / "runs"), "--content", str(pages),
                     "--out", str(tmp_path / "mkdocs"))
    assert result.returncode == 2
    assert "notes.md: line 3 uses a Hugo shortcode" in result.stderr


def test_pages_from_other_modules_written_with_directory_links_get_markdown_file_links_for_mkdocs():
    # compare/x.md is published at /compare/x/, so its links climb two levels, as in the Hugo site
    body = "---\n{}\n---\nSee [the run](../../runs/a-20260101T000000Z-abcdef0/), [runs](../../runs/) and [raw](data.json).\n"
    known = {"runs/a-20260101T000000Z-abcdef0/index.md", "runs/index.md", "compare/x.md"}
    out = TARGETS["mkdocs"].finish_body("compare/x.md", body, known)
    assert "[the run](../runs/a-20260101T000000Z-abcdef0/index.md)" in out
    assert "[runs](../runs/index.md)" in out and "[raw](data.json)" in out
    assert TARGETS["hugo"].finish_body("compare/x.md", body, known) == body


def test_command_lines_and_user_strings_keep_their_dashes_and_dots_in_both_engines(tiny_runs, tmp_path):
    """Hugo's typographer turns -- into an en dash, --- into an em dash and ... into an ellipsis in Markdown text,
    inline code written as HTML included; a command line copied from the page must still run."""
    command = "python -m trainer run x.yaml --runs-dir /tmp/r -- a---b ..."
    runs = tmp_path / "runs"
    run = clone_run(template(tiny_runs), runs, "names-mlp", minute=1, status="failed", reason=f"crashed in: {command}",
                    extra={"source": {"file": "experiments/names-mlp.yaml", "overrides": [command]}})
    for engine in ("hugo", "mkdocs"):
        page = html.unescape((build_site(runs, tmp_path / engine, engine=engine) / "runs" / run.name / "index.html").read_text())
        assert f"<strong>failed:</strong> crashed in: {command}</p>" in page, engine  # Markdown text (the failure callout)
        assert f"with overrides <code>{command}</code>" in page, engine  # inline code
