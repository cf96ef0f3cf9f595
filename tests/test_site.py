"""Runs become a real Hugo site: pages, figures and escaping checked in the built HTML."""
from __future__ import annotations

import re
import shutil

from generators import content, markup
from tests.conftest import train
from tests.sitebuild import build_site

def test_site_has_home_runs_index_and_run_page_with_its_figures(tiny_runs, tmp_path):
    public = build_site(tiny_runs, tmp_path)
    (run,) = [p.name for p in tiny_runs.iterdir() if p.is_dir()]
    home = (public / "index.html").read_text()
    assert "names-mlp" in home
    index = (public / "runs" / "index.html").read_text()
    assert f'href="{run}/"' in index
    page = public / "runs" / run / "index.html"
    html = page.read_text()
    for figure in ("loss.png", "lr.png", "embeddings.png"):
        assert re.search(rf'<figure>\s*<img src="{figure}" alt="[^"]+"', html), figure
        assert (page.parent / figure).stat().st_size > 1000
    assert (page.parent / "run.json").is_file() and not (page.parent / "checkpoint.pt").exists()
    assert "val loss" in html and re.search(r"<th scope=\"row\">Verified</th><td>yes</td>", html)
    assert (public / "experiments" / "names-mlp" / "index.html").is_file()


def test_generators_keep_hand_written_pages_and_remove_pages_of_deleted_runs(runs_copy, tmp_path):
    build_site(runs_copy, tmp_path)
    pages = tmp_path / "content"
    hand_written = pages / "notes.md"
    hand_written.write_text("---\ntitle: Notes\n---\nmine\n")
    (run,) = [p for p in runs_copy.iterdir() if p.is_dir()]
    shutil.rmtree(run)

    public = build_site(runs_copy, tmp_path)

    assert not (pages / "runs" / run.name).exists() and not (public / "runs" / run.name).exists()
    assert hand_written.read_text() == "---\ntitle: Notes\n---\nmine\n"
    assert (pages / "_index.md").is_file() and not content.is_generated(pages / "_index.md")


def test_hostile_strings_from_configs_and_samples_are_shown_literally(tmp_path):
    hostile = "<script>alert(1)</script> {{< param title >}} **bold** [x](javascript:alert(1)) | a"
    runs = tmp_path / "runs"
    run = train(runs, f"description={hostile}", "train.steps=20")
    (run / "samples.txt").write_text("<img src=x onerror=alert(1)>\n{{% x %}}\n")  # as if the model wrote it
    public = build_site(runs, tmp_path)
    html = "".join(p.read_text() for p in public.rglob("*.html"))
    assert "<script>alert" not in html and "<img src=x" not in html
    assert 'href="javascript' not in html and "<strong>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{&lt; param title &gt;}}" in html or "&#123;&#123;&lt; param title" in html


def test_inline_escaping_neutralises_markdown_html_and_shortcodes():
    text = markup.inline("a|b <i>*x*</i> {{< y >}}\nz")
    assert "|" not in text and "<" not in text and "*" not in text and "{" not in text and "\n" not in text
