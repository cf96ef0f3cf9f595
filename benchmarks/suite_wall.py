"""`make train publish` on a fresh copy of this working tree, timed phase by phase.

The copy holds what a clone would (tracked files, plus untracked files git does not ignore), with
the existing virtual environment and cache linked in ("a clone whose venv exists"; the cache holds
token streams and learned vocabularies, as nanoGPT's prepared data files do for its run). Make is
told never to rebuild the environment (`-o`), so a newer requirements file cannot reinstall a
shared one. Each experiment's time is read from make's own log lines ("== experiments/x.yaml").

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


def phases(lines: list[tuple[float, str]], total: float) -> dict[str, float]:
    """Seconds of start-up (importing torch, checking every file: up to the first `== file` line), per experiment
    (from its line to the next) and for publishing (after the last)."""
    marks = [(t, m.group(1)) for t, line in lines if (m := re.match(r"== experiments/(\S+)\.yaml$", line))]
    publish = next((t for t, line in lines if "-m generators" in line and t >= (marks[-1][0] if marks else 0)), total)
    ends = [t for t, _ in marks[1:]] + [publish]
    out = {"startup": marks[0][0] if marks else 0.0}
    out.update({name: end - start for (start, name), end in zip(marks, ends)})
    out["publish"] = total - publish
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
    return {"wall_s": total, "phases": phases(lines, total), "runs": runs}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
