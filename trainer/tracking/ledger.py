"""The ledger: `runs/ledger.jsonl`, one line per finished run, each line chained to the one before.

A line holds the sha256 of its run's `run.json` and of the previous line's bytes, so editing,
removing or reordering any line, any record, or (through the record's artifact hashes) any
artifact is detectable (`integrity.py` checks it all and names what it finds). A line is added
under an exclusive lock, by writing the whole ledger anew and renaming it into place, so concurrent
runs never lose or interleave lines and a crash never leaves half a line. Torch-free.
"""
from __future__ import annotations

import fcntl
import json
import re
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .files import sha256_bytes, sha256_file, write_bytes

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


def run_folders(runs_dir: Path) -> list[Path]:
    """The folders in `runs_dir` named like a run (hidden, half-made and foreign folders left out), sorted."""
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and RUN_ID.fullmatch(p.name))


def read_lines(runs_dir: Path) -> list[bytes]:
    path = runs_dir / LEDGER
    if not path.exists():
        return []
    return path.read_bytes().splitlines(keepends=True)


def _complete(lines: list[bytes], runs_dir: Path) -> None:
    if lines and not lines[-1].endswith(b"\n"):
        raise LedgerError(f"{runs_dir / LEDGER}: its last line is incomplete, so no run can be sealed after it; "
                          "run `python -m trainer verify` to see what happened")


def check_appendable(runs_dir: Path) -> None:
    """Raise LedgerError now, before a run trains, if no line could be appended to the ledger later."""
    _complete(read_lines(runs_dir)[-1:], runs_dir)


def _append_lines(runs_dir: Path, lines: list[bytes], entries: list[dict]) -> None:
    """The ledger with more lines, written atomically: a crash leaves the old ledger or the new one."""
    added = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries).encode()
    write_bytes(runs_dir / LEDGER, b"".join(lines) + added)


def _entry(seq: int, run_id: str, experiment: str, status: str, record_sha: str, prev: str, at: str) -> dict:
    return {"seq": seq, "run": run_id, "experiment": experiment, "status": status, "record_sha256": record_sha,
            "prev_sha256": prev, "sealed_at": at}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def seal(runs_dir: Path, run_id: str, record: dict, save_record: Callable[[], None]) -> dict:
    """Seal a run: write into its record the line that will seal it, save the record, then append that line.

    The record and its line witness each other: the line holds the record's sha256, the record the
    line's number, predecessor and time, so a deleted line (even the last) is named by `verify`."""
    with locked(runs_dir):
        lines = read_lines(runs_dir)
        _complete(lines, runs_dir)
        seq, prev, at = len(lines) + 1, sha256_bytes(lines[-1]) if lines else GENESIS, _now()
        record["sealed"] = {"ledger_line": seq, "prev_sha256": prev, "sealed_at": at}
        save_record()
        entry = _entry(seq, run_id, record["experiment"], record["status"], sha256_file(runs_dir / run_id / RECORD), prev, at)
        _append_lines(runs_dir, lines, [entry])
    return entry


def append(runs_dir: Path, run_id: str, experiment: str, status: str) -> dict:
    """Append the line that seals `runs_dir/run_id/run.json` as it is now (for tools that write records themselves)."""
    return append_many(runs_dir, [(run_id, experiment, status)])[0]


def append_many(runs_dir: Path, runs: list[tuple[str, str, str]]) -> list[dict]:
    """Lines sealing many records as they are now, (run id, experiment, status) each, written at once
    (tools that synthesise or import thousands of runs; one write instead of one per run)."""
    hashes = [sha256_file(runs_dir / run_id / RECORD) for run_id, _, _ in runs]
    with locked(runs_dir):
        lines = read_lines(runs_dir)
        _complete(lines, runs_dir)
        entries, prev = [], sha256_bytes(lines[-1]) if lines else GENESIS
        for (run_id, experiment, status), record_sha in zip(runs, hashes):
            entry = _entry(len(lines) + len(entries) + 1, run_id, experiment, status, record_sha, prev, _now())
            entries.append(entry)
            prev = sha256_bytes((json.dumps(entry, sort_keys=True) + "\n").encode())
        _append_lines(runs_dir, lines, entries)
    return entries


class LedgerError(Exception):
    """The ledger cannot take another line as it is; the message says why."""
