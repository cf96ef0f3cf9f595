"""How publishing scales: generate + build the site for 100, 1,000 and 10,000 synthetic runs, and how heavy a long
run's page is.

    .venv/bin/python -m benchmarks.site_scale                  # N = 100, 1000, 10000 (what `make bench` runs)
    .venv/bin/python -m benchmarks.site_scale --sizes 1000 10000 --baseline d4971ac
    .venv/bin/python -m benchmarks.site_scale --sizes 1000 --mkdocs-at 1000

For each N, in a fresh folder under build/bench/: N sealed synthetic run folders (benchmarks.synthetic_runs),
then, timed as `make publish` runs them, `python -m generators` and `python -m generators.hugo_build` (Hugo
and the search index): a full publish from empty content, the same again with nothing changed, then ten
publishes each after one new run was added (their median is judged; every tenth run of an experiment retires
comparison pages, which one addition alone may miss), and one more with nothing changed. With --baseline REF, the full publish of that commit (extracted with `git archive`
into build/bench/, run with the same interpreter on the same runs) is timed side by side with this tree's,
alternately (A B A B with --repeat 2), and the ratio printed. At --mkdocs-at runs it also times `python -m
generators --engine mkdocs` and `mkdocs build --strict`. Last, a run that logged every one of 20,000 steps is
published alone and its page loaded in Chromium: the bytes it transferred (HTML, scripts, styles, chart data,
figures) are printed. Wall-clock and CPU seconds (user+sys of the child processes) are both printed, with the
load average, since other work on the machine inflates wall time.
Before publishing, it times `python -m trainer verify` over the N runs, intact and with one middle ledger
line deleted (which verify must name as one deletion, however many lines follow it). At --budget-at runs it
publishes again from empty content within a site budget (--budget, smaller than the synthetic site so that
old runs' files move to a store folder), as `make publish` does (generators, Hugo, the history export into
the store), and prints the built site's size, the store's and the time against the full publish without a
budget. With --compare-with DIR (a checkout of another version, e.g. before the budget existed), it times
that version's full publish and this one's within the budget, interleaved A B A B (--pairs), and prints the ratio.
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.static_server import serve
from benchmarks.synthetic_runs import make_long_run, make_runs
from generators import site_budget

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
TARGETS = {"nothing changed": 1.0, "one run added": 3.0}
"""seconds, wall clock, at every size (the issue: independent of the number of runs)"""
ADDED = 10
"""one-run publishes timed in a row, each after one more run of the same experiment: every generators.pairing.RECENT-th
retires that experiment's oldest comparison pages, which a single added run may or may not meet"""
PACKAGES = ("generators", "trainer", "benchmarks")
FULL_RATIO, PAGE_KB = 1.2, 500
"""a full publish within this factor of the baseline's; a 20,000-step run page at most this many kB transferred"""
BUDGET = "230MB"
"""the bench's site budget: under the 10,000-run synthetic site (245 MB), so old runs' files must move, and over what
its pages, records and configs alone take (about 188 MB, which HEADROOM must leave room for)"""
BUDGET_RATIO = 1.2
"""a publish within its budget may take at most this much longer than one without (the issue's target)"""
STORE_URL = "https://raw.githubusercontent.com/octo/trainbook/trainbook-store/"


def timed(cmd: list[str], status: int = 0, cwd: Path = REPO, **kw) -> tuple[float, float]:
    """Wall and CPU (user+sys) seconds of one command, which must end with exit `status`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, **kw)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != status:
        sys.exit(f"benchmark command failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def publish_hugo(work: Path, runs: Path, code: Path = REPO) -> dict:
    unbudgeted = ["--site-budget", "none"] if code == REPO else []  # an older checkout has no budget to lift
    gen = timed([sys.executable, "-m", "generators", "--runs-dir", str(runs), "--content", str(work / "content"), *unbudgeted],
                cwd=code)
    hugo = timed([sys.executable, "-m", "generators.hugo_build", "--content", str(work / "content"),
                  "--destination", str(work / "public")], cwd=code)
    return {"gen": gen, "hugo": hugo, "wall": gen[0] + hugo[0], "cpu": gen[1] + hugo[1]}


def publish_budget(work: Path, runs: Path, budget: str, code: Path = REPO, label: str = "budget") -> dict:
    """A full `make publish` from empty content into its own site: within `budget` with a store (this checkout), or
    as the version at `code` publishes (no budget arguments when `code` is another checkout)."""
    content, public, store = work / f"content-{label}", work / f"public-{label}", work / f"store-{label}"
    for folder in (content, public, store):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(work / "content-authored", content)
    own = ["--site-budget", budget, "--store-url", STORE_URL] if code == REPO else []
    gen = timed([sys.executable, "-m", "generators", "--runs-dir", str(runs), "--content", str(content), *own], cwd=code)
    hugo = timed([sys.executable, "-m", "generators.hugo_build", "--content", str(content), "--destination", str(public)], cwd=code)
    store_args = ["--store", str(store)] if code == REPO else []
    export = timed([sys.executable, "-m", "generators.history", "export", "--site", str(public), "--runs-dir", str(runs), *store_args],
                   cwd=code)
    return {"gen": gen, "hugo": hugo, "export": export, "wall": gen[0] + hugo[0] + export[0], "cpu": gen[1] + hugo[1] + export[1],
            "site": site_budget.folder_bytes(public)[0], "store": site_budget.folder_bytes(store)[0], "public": public, "store_dir": store}


def compare_versions(work: Path, runs: Path, budget: str, other: Path, pairs: int) -> None:
    """A (the version at `other`, no budget) and B (this one, within `budget`), interleaved A B A B."""
    a, b = [], []
    for i in range(pairs):
        a.append(publish_budget(work, runs, budget, code=other, label="a"))
        b.append(publish_budget(work, runs, budget, label="b"))
        print(f"  pair {i + 1}: A {a[-1]['wall']:.1f} s wall {a[-1]['cpu']:.1f} s cpu ({a[-1]['site'] / 1e6:.0f} MB site), "
              f"B {b[-1]['wall']:.1f} s wall {b[-1]['cpu']:.1f} s cpu ({b[-1]['site'] / 1e6:.0f} MB site, "
              f"{b[-1]['store'] / 1e6:.0f} MB store)", flush=True)
    for key in ("wall", "cpu"):
        ratio = statistics.median(r[key] for r in b) / statistics.median(r[key] for r in a)
        print(f"  B / A, median {key}: x{ratio:.2f} ({'within' if ratio <= BUDGET_RATIO else 'OVER'} x{BUDGET_RATIO})", flush=True)


def publish_mkdocs(work: Path, runs: Path) -> dict:
    out = work / "mkdocs"
    gen = timed([sys.executable, "-m", "generators", "--engine", "mkdocs", "--runs-dir", str(runs), "--content",
                 str(work / "content-authored"), "--out", str(out), "--site-dir", str(work / "public-mkdocs")])
    build = timed([str(BIN / "mkdocs"), "build", "--strict", "--quiet", "-f", str(out / "mkdocs.yml")],
                  env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return {"gen": gen, "build": build, "wall": gen[0] + build[0], "cpu": gen[1] + build[1]}


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def verify(runs: Path, n: int) -> None:
    """`trainer verify` over every run, then with the middle ledger line deleted (one finding, exit 1), restored after."""
    ledger = runs / "ledger.jsonl"
    wall, cpu = timed([sys.executable, "-m", "trainer", "verify", "--runs-dir", str(runs)], cwd=REPO)
    print(f"{'verify: every run':<30} {n:>6}  {wall:7.1f} s wall {cpu:7.1f} s cpu", flush=True)
    intact = ledger.read_bytes()
    lines = intact.splitlines(keepends=True)
    ledger.write_bytes(b"".join(lines[: n // 2] + lines[n // 2 + 1:]))
    wall, cpu = timed([sys.executable, "-m", "trainer", "verify", "--runs-dir", str(runs)], status=1, cwd=REPO)
    print(f"{'verify: a line deleted':<30} {n:>6}  {wall:7.1f} s wall {cpu:7.1f} s cpu", flush=True)
    ledger.write_bytes(intact)


def line(label: str, n: int, r: dict, engine: str = "hugo") -> str:
    second = r["hugo"] if engine == "hugo" else r["build"]
    return (f"{label:<30} {n:>6}  {r['wall']:7.2f} s wall {r['cpu']:7.2f} s cpu   "
            f"(generators {r['gen'][0]:.2f} s / {r['gen'][1]:.2f} cpu, {engine} {second[0]:.2f} s / {second[1]:.2f} cpu; {load()})")


def baseline_tree(ref: str, into: Path) -> Path:
    """The repository as of commit `ref`, extracted (not checked out) into `into`."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def compiled(*trees: Path | None) -> None:
    """Each tree's bytecode written once: where PYTHONDONTWRITEBYTECODE is set (as on this project's machines),
    every publish would otherwise compile the generators' modules from source again, which an installation whose
    bytecode is cached never does."""
    for tree in trees:
        if tree is not None:
            subprocess.run([sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=tree, capture_output=True, check=True)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("PYTHONDONTWRITEBYTECODE is set: the code's bytecode was compiled once before timing (compileall)\n", flush=True)


def search_index(site: Path) -> tuple[float, float]:
    """Wall and CPU seconds of Pagefind indexing the built site whole, as a full Hugo build has it do (into a scratch
    folder, so the site is left as it was)."""
    from pagefind_bin import get_executable

    with tempfile.TemporaryDirectory(prefix="bench-search-") as out:
        return timed([str(get_executable()), "--site", str(site), "--output-path", out, "--quiet"])


def fresh_content(work: Path) -> None:
    """The author's pages (content/ without generated sections) as a new content folder."""
    shutil.rmtree(work / "content", ignore_errors=True)
    shutil.copytree(work / "content-authored", work / "content")


def budget_line(n: int, r: dict, full: dict, budget: str) -> str:
    limit = site_budget.parse_size(budget)
    within = "within" if r["site"] <= limit else "OVER"
    return (f"{'hugo: full, budget ' + budget:<30} {n:>6}  {r['wall']:7.1f} s wall {r['cpu']:7.1f} s cpu   "
            f"(export {r['export'][0]:.1f} s); site {r['site'] / 1e6:.1f} MB ({within} the budget), store "
            f"{r['store'] / 1e6:.1f} MB; generators and Hugo x{(r['gen'][1] + r['hugo'][1]) / full['cpu']:.2f} the cpu of "
            "the full publish without a budget")


def bench(n: int, root: Path, mkdocs: bool, baseline: Path | None, repeat: int, budget: str | None = None,
          other: Path | None = None, pairs: int = 2) -> dict:
    work = root / str(n)
    shutil.rmtree(work, ignore_errors=True)
    runs = work / "runs"
    t0 = time.perf_counter()
    make_runs(runs, n)
    print(f"{'made runs':<30} {n:>6}  {time.perf_counter() - t0:7.1f} s (setup, not timed below)", flush=True)
    verify(runs, n)
    authored = work / "content-authored"
    shutil.copytree(REPO / "content", authored, ignore=shutil.ignore_patterns(*[p.name for p in (REPO / "content").iterdir()
                                                                                if p.is_dir() or p.name.startswith(".")]))
    results = {}
    old = work / "baseline"
    if baseline is not None:
        shutil.copytree(authored, old / "content-authored")
    for i in range(repeat):  # side by side: A B A B, each from empty content
        fresh_content(work)
        results.setdefault("full", []).append(publish_hugo(work, runs))
        print(line("hugo: full publish", n, results["full"][-1]), flush=True)
        if baseline is not None:
            fresh_content(old)
            results.setdefault("baseline", []).append(publish_hugo(old, runs, code=baseline))
            print(line("  baseline: full publish", n, results["baseline"][-1]), flush=True)
    if baseline is not None:
        results["search"] = search_index(work / "public")
        print(f"{'  of which the search index':<30} {n:>6}  {results['search'][0]:7.2f} s wall {results['search'][1]:7.2f} s cpu   "
              "(Pagefind alone over the built site, timed apart; the baseline builds none)", flush=True)
    results["again"] = publish_hugo(work, runs)
    print(line("hugo: nothing changed", n, results["again"]), flush=True)
    results["incremental"] = []
    for k in range(ADDED):
        make_runs(runs, 1, seed=n + 1 + k, start=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(hours=n + 1 + k))
        results["incremental"].append(publish_hugo(work, runs))
        print(line(f"hugo: one run added ({k + 1} of {ADDED})", n + 1 + k, results["incremental"][-1]), flush=True)
    results["again after"] = publish_hugo(work, runs)
    print(line("hugo: nothing changed again", n + ADDED, results["again after"]), flush=True)
    if mkdocs:
        results["mkdocs"] = publish_mkdocs(work, runs)
        print(line("mkdocs: full publish", n + ADDED, results["mkdocs"], "mkdocs"), flush=True)
    pages = sum(1 for _ in (work / "public").rglob("index.html"))
    print(f"{'':<30} {'':>6}  {pages} HTML pages in the Hugo site, {site_budget.folder_bytes(work / 'public')[0] / 1e6:.1f} MB",
          flush=True)
    if budget:
        results["budget"] = publish_budget(work, runs, budget)
        print(budget_line(n + ADDED, results["budget"], results["full"][-1], budget), flush=True)
        print(f"{'':<30} {'':>6}  {site_budget.check(results['budget']['public'], site_budget.parse_size(budget), results['budget']['store_dir'])}",
              flush=True)
    if other:
        print(f"A = {other} (full publish, no budget), B = this checkout (full publish within {budget or BUDGET}), interleaved:", flush=True)
        compare_versions(work, runs, budget or BUDGET, other, pairs)
    shutil.rmtree(work, ignore_errors=True)
    return results



def page_weight(root: Path, steps: int = 20_000) -> tuple[int, dict[str, int]] | None:
    """Bytes a browser transfers to show the page of a run that logged every one of `steps` steps, scrolled to the
    end (every lazy image loaded), by kind; None without Chromium."""
    work = root / "long"
    shutil.rmtree(work, ignore_errors=True)
    run = make_long_run(work / "runs", steps)
    shutil.copytree(REPO / "content", work / "content", ignore=shutil.ignore_patterns(
        *[p.name for p in (REPO / "content").iterdir() if p.is_dir() or p.name.startswith(".")]))
    publish_hugo(work, work / "runs")
    if not CHROMIUM.exists():
        print(f"page weight: no {CHROMIUM}; skipped")
        return None
    from playwright.sync_api import sync_playwright

    server, base = serve(work / "public")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            sizes: dict[str, int] = {}

            def count(response) -> None:
                kind = response.request.resource_type
                try:
                    sizes[kind] = sizes.get(kind, 0) + len(response.body())
                except Exception:  # a response without a body (a redirect): nothing transferred to count
                    pass

            page.on("response", count)
            page.goto(f"{base}runs/{run.name}/", wait_until="networkidle")
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            page.wait_for_load_state("networkidle")
            page.wait_for_selector(".curves .chart .u-over")
            browser.close()
    finally:
        server.shutdown()
    shutil.rmtree(work, ignore_errors=True)
    return sum(sizes.values()), sizes


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(results: dict, weight) -> None:
    print("\ntargets (wall clock on this machine; cpu beside it, since other work inflates wall time):")
    for n, r in results.items():
        t = r["again after"]
        print(f"  N={n:>6} {'nothing changed':<16} <= {TARGETS['nothing changed']:.1f} s: {t['wall']:6.2f} s wall, "
              f"{t['cpu']:6.2f} s cpu -> {verdict(t['wall'] <= TARGETS['nothing changed'])}")
        walls, cpus = [t["wall"] for t in r["incremental"]], [t["cpu"] for t in r["incremental"]]
        wall = statistics.median(walls)
        print(f"  N={n:>6} {'one run added':<16} <= {TARGETS['one run added']:.1f} s: {wall:6.2f} s wall, "
              f"{statistics.median(cpus):6.2f} s cpu (median of {len(walls)} one-run publishes in a row; slowest "
              f"{max(walls):.2f} s wall, {max(cpus):.2f} s cpu) -> {verdict(wall <= TARGETS['one run added'])}")
        if r.get("baseline"):
            new, old = (sum(x["wall"] for x in r[k]) / len(r[k]) for k in ("full", "baseline"))
            cpu_new, cpu_old = (sum(x["cpu"] for x in r[k]) / len(r[k]) for k in ("full", "baseline"))
            print(f"  N={n:>6} full publish vs baseline <= x{FULL_RATIO}: x{new / old:.2f} wall ({new:.1f} s vs {old:.1f} s), "
                  f"x{cpu_new / cpu_old:.2f} cpu -> {verdict(new / old <= FULL_RATIO)}")
            if r.get("search"):
                wall, cpu = r["search"]
                print(f"  N={n:>6}   the same without the search index, which the baseline does not build: "
                      f"x{(new - wall) / old:.2f} wall, x{(cpu_new - cpu) / cpu_old:.2f} cpu")
    if weight:
        total, sizes = weight
        parts = ", ".join(f"{k} {v / 1000:.1f}" for k, v in sorted(sizes.items(), key=lambda kv: -kv[1]))
        print(f"  run page of 20,000 logged steps <= {PAGE_KB} kB: {total / 1000:.1f} kB transferred ({parts}) -> "
              f"{verdict(total / 1000 <= PAGE_KB)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.site_scale", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    p.add_argument("--mkdocs-at", type=int, nargs="*", default=[1000], help="sizes at which MkDocs is timed too")
    p.add_argument("--baseline", metavar="REF", help="a commit whose full publish is timed side by side with this tree's")
    p.add_argument("--repeat", type=int, default=1, help="full publishes of each side, alternating (default: 1)")
    p.add_argument("--no-page-weight", action="store_true", help="skip the long run's page weight")
    p.add_argument("--work", type=Path, default=REPO / "build" / "bench", help="scratch folder (removed per size)")
    p.add_argument("--budget-at", type=int, nargs="*", default=[10000], help="sizes at which a publish within --budget is timed")
    p.add_argument("--budget", default=BUDGET, help=f"the site budget for --budget-at (default: {BUDGET})")
    p.add_argument("--compare-with", type=Path, metavar="DIR", help="a checkout of another version: A B A B at the largest size")
    p.add_argument("--pairs", type=int, default=2, help="A B pairs for --compare-with (default: 2)")
    args = p.parse_args(argv)
    print(f"site scale benchmark on {os.cpu_count()} cores, {load()} at start "
          "(other work on the machine inflates wall time; cpu is user+sys of the commands)\n", flush=True)
    baseline = baseline_tree(args.baseline, args.work / "baseline-code") if args.baseline else None
    compiled(REPO, baseline)
    largest = max(args.sizes)
    results = {n: bench(n, args.work, n in args.mkdocs_at, baseline, args.repeat, args.budget if n in args.budget_at else None,
                        args.compare_with.resolve() if args.compare_with and n == largest else None, args.pairs) for n in args.sizes}
    weight = None if args.no_page_weight else page_weight(args.work)
    report(results, weight)
    print(f"\n{load()} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
