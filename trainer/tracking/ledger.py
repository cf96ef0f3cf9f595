"""The ledger: `runs/ledger.jsonl`, one line per finished run, each line chained to the one before.

A line holds the sha256 of its run's `run.json` and of the previous line's bytes, so editing,
removing or reordering any line, any record, or (through the record's artifact hashes) any
artifact is detectable by `verify`. Lines are appended under an exclusive lock so concurrent
runs never interleave. Torch-free.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .files import fsync_dir, sha256_bytes, sha256_file

LEDGER = "ledger.jsonl"
RECORD = "run.json"
GENESIS = "0" * 64
RUN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}-\d{8}T\d{6}Z-[0-9a-f]{7}")
"""<experiment>-<UTC timestamp>-<short hash>; anything else is never used as a path."""


@contextmanager
def locked(runs_dir: Path):
    """An exclusive lock on the ledger, held across read-modify-append."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    with open(runs_dir / ".ledger.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_lines(runs_dir: Path) -> list[bytes]:
    path = runs_dir / LEDGER
    if not path.exists():
        return []
    return path.read_bytes().splitlines(keepends=True)


def append(runs_dir: Path, run_id: str, experiment: str, status: str) -> dict:
    """Append the line that seals `runs_dir/run_id/run.json` as it is now."""
    record_sha = sha256_file(runs_dir / run_id / RECORD)
    with locked(runs_dir):
        lines = read_lines(runs_dir)
        if lines and not lines[-1].endswith(b"\n"):
            raise LedgerError(f"{runs_dir / LEDGER}: last line is incomplete; run `python -m trainer verify`")
        entry = {
            "seq": len(lines) + 1,
            "run": run_id,
            "experiment": experiment,
            "status": status,
            "record_sha256": record_sha,
            "prev_sha256": sha256_bytes(lines[-1]) if lines else GENESIS,
            "sealed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        data = (json.dumps(entry, sort_keys=True) + "\n").encode()
        # One write() of a short line on an O_APPEND descriptor; fsync before the lock is released.
        fd = os.open(runs_dir / LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(runs_dir)
    return entry


class LedgerError(Exception):
    pass


@dataclass
class RunCheck:
    run: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse(runs_dir: Path) -> tuple[list[dict], list[str]]:
    """The ledger's entries and any problems with the chain itself."""
    entries, problems = [], []
    prev = GENESIS
    for number, raw in enumerate(read_lines(runs_dir), start=1):
        where = f"ledger line {number}"
        try:
            entry = json.loads(raw)
            assert isinstance(entry, dict) and RUN_ID.fullmatch(str(entry.get("run")))
        except (ValueError, AssertionError):
            problems.append(f"{where}: not a ledger entry (edited or truncated)")
            prev = sha256_bytes(raw)
            continue
        if not raw.endswith(b"\n"):
            problems.append(f"{where}: truncated (no end of line)")
        if entry.get("seq") != number:
            problems.append(f"{where}: sequence number {entry.get('seq')!r} (lines removed or reordered)")
        if entry.get("prev_sha256") != prev:
            problems.append(f"{where} ({entry['run']}): does not chain to the line before (edited, removed or reordered)")
        prev = sha256_bytes(raw)
        entries.append(entry)
    return entries, problems


def check_run(run_dir: Path, entry: dict, hash_file: Callable[[Path], str] = sha256_file) -> list[str]:
    """Problems with one sealed run: its record's hash, and each artifact the record lists.

    `hash_file` lets a caller that checks thousands of runs reuse hashes of unchanged files."""
    record_path = run_dir / RECORD
    if not record_path.is_file():
        return ["run.json is missing"]
    problems = []
    if hash_file(record_path) != entry.get("record_sha256"):
        problems.append("run.json differs from the ledger's hash (record edited)")
    try:
        record = json.loads(record_path.read_text())
        artifacts = record.get("artifacts", {})
    except (ValueError, UnicodeDecodeError):
        return problems + ["run.json is not valid JSON"]
    for name, facts in sorted(artifacts.items()):
        path = run_dir / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != facts.get("bytes") or hash_file(path) != facts.get("sha256"):
            problems.append(f"{name}: content differs from its recorded sha256 (artifact edited)")
    return problems


def verify(runs_dir: Path, hash_file: Callable[[Path], str] = sha256_file) -> tuple[list[RunCheck], list[str]]:
    """Check the chain, every sealed run, and flag run folders the ledger does not know."""
    entries, chain_problems = parse(runs_dir)
    latest = {e["run"]: e for e in entries}  # a resumed run is re-sealed; its last line counts
    checks = [RunCheck(run, check_run(runs_dir / run, entry, hash_file)) for run, entry in latest.items()]
    for folder in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) if runs_dir.is_dir() else []:
        if folder.name not in latest and (folder / RECORD).exists():
            checks.append(RunCheck(folder.name, ["not in the ledger (unrecorded run, or still running)"]))
    return checks, chain_problems
