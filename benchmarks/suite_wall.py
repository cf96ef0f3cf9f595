"""`make train publish` on a fresh copy of this working tree, timed phase by phase.

The copy holds what a clone would (tracked files, plus untracked files git does not ignore), with
the existing virtual environment and cache linked in ("a clone whose venv exists"; the cache holds
token streams and learned vocabularies, as nanoGPT's prepared data files do for its run). Make is
told never to rebuild the environment (`-o`), so a newer requirements file cannot reinstall a
shared one. Each experiment's time is the duration its run's record gives (with several `make train` workers,
the runs overlap: "training" is their wall time together).

    python -m benchmarks.suite_wall        # one measurement, printed as JSON
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINKED = (".venv", ".cache")


def tree_files(repo: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                         capture_output=True, check=True).stdout
    return [f for f in out.decode().split("\0") if f and (repo / f).is_file()]


def copy_tree(repo: Path, into: Path) -> None:
    for name in tree_files(repo):
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, target)  # keeps modification times, as make compares them
    for name in LINKED:
        if (repo / name).exists():
            (into / name).symlink_to((repo / name).resolve())


def _timestamped(cmd: list[str], cwd: Path, env: dict) -> tuple[list[tuple[float, str]], int]:
    """Run `cmd`, returning each line of its combined output with the seconds since the start."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [(time.perf_counter() - t0, line.rstrip("\n")) for line in proc.stdout]
    return lines, proc.wait()


def phases(lines: list[tuple[float, str]], total: float, trained: dict[str, float]) -> dict[str, float]:
    """Seconds of start-up (up to the first `== file` line: make, checking every file), of training in all (up to the
    publish), of each experiment's run (`trained`: the seconds its record says it took; with several workers they
    overlap) and of publishing (the rest)."""
    first = next((t for t, line in lines if re.match(r"== experiments/\S+\.yaml$", line)), 0.0)
    publish = next((t for t, line in lines if "-m generators" in line), total)
    return {"startup": first, "training": publish - first, **trained, "publish": total - publish}


def run_seconds(runs: Path) -> dict[str, float]:
    """Each run's own duration, by experiment, from its record."""
    out = {}
    for record in sorted(runs.glob("*/run.json")):
        data = json.loads(record.read_text())
        out[data["experiment"]] = data["duration_s"]
    return out


def measure(repo: Path = REPO, threads: int | None = None) -> dict:
    """One `make train publish` in a fresh copy: wall seconds in all and per phase."""
    with tempfile.TemporaryDirectory(prefix="trainbook-suite-") as tmp:
        work = Path(tmp) / "clone"
        copy_tree(repo, work)
        env = {k: v for k, v in os.environ.items() if k not in ("TRAINBOOK_RUNS_DIR", "MAKEFLAGS")}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        t0 = time.perf_counter()
        lines, code = _timestamped(["make", "-o", ".venv/.ready", "train", "publish"], work, env)
        total = time.perf_counter() - t0
        if code != 0:
            sys.exit("make train publish failed in the copy:\n" + "\n".join(line for _, line in lines[-40:]))
        runs = sorted(p.name for p in (work / "runs").iterdir() if p.is_dir())
        trained = run_seconds(work / "runs")
    return {"wall_s": total, "phases": phases(lines, total, trained), "runs": runs}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
