"""The built sites as a reader sees them, in a real Chromium: every page, link, image and script.

Chromium comes from Debian (`.ci/run` installs it); playwright (PyPI) drives it and never downloads
a browser of its own. The site is served on 127.0.0.1 exactly as built. Screenshots of each page
type go to test-output/screenshots/ for a person to look at.
"""
from __future__ import annotations

import functools
import json
import http.server
import re
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from benchmarks.synthetic_runs import KINDS, make_runs
from tests.conftest import REPO, TINY_EXPERIMENTS, train
from tests.sitebuild import build_site

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "test-output" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--log-level=3"]
RUN_KINDS = sorted({k.kind for k in KINDS})

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install "
                                "--no-install-recommends chromium; .ci/run installs it for CI)")


class Links(HTMLParser):
    """Every URL a page asks the browser to follow or load, its h1 count, and its images without alt text."""

    def __init__(self):
        super().__init__()
        self.urls, self.h1, self.no_alt = [], 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h1":
            self.h1 += 1
        if tag == "img" and not (a.get("alt") or "").strip():
            self.no_alt.append(a.get("src"))
        for name in ("href", "src"):
            if a.get(name) and not (tag == "link" and a.get("rel") in ("canonical", "alternate")):
                self.urls.append(a[name])


def serve(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


@pytest.fixture(scope="module")
def sites(tiny_runs, tmp_path_factory):
    """Real tiny runs of every experiment in TINY_EXPERIMENTS, synthetic runs of every other kind, built by both engines."""
    work = tmp_path_factory.mktemp("browser")
    runs = work / "runs"
    shutil.copytree(tiny_runs, runs)
    for experiment, overrides in TINY_EXPERIMENTS.items():
        if experiment != "experiments/names-mlp.yaml":
            train(runs, *overrides, experiment=experiment)
    make_runs(runs, 12, kinds=tuple(k for k in KINDS if k.experiment != "names-mlp"), failed_every=4)  # one failed of each
    built = {"hugo": build_site(runs, work / "hugo"), "mkdocs": build_site(runs, work / "mkdocs", engine="mkdocs")}
    servers = {engine: serve(public) for engine, public in built.items()}
    yield {engine: (built[engine], servers[engine][1]) for engine in built}
    for server, _ in servers.values():
        server.shutdown()


def crawl(base: str) -> dict[str, Links]:
    """Every HTML page reachable from the home page, each fetched once; fails on any internal URL that does not load."""
    pages, queue, checked, broken = {}, [base], set(), []
    while queue:
        url = queue.pop()
        with urllib.request.urlopen(url) as response:
            parser = Links()
            parser.feed(response.read().decode("utf-8"))
        pages[url] = parser
        for ref in parser.urls:
            target = urllib.parse.urljoin(url, ref).split("#")[0]
            if not target.startswith(base) or target in checked:
                continue
            checked.add(target)
            try:
                with urllib.request.urlopen(target) as response:
                    is_html = response.headers.get_content_type() == "text/html"
            except urllib.error.HTTPError as e:
                broken.append(f"{url} -> {ref} ({e.code})")
                continue
            if is_html and target not in pages and target not in queue:
                queue.append(target)
    assert broken == []
    return pages


@pytest.fixture(scope="module")
def crawled(sites):
    return {engine: crawl(base) for engine, (_, base) in sites.items()}


@pytest.mark.parametrize("engine", ["hugo", "mkdocs"])
def test_every_internal_link_and_image_of_the_whole_site_resolves(sites, crawled, engine):
    public, base = sites[engine]
    pages = crawled[engine]
    built = {p.parent.relative_to(public).as_posix() for p in public.rglob("index.html") if "assets" not in p.parts}
    reached = {urllib.parse.unquote(u[len(base):]).rstrip("/") or "." for u in pages}
    assert built - reached == set() or engine == "hugo" and all("/page/" in p for p in built - reached)
    assert len(pages) > 40
    guide = {"guide", "guide/reference"} | {f"guide/{p.stem}" for p in (REPO / "docs").glob("*.md") if p.stem != "index"}
    assert guide <= reached  # the header's Guide link leads the crawl through every guide page


@pytest.mark.parametrize("engine", ["hugo", "mkdocs"])
def test_every_page_has_exactly_one_h1_and_every_image_has_alt_text(crawled, engine):
    pages = crawled[engine]
    assert {u: p.h1 for u, p in pages.items() if p.h1 != 1} == {}
    assert {u: p.no_alt for u, p in pages.items() if p.no_alt} == {}


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        # launch() gives Chromium a fresh temporary profile (--user-data-dir) of its own each time.
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        yield context
        context.close()
        chromium.close()


def visit(browser, url: str, shot: str):
    """Open `url`; fail on console errors, failed requests or an image that did not load; save a screenshot."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(url, wait_until="networkidle")
    broken = page.evaluate("""async () => {
        const images = [...document.images];
        for (const img of images) { img.loading = "eager"; }
        await Promise.all(images.map(img => img.decode().catch(() => null)));
        return images.filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src);
    }""")
    count = page.evaluate("document.images.length")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)
    assert errors == [] and broken == [], (errors, broken)
    return page, count


def newest_run_of_kind(public: Path, kind: str) -> str | None:
    """A run of `kind` as published, a really trained one before a synthetic one."""
    records = [json.loads(p.read_text()) for p in public.glob("runs/*/run.json")]
    of_kind = sorted((r for r in records if r.get("kind") == kind),
                     key=lambda r: (r["data"].get("source") != "synthetic", r["started_at"]), reverse=True)
    return of_kind[0]["run_id"] if of_kind else None


LOW_CONTRAST = """() => {
    const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map(c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; })
        .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
    const background = el => {
        for (; el; el = el.parentElement) {
            const c = rgb(getComputedStyle(el).backgroundColor);
            if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
        }
        return [255, 255, 255];
    };
    const low = [];
    for (const el of document.querySelectorAll("body *")) {
        const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join("").trim();
        const style = getComputedStyle(el);
        if (!text || style.visibility === "hidden" || style.display === "none" || !el.getClientRects().length) continue;
        const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(el))];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && +style.fontWeight >= 700);
        if (ratio < (large ? 3 : 4.5)) low.push(`${el.tagName} "${text.slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
    return low;
}"""


PAGE_TYPES = {"home": "", "experiments": "experiments/", "experiment": "experiments/shakespeare-char-gpt/", "runs": "runs/",
              "sorted-view": "experiments/market-pg/best/", "taxonomy-term": "kinds/rl/", "about": "about/",
              "guide": "guide/", "guide-reference": "guide/reference/"}


@pytest.mark.parametrize("engine", ["hugo", "mkdocs"])
@pytest.mark.parametrize("page_type", list(PAGE_TYPES))
def test_each_page_type_loads_with_all_images_and_no_console_errors(sites, browser, engine, page_type):
    _, base = sites[engine]
    page, images = visit(browser, base + PAGE_TYPES[page_type], f"{engine}-{page_type}")
    if page_type in ("home", "experiment"):
        assert images >= 1  # sparklines, trend figures
    if engine == "hugo":  # our own theme; MkDocs pages wear Material's
        assert page.evaluate(LOW_CONTRAST) == []
    page.close()


@pytest.mark.parametrize("engine", ["hugo", "mkdocs"])
@pytest.mark.parametrize("kind", RUN_KINDS)
def test_a_run_page_of_each_kind_loads_with_its_figures(sites, browser, engine, kind):
    public, base = sites[engine]
    run = newest_run_of_kind(sites["hugo"][0], kind)
    assert run, f"no {kind} run in the test site"
    page, images = visit(browser, f"{base}runs/{run}/", f"{engine}-run-{kind}")
    assert images >= 1
    assert page.locator("text=Reproduce this run").count() >= 1 and page.locator("text=Audit record").count() >= 1
    page.close()


def test_a_comparison_page_loads_if_the_site_has_one(sites, browser):
    public, base = sites["hugo"]
    found = sorted(p for p in public.rglob("index.html") if "compar" in p.relative_to(public).as_posix())
    if not found:
        pytest.skip("this build has no comparison pages (generators/compare.py adds them)")
    visit(browser, base + found[0].parent.relative_to(public).as_posix() + "/", "hugo-comparison")[0].close()


def test_run_tables_sort_and_filter_with_javascript(sites, browser):
    _, base = sites["hugo"]
    page, _ = visit(browser, base + "runs/", "hugo-runs-enhanced")
    table = page.locator("table.runs")
    first_before = table.locator("tbody tr").first.inner_text()
    page.get_by_role("button", name="run", exact=True).click()
    assert table.locator("th").first.get_attribute("aria-sort") == "ascending"
    assert table.locator("tbody tr").first.inner_text() != first_before
    page.get_by_label("Status").select_option("failed")
    visible = table.locator("tbody tr:visible")
    assert visible.count() >= 1 and all("failed" in visible.nth(i).inner_text() for i in range(visible.count()))
    page.close()


def test_sorting_and_filtering_work_without_javascript(sites, browser):
    _, base = sites["hugo"]
    context = browser.browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "experiments/market-pg/")
    page.get_by_role("link", name=re.compile("best mean return first")).first.click()
    values = [float(v) for v in page.locator("table.runs tbody td[data-value]:nth-child(3)").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-value')).filter(v => v !== '')")]
    assert values and values == sorted(values, reverse=True)  # mean return: higher is better
    page.get_by_role("link", name=re.compile(r"^failed \(\d+\)$")).first.click()
    statuses = page.locator("table.runs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses and set(statuses) == {"failed"}
    context.close()


def test_the_contrast_check_finds_grey_on_white(browser):
    page = browser.new_page()
    page.set_content('<p style="color:#aaaaaa">too light</p><p style="color:#595959">dark enough</p>')
    assert [row.split('"')[1] for row in page.evaluate(LOW_CONTRAST)] == ["too light"]
    page.close()
