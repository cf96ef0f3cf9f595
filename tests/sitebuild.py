"""Building real sites in tests: the author's pages, the generators, then Hugo or MkDocs."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

from generators import hugo_build
from generators.__main__ import main as generators_main
from tests.conftest import REPO

BIN = Path(sys.executable).parent
AUTHORED = ("_index.md", "about.md")
"""the hand-written pages of content/ that every test site starts from"""


def author_pages(work: Path) -> Path:
    pages = work / "content"
    if not pages.exists():
        pages.mkdir(parents=True)
        for name in AUTHORED:
            shutil.copy(REPO / "content" / name, pages / name)
    return pages


def generate(runs: Path, work: Path, *args: str, engine: str = "hugo") -> str:
    """Run the generators' command line (in this process: a publish is then a fraction of a second); returns its log."""
    pages = author_pages(work)
    extra = ["--engine", "mkdocs", "--out", str(work / "mkdocs"), "--site-dir", str(work / "public-mkdocs")] if engine == "mkdocs" else []
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        status = generators_main(["--runs-dir", str(runs), "--content", str(pages), *extra, *args])
    assert status == 0, log.getvalue()
    return log.getvalue()


def build_hugo(work: Path) -> Path:
    """A full Hugo build, with the site's search index, as `make publish` makes it."""
    public = work / "public"
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        status = hugo_build.main(["--content", str(work / "content"), "--destination", str(public), "--full"])
    assert status == 0, log.getvalue()
    return public


def build_mkdocs(work: Path) -> Path:
    result = subprocess.run([str(BIN / "mkdocs"), "build", "--strict", "-f", str(work / "mkdocs" / "mkdocs.yml")],
                            capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr
    return work / "public-mkdocs"


def build_site(runs: Path, work: Path, engine: str = "hugo") -> Path:
    """Hand-written pages + generated pages -> Hugo or MkDocs -> the built site folder."""
    generate(runs, work, engine=engine)
    return build_hugo(work) if engine == "hugo" else build_mkdocs(work)
