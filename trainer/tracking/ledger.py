"""The ledger: `runs/ledger.jsonl`, one line per finished run, each line chained to the one before.

A line holds the sha256 of its run's `run.json` and of the previous line's bytes, so editing,
removing or reordering any line, any record, or (through the record's artifact hashes) any
artifact is detectable (`integrity.py` checks it all and names what it finds). A line is added
under an exclusive lock, by writing the whole ledger anew and renaming it into place, so concurrent
runs never lose or interleave lines and a crash never leaves half a line. Sealing writes the final
record beside the old one first and renames it into place only once its line is in the ledger, so
a failed or killed seal leaves the record and the ledger as they were before it. Torch-free.
"""
from __future__ import annotations

import fcntl
import json
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .files import StorageError, dumps_json, sha256_bytes, sha256_file, staged, write_bytes
from .layout import LEDGER, LEDGER_LOCK, RECORD

GENESIS = "0" * 64
"""the `prev_sha256` of the first line"""


@contextmanager
def locked(runs_dir: Path):
    """An exclusive lock on the ledger, held across read-modify-append. The runs folder must exist: one
    removed while a run trained is not made again (with a new, empty ledger) by that run's seal."""
    try:
        lock = open(runs_dir / LEDGER_LOCK, "a")
    except OSError as e:
        raise StorageError(runs_dir / LEDGER_LOCK, e) from None
    with lock:
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


def _complete(lines: list[bytes], runs_dir: Path) -> None:
    if lines and not lines[-1].endswith(b"\n"):
        raise LedgerError(f"{runs_dir / LEDGER}: its last line is incomplete, so no run can be sealed after it; "
                          "run `python -m trainer verify` to see what happened")


def check_appendable(runs_dir: Path) -> None:
    """Raise LedgerError now, before a run trains, if no line could be appended to the ledger later."""
    _complete(read_lines(runs_dir)[-1:], runs_dir)


def _append_lines(runs_dir: Path, lines: list[bytes], entries: list[dict]) -> None:
    """The ledger with more lines, written atomically: a crash leaves the old ledger or the new one."""
    write_bytes(runs_dir / LEDGER, b"".join(lines) + b"".join(line(e) for e in entries))


def entry(seq: int, run_id: str, experiment: str, status: str, record_sha: str, prev: str, at: str) -> dict:
    """A ledger entry: line `seq` seals the record of `run_id` whose sha256 is `record_sha`, after the line `prev` hashes."""
    return {"seq": seq, "run": run_id, "experiment": experiment, "status": status, "record_sha256": record_sha,
            "prev_sha256": prev, "sealed_at": at}


def line(entry: dict) -> bytes:
    """An entry as its ledger line, byte for byte (what the next line's `prev_sha256` hashes)."""
    return (json.dumps(entry, sort_keys=True) + "\n").encode()


def now() -> str:
    """A sealing time, as ledger lines and records write it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def seal(runs_dir: Path, run_id: str, record: dict) -> dict:
    """Seal a run: write into its record the line that will seal it, then the record (beside the old one),
    then that line, then rename the record into place.

    The record and its line witness each other: the line holds the record's sha256, the record the
    line's number, predecessor and time, so a deleted line (even the last) is named by `verify`. A
    failure (StorageError) or a kill at any point leaves the ledger without the line and the old record
    in place; between the last two steps, the line seals a record still being renamed, which `verify`
    reads as a run that stopped unsealed (the record on disk still says `running`), not as tampering."""
    with locked(runs_dir):
        lines = read_lines(runs_dir)
        _complete(lines, runs_dir)
        seq, prev, at = len(lines) + 1, sha256_bytes(lines[-1]) if lines else GENESIS, now()
        record["sealed"] = {"ledger_line": seq, "prev_sha256": prev, "sealed_at": at}
        data = dumps_json(record).encode("utf-8")
        with staged(runs_dir / run_id / RECORD, lambda f: f.write(data), make_folder=False):
            sealing = entry(seq, run_id, record["experiment"], record["status"], sha256_bytes(data), prev, at)
            _append_lines(runs_dir, lines, [sealing])
    return sealing


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
            sealing = entry(len(lines) + len(entries) + 1, run_id, experiment, status, record_sha, prev, now())
            entries.append(sealing)
            prev = sha256_bytes(line(sealing))
        _append_lines(runs_dir, lines, entries)
    return entries


class LedgerError(Exception):
    """The ledger cannot take another line as it is; the message says why."""
