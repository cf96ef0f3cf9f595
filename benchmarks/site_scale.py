"""How publishing scales: generate + build the site for 100, 1,000 and 10,000 synthetic runs.

    .venv/bin/python -m benchmarks.site_scale                # N = 100, 1000, 10000 (what `make bench` runs)
    .venv/bin/python -m benchmarks.site_scale --sizes 100 1000 --mkdocs-at 1000

For each N, in a fresh folder under build/bench/: N sealed synthetic run folders (benchmarks.synthetic_runs),
then, timed as `make publish` runs them, `python -m generators` and `python -m generators.hugo_build`
(a full publish from empty content), the same again with nothing changed, and again after one new
run was added (incremental: only changed pages rendered by both).
At --mkdocs-at runs it also times `python -m generators --engine mkdocs` and `mkdocs build --strict`.
Before publishing, it times `python -m trainer verify` over the N runs, intact and with one middle ledger
line deleted (which verify must name as one deletion, however many lines follow it).
Wall-clock seconds and CPU seconds (user+sys of the child processes) are both printed, since other
work on the machine inflates wall time; the last lines give seconds per 1,000 runs at each N, so
linear growth shows as a flat column.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.synthetic_runs import make_runs

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGETS = {"full_1k": 10.0, "full_10k": 90.0, "incremental_1k": 3.0}
"""seconds, on this project's 2-core machine (issue 8)"""


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
    gen = timed([sys.executable, "-m", "generators", "--runs-dir", str(runs), "--content", str(work / "content")], cwd=REPO)
    hugo = timed([sys.executable, "-m", "generators.hugo_build", "--content", str(work / "content"),
                  "--destination", str(work / "public")], cwd=REPO)
    return {"gen": gen, "hugo": hugo, "wall": gen[0] + hugo[0], "cpu": gen[1] + hugo[1]}


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


def bench(n: int, root: Path, mkdocs: bool) -> dict:
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
    print(f"{'':<26} {'':>6}  {pages} HTML pages in the Hugo site", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.site_scale", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    p.add_argument("--mkdocs-at", type=int, nargs="*", default=[1000], help="sizes at which MkDocs is timed too")
    p.add_argument("--work", type=Path, default=REPO / "build" / "bench", help="scratch folder (removed per size)")
    args = p.parse_args(argv)
    print(f"site scale benchmark on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start "
          "(other work on the machine inflates wall time; cpu is user+sys of the commands)\n", flush=True)
    results = {n: bench(n, args.work, n in args.mkdocs_at) for n in args.sizes}
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
