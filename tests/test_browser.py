"""The built sites as a reader sees them, in a real Chromium: every page, link, image and script.

Chromium comes from Debian (`.ci/run` installs it); playwright (PyPI) drives it and never downloads
a browser of its own. The site is served on 127.0.0.1 exactly as built. Screenshots of each page
type go to test-output/screenshots/ for a person to look at. The interactive layer (charts, picking runs to
compare, search) is exercised on the same sites, and every page type again with JavaScript off.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from benchmarks.static_server import serve
from benchmarks.synthetic_runs import KINDS, make_runs
from tests.conftest import REPO, TINY_EXPERIMENTS, train
from tests.sitebuild import build_site
from tests.synthetic import clone_run, template

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


# --- the interactive layer: charts, picking runs to compare, search; and all of it with JavaScript off --------

TOKEN_METRIC = {"name": "val_loss", "goal": "min", "label": "val loss", "unit": "nats per token",
                "comparable_by": ["data.tokenizer.sha256"], "across": "val_bpc"}


def real_run_page(sites) -> str:
    public, base = sites["hugo"]
    return f"{base}runs/{newest_run_of_kind(public, 'language-model')}/"


def test_a_curve_figure_becomes_a_chart_that_reads_values_on_hover_and_switches_to_a_log_axis(sites, browser):
    tab, _ = visit(browser, real_run_page(sites), "hugo-run-chart")
    chart = tab.locator(".curves .chart").first
    chart.locator(".u-over").wait_for()
    assert [int(n) for n in chart.get_attribute("data-points").split()][0] > 10  # train loss, every logged step
    assert tab.locator(".curves img[hidden]").count() >= 1  # the PNG is one click away, not gone
    over = chart.locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    tab.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    step, loss = chart.locator(".u-legend .u-series .u-value").all_inner_texts()[:2]  # under the cursor
    assert int(step.replace(",", "")) > 0 and 0 < float(loss) < 10, (step, loss)
    chart.get_by_label("log scale").check()
    assert chart.get_attribute("data-scale") == "log"
    chart.get_by_label("smoothing").fill("0.9")
    assert chart.locator("output").inner_text() == "smoothing 0.90"


def picks(tab, runs: list[str]) -> None:
    for run in runs:
        tab.get_by_label(f"compare {run}", exact=True).check()


def test_runs_ticked_on_two_experiments_pages_open_as_one_shareable_comparison(sites, browser):
    public, base = sites["hugo"]
    records = [json.loads(p.read_text()) for p in public.glob("runs/*/run.json")]
    by_experiment = {}
    for r in sorted(records, key=lambda r: r["started_at"], reverse=True):
        by_experiment.setdefault(r["experiment"], []).append(r["run_id"])
    first, second = by_experiment["shakespeare-char-gpt"][:2], by_experiment["market-pg"][:1]

    tab, _ = visit(browser, f"{base}experiments/shakespeare-char-gpt/", "hugo-pick-first")
    tab.evaluate("localStorage.clear()")  # what other tests picked
    tab.reload()
    picks(tab, first)
    tab.goto(f"{base}experiments/market-pg/")
    picks(tab, second)  # the selection survives the move to another page
    assert tab.locator(".compare-bar").inner_text().startswith("3 runs picked")
    tab.locator(".compare-go").click()
    tab.locator("#picked[data-shown]").wait_for()

    query = urllib.parse.parse_qs(urllib.parse.urlsplit(tab.url).query)
    assert urllib.parse.urlsplit(tab.url).path == "/compare/" and query["runs"] == [",".join(first + second)]
    picked = tab.locator("#picked")
    assert picked.get_attribute("data-shown") == ",".join(first + second)
    head = picked.locator("table").first.locator("thead th").all_inner_texts()
    assert head == ["run", *first, *second]
    assert "settings differ" in picked.inner_text() and picked.locator(".picked-chart .u-over").count() == 1
    shared = browser.new_page()  # the address alone brings the same comparison
    shared.goto(tab.url)
    shared.locator("#picked[data-shown]").wait_for()
    assert shared.locator("#picked").get_attribute("data-shown") == ",".join(first + second)


@pytest.fixture(scope="module")
def token_site(tiny_runs, tmp_path_factory):
    """Two runs whose losses are in nats per token of different tokenizers, with bits per character beside them."""
    work = tmp_path_factory.mktemp("tokens")
    runs = work / "runs"
    source = template(tiny_runs)
    for minute, (name, tokenizer, bpc) in enumerate((("lm-char", "a" * 64, 1.9), ("lm-bpe", "b" * 64, 1.7))):
        clone_run(source, runs, name, minute, metrics={"val_bpc": bpc, "val_loss": 1.3 + minute},
                  extra={"key_metric": TOKEN_METRIC, "data": {"dataset": "text", "sha256": "0" * 64, "tokenizer": {"sha256": tokenizer}}})
    public = build_site(runs, work)
    server, base = serve(public)
    yield public, base
    server.shutdown()


def test_the_picked_comparison_never_calls_losses_of_two_tokenizers_better_or_worse(token_site, browser):
    public, base = token_site
    ids = sorted(p.parent.name for p in public.glob("runs/*/run.json"))
    tab, _ = visit(browser, f"{base}compare/?runs={','.join(ids)}", "hugo-compare-tokenizers")
    tab.locator("#picked[data-shown]").wait_for()
    rows = {r.split("\t")[0]: r for r in tab.locator("#picked table").nth(2).locator("tbody tr").all_inner_texts()}
    assert "not comparable" in rows["val_loss (key metric)"] and "better" not in rows["val_loss (key metric)"]
    assert "not comparable" in rows["train_loss"]
    assert re.search(r"(better|worse)$", rows["val_bpc (comparable across units)"])
    assert "data.tokenizer.sha256 differs" in tab.locator("#picked blockquote").inner_text()


def test_search_finds_a_run_by_its_id_and_by_a_tag_and_leads_to_the_page(sites, browser):
    public, base = sites["hugo"]
    run = newest_run_of_kind(public, "rl")
    tab, _ = visit(browser, base, "hugo-search")
    box = tab.get_by_role("searchbox")
    box.fill(run)
    result = tab.locator(".search-results").get_by_role("link", name=run, exact=True)
    result.wait_for()
    assert tab.locator(".search-results a").first.inner_text() == run  # the run's own page first
    result.click()
    tab.wait_for_url(f"{base}runs/{run}/")
    assert tab.locator("h1").inner_text() == run
    tab.get_by_role("searchbox").fill("makemore")  # a tag of the names experiments
    hit = tab.locator(".search-results a").first
    hit.wait_for()
    hit.click()
    tab.wait_for_load_state()
    assert "makemore" in tab.locator("main").inner_text()


@pytest.mark.parametrize("page_type", [*PAGE_TYPES, "compare", *(f"run-{k}" for k in RUN_KINDS)])
def test_every_page_type_works_with_javascript_off(sites, browser, page_type):
    public, base = sites["hugo"]
    if page_type in PAGE_TYPES:  # the home page's path is "": look it up, not `or` it away
        path = PAGE_TYPES[page_type]
    else:
        path = "compare/" if page_type == "compare" else f"runs/{newest_run_of_kind(public, page_type.removeprefix('run-'))}/"
    context = browser.browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    tab, images = visit(context, base + path, f"hugo-nojs-{page_type}")
    parsed = Links()
    parsed.feed(tab.content())
    assert parsed.h1 == 1 and parsed.no_alt == []
    assert tab.locator(".chart").count() == 0 and tab.locator("form.site-search").is_hidden()
    if page_type.startswith("run-"):
        assert images >= 1 and tab.locator("figure img:visible").count() == images  # every figure as its PNG
    if page_type == "compare":
        assert "Picking runs needs JavaScript" in tab.locator("main").inner_text()
    context.close()


def test_a_run_added_by_an_incremental_publish_is_found_by_search_beside_the_older_ones_and_a_removed_one_is_not(tmp_path, browser):
    """The incremental Hugo build indexes only the pages it rendered, into a delta the search merges with the site's."""
    from datetime import datetime, timezone

    from generators import hugo_build
    from tests.sitebuild import generate

    runs, work = tmp_path / "runs", tmp_path / "site"
    (older, *_) = make_runs(runs, 6)
    public = build_site(runs, work)
    (new,) = make_runs(runs, 1, seed=77, start=datetime(2026, 6, 1, tzinfo=timezone.utc))
    generate(runs, work)
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        assert hugo_build.main(["--content", str(work / "content"), "--destination", str(public)]) == 0
    assert "incremental build, search index: 5 pages, in delta 1 of 1" in log.getvalue()
    server, base = serve(public)
    try:
        tab, _ = visit(browser, base, "hugo-search-delta")
        for run in (new.name, older.name):  # one in the delta, one in the whole site's index
            tab.get_by_role("searchbox").fill(run)
            result = tab.locator(".search-results").get_by_role("link", name=run, exact=True)
            result.wait_for()
            result.click()
            tab.wait_for_url(f"{base}runs/{run}/")
            assert tab.locator("h1").inner_text() == run
        # A run removed from runs/: the next incremental build deletes its page and the search no longer offers it,
        # though the whole site's index (not built again) still holds its entry.
        shutil.rmtree(older)
        generate(runs, work)
        with contextlib.redirect_stderr(log):
            assert hugo_build.main(["--content", str(work / "content"), "--destination", str(public)]) == 0
        assert "incremental build" in log.getvalue().splitlines()[-1] and "dropped" in log.getvalue().splitlines()[-1]
        tab, _ = visit(browser, base, "hugo-search-removed")
        tab.get_by_role("searchbox").fill(older.name)
        tab.locator(".search-results p, .search-results ol").first.wait_for()
        assert tab.locator(".search-results").get_by_role("link", name=older.name, exact=True).count() == 0
        tab.get_by_role("searchbox").fill(new.name)  # the search itself still answers
        tab.locator(".search-results").get_by_role("link", name=new.name, exact=True).wait_for()
    finally:
        server.shutdown()
