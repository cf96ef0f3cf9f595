"""How publishing scales: generate + build the site for 100, 1,000 and 10,000 synthetic runs.

    .venv/bin/python -m benchmarks.site_scale                # N = 100, 1000, 10000 (what `make bench` runs)
    .venv/bin/python -m benchmarks.site_scale --sizes 100 1000 --mkdocs-at 1000
    .venv/bin/python -m benchmarks.site_scale --sizes 10000 --compare-with ../old-checkout   # A B A B, old vs this

For each N, in a fresh folder under build/bench/: N sealed synthetic run folders (benchmarks.synthetic_runs),
then, timed as `make publish` runs them, `python -m generators` and `python -m generators.hugo_build`
(a full publish from empty content), the same again with nothing changed, and again after one new
run was added (incremental: only changed pages rendered by both).
At --mkdocs-at runs it also times `python -m generators --engine mkdocs` and `mkdocs build --strict`.
Before publishing, it times `python -m trainer verify` over the N runs, intact and with one middle ledger
line deleted (which verify must name as one deletion, however many lines follow it).
At --budget-at runs it publishes again from empty content within a site budget (--budget, smaller than the
synthetic site so that old runs' files move to a store folder), as `make publish` does (generators, Hugo,
the history export into the store), and prints the built site's size, the store's and the time against
the full publish without a budget. With --compare-with DIR (a checkout of another version, e.g. before the
budget existed), it times that version's full publish and this one's within the budget, interleaved
A B A B (--pairs), and prints the ratio.
Wall-clock seconds and CPU seconds (user+sys of the child processes) are both printed, since other
work on the machine inflates wall time; the last lines give seconds per 1,000 runs at each N, so
linear growth shows as a flat column.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.synthetic_runs import make_runs
from generators import site_budget

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGETS = {"full_1k": 10.0, "full_10k": 90.0, "incremental_1k": 3.0}
"""seconds, on this project's 2-core machine (issue 8)"""
BUDGET = "200MB"
"""the bench's site budget: under the 10,000-run synthetic site (about 220 MB), so old runs' files must move"""
BUDGET_RATIO = 1.2
"""a publish within its budget may take at most this much longer than one without (the issue's target)"""
STORE_URL = "https://raw.githubusercontent.com/octo/trainbook/trainbook-store/"


def timed(cmd: list[str], status: int = 0, **kw) -> tuple[float, float]:
    """Wall and CPU (user+sys) seconds of one command, which must end with exit `status`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != status:
        sys.exit(f"benchmark command failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def publish_hugo(work: Path, runs: Path) -> dict:
    gen = timed([sys.executable, "-m", "generators", "--runs-dir", str(runs), "--content", str(work / "content"),
                 "--site-budget", "none"], cwd=REPO)
    hugo = timed([sys.executable, "-m", "generators.hugo_build", "--content", str(work / "content"),
                  "--destination", str(work / "public")], cwd=REPO)
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
                 str(work / "content-authored"), "--out", str(out), "--site-dir", str(work / "public-mkdocs")], cwd=REPO)
    build = timed([str(BIN / "mkdocs"), "build", "--strict", "--quiet", "-f", str(out / "mkdocs.yml")], cwd=REPO,
                  env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return {"gen": gen, "build": build, "wall": gen[0] + build[0], "cpu": gen[1] + build[1]}


def verify(runs: Path, n: int) -> None:
    """`trainer verify` over every run, then with the middle ledger line deleted (one finding, exit 1), restored after."""
    ledger = runs / "ledger.jsonl"
    wall, cpu = timed([sys.executable, "-m", "trainer", "verify", "--runs-dir", str(runs)], cwd=REPO)
    print(f"{'verify: every run':<26} {n:>6}  {wall:7.1f} s wall {cpu:7.1f} s cpu", flush=True)
    intact = ledger.read_bytes()
    lines = intact.splitlines(keepends=True)
    ledger.write_bytes(b"".join(lines[: n // 2] + lines[n // 2 + 1:]))
    wall, cpu = timed([sys.executable, "-m", "trainer", "verify", "--runs-dir", str(runs)], status=1, cwd=REPO)
    print(f"{'verify: a line deleted':<26} {n:>6}  {wall:7.1f} s wall {cpu:7.1f} s cpu", flush=True)
    ledger.write_bytes(intact)


def line(label: str, n: int, r: dict, engine: str = "hugo") -> str:
    second = r["hugo"] if engine == "hugo" else r["build"]
    return (f"{label:<26} {n:>6}  {r['wall']:7.1f} s wall {r['cpu']:7.1f} s cpu   "
            f"(generators {r['gen'][0]:.1f} s / {r['gen'][1]:.1f} cpu, {engine} {second[0]:.1f} s / {second[1]:.1f} cpu)")


def budget_line(n: int, r: dict, full: dict, budget: str) -> str:
    limit = site_budget.parse_size(budget)
    within = "within" if r["site"] <= limit else "OVER"
    return (f"{'hugo: full, budget ' + budget:<26} {n:>6}  {r['wall']:7.1f} s wall {r['cpu']:7.1f} s cpu   "
            f"(export {r['export'][0]:.1f} s); site {r['site'] / 1e6:.1f} MB ({within} the budget), store "
            f"{r['store'] / 1e6:.1f} MB; generators and Hugo x{(r['gen'][1] + r['hugo'][1]) / full['cpu']:.2f} the cpu of "
            "the full publish without a budget")


def bench(n: int, root: Path, mkdocs: bool, budget: str | None = None, other: Path | None = None, pairs: int = 2) -> dict:
    work = root / str(n)
    shutil.rmtree(work, ignore_errors=True)
    runs = work / "runs"
    t0 = time.perf_counter()
    make_runs(runs, n)
    print(f"{'made runs':<26} {n:>6}  {time.perf_counter() - t0:7.1f} s (setup, not timed below)", flush=True)
    verify(runs, n)
    authored = work / "content-authored"
    shutil.copytree(REPO / "content", authored, ignore=shutil.ignore_patterns(*[p.name for p in (REPO / "content").iterdir()
                                                                                if p.is_dir() or p.name.startswith(".")]))
    shutil.copytree(authored, work / "content")
    results = {"full": publish_hugo(work, runs)}
    print(line("hugo: full publish", n, results["full"]), flush=True)
    results["again"] = publish_hugo(work, runs)
    print(line("hugo: nothing changed", n, results["again"]), flush=True)
    make_runs(runs, 1, seed=n + 1, start=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(hours=n + 1))
    results["incremental"] = publish_hugo(work, runs)
    print(line("hugo: one run added", n + 1, results["incremental"]), flush=True)
    if mkdocs:
        results["mkdocs"] = publish_mkdocs(work, runs)
        print(line("mkdocs: full publish", n + 1, results["mkdocs"], "mkdocs"), flush=True)
    pages = sum(1 for _ in (work / "public").rglob("index.html"))
    print(f"{'':<26} {'':>6}  {pages} HTML pages in the Hugo site, {site_budget.folder_bytes(work / 'public')[0] / 1e6:.1f} MB",
          flush=True)
    if budget:
        results["budget"] = publish_budget(work, runs, budget)
        print(budget_line(n + 1, results["budget"], results["full"], budget), flush=True)
        print(f"{'':<26} {'':>6}  {site_budget.check(results['budget']['public'], site_budget.parse_size(budget), results['budget']['store_dir'])}",
              flush=True)
    if other:
        print(f"A = {other} (full publish, no budget), B = this checkout (full publish within {budget or BUDGET}), interleaved:", flush=True)
        compare_versions(work, runs, budget or BUDGET, other, pairs)
    shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.site_scale", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    p.add_argument("--mkdocs-at", type=int, nargs="*", default=[1000], help="sizes at which MkDocs is timed too")
    p.add_argument("--work", type=Path, default=REPO / "build" / "bench", help="scratch folder (removed per size)")
    p.add_argument("--budget-at", type=int, nargs="*", default=[10000], help="sizes at which a publish within --budget is timed")
    p.add_argument("--budget", default=BUDGET, help=f"the site budget for --budget-at (default: {BUDGET})")
    p.add_argument("--compare-with", type=Path, metavar="DIR", help="a checkout of another version: A B A B at the largest size")
    p.add_argument("--pairs", type=int, default=2, help="A B pairs for --compare-with (default: 2)")
    args = p.parse_args(argv)
    print(f"site scale benchmark on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start "
          "(other work on the machine inflates wall time; cpu is user+sys of the commands)\n", flush=True)
    largest = max(args.sizes)
    results = {n: bench(n, args.work, n in args.mkdocs_at, args.budget if n in args.budget_at else None,
                        args.compare_with.resolve() if args.compare_with and n == largest else None, args.pairs) for n in args.sizes}
    print("\nper 1,000 runs (flat columns = linear growth):")
    for n, r in results.items():
        print(f"  N={n:>6}: full {r['full']['wall'] / n * 1000:6.2f} s wall {r['full']['cpu'] / n * 1000:6.2f} s cpu;"
              f" generators alone {r['full']['gen'][1] / n * 1000:6.2f} s cpu, hugo alone {r['full']['hugo'][1] / n * 1000:6.2f} s cpu")
    sizes = sorted(results)
    print("marginal cost of 1,000 more runs (equal values = linear growth; fixed costs such as imports drop out):")
    for small, big in zip(sizes, sizes[1:]):
        added = (big - small) / 1000
        print(f"  N {small} -> {big}: {(results[big]['full']['cpu'] - results[small]['full']['cpu']) / added:6.2f} s cpu, "
              f"{(results[big]['full']['wall'] - results[small]['full']['wall']) / added:6.2f} s wall per 1,000 runs")
    for small, big in zip(sizes, sizes[1:]):
        print(f"  N {small} -> {big} (x{big / small:g}): full publish cpu x{results[big]['full']['cpu'] / results[small]['full']['cpu']:.2f}, "
              f"wall x{results[big]['full']['wall'] / results[small]['full']['wall']:.2f}")
    checks = {"full_1k": results.get(1000, {}).get("full"), "full_10k": results.get(10000, {}).get("full"),
              "incremental_1k": results.get(1000, {}).get("incremental")}
    print("\ntargets (wall clock; met on an idle machine when the cpu time is under the target):")
    for name, r in checks.items():
        if r:
            verdict = "met" if r["wall"] < TARGETS[name] else "cpu under target" if r["cpu"] < TARGETS[name] else "MISSED"
            print(f"  {name:<15} < {TARGETS[name]:4.0f} s: {r['wall']:6.1f} s wall, {r['cpu']:6.1f} s cpu -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
