"""How much faster a sweep runs with two workers than with one: the same 12-trial sweep of names-mlp (short
trials), with `--workers 1` and `--workers 2`, interleaved A B A B in one run, each in a fresh runs folder.

Prints each sweep's wall time, the median of each variant, the ratio (workers 1 / workers 2) and the machine's
load average before and after, since on a shared machine the load moves the ratio more than anything else.
Also checks what the speed must not cost: both variants pick the same trial configurations (the per-trial
seeded sampler), and their trials reach the same objective values. Run from the repository root:
`python -m benchmarks.sweep_workers [--repeats N] [--trials N] [--steps N]`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.6


def sweep_file(folder: Path, trials: int, steps: int) -> Path:
    body = yaml.safe_load((REPO / "experiments" / "sweeps" / "names-mlp-lr.yaml").read_text())
    body.update(base=str(REPO / "experiments" / "names-mlp.yaml"), budget={"trials": trials}, pruner={"type": "none"})
    body["fixed"].update({"train.steps": steps, "train.eval_interval": max(steps // 3, 1), "train.log_interval": max(steps // 3, 1)})
    path = folder / "bench-sweep.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def one_sweep(file: Path, workers: int, runs: Path) -> tuple[float, dict]:
    """Wall seconds of one sweep, and trial number -> (parameters, objective) from its sealed record."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "trainer", "sweep", str(file), "--workers", str(workers), "--runs-dir", str(runs)],
                          cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sweep with {workers} worker(s) failed:\n{done.stderr[-2000:]}")
    record = json.loads((Path(done.stdout.strip().splitlines()[-1]) / "run.json").read_text())
    failed = [t["number"] for t in record["sweep"]["trials"] if t["status"] != "ok"]
    if failed:  # a sweep of failed trials is fast and proves nothing
        raise SystemExit(f"sweep with {workers} worker(s): trials {failed} did not finish ok")
    return seconds, {t["number"]: (t["params"], t["value"]) for t in record["sweep"]["trials"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=2, help="sweeps per variant, interleaved (default 2)")
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--steps", type=int, default=150, help="training steps per trial (default 150)")
    args = p.parse_args(argv)
    load_before = os.getloadavg()
    times: dict[int, list[float]] = {1: [], 2: []}
    trials: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as scratch:
        file = sweep_file(Path(scratch), args.trials, args.steps)
        for repeat in range(args.repeats):
            for workers in (1, 2):  # A B A B: the load drifts over minutes, so neither variant gets a quieter machine
                seconds, found = one_sweep(file, workers, Path(scratch) / f"runs-{workers}-{repeat}")
                times[workers].append(seconds)
                trials.setdefault(workers, found)
                print(f"sweep: {args.trials} trials, --workers {workers}: {seconds:.1f} s", flush=True)
    load_after = os.getloadavg()
    one, two = statistics.median(times[1]), statistics.median(times[2])
    same_configs = {n: t[0] for n, t in trials[1].items()} == {n: t[0] for n, t in trials[2].items()}
    print(f"sweep: median {one:.1f} s with 1 worker, {two:.1f} s with 2; speed-up {one / two:.2f}x "
          f"(target >= {TARGET}x); load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
          f"on {os.cpu_count()} cores")
    print(f"sweep: same trial configurations with 1 and 2 workers: {'yes' if same_configs else 'NO'}")
    return 0 if same_configs else 1


if __name__ == "__main__":
    sys.exit(main())
