"""A run folder's lifecycle: created at start, filled with artifacts, sealed in the ledger at the end.

`runs/<experiment>-<UTC timestamp>-<short hash>/` holds `run.json` (the audit record) and the
artifacts the engine writes through this class. The folder appears whole: it is filled under a
hidden name and renamed into place, so a crash while creating it leaves no half-made run. While
training, the record says `running` and the process holds the folder's lock; `conclude` hashes
every artifact into the record, `seal` writes it and appends the ledger line.
A run whose record says `running` while nobody holds its lock died unsealed: see recovery.py.
Torch-free: the engine hands in what only torch knows.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import audit, ledger, locks
from .layout import CONFIG, CREATING, LOCK, RECORD, STATUS
from .files import fsync_dir, sha256_file, write_json, write_jsonl, write_text

def _now() -> datetime:
    return datetime.now(timezone.utc)


class RunBusy(Exception):
    """Another process is still working on this run folder."""


class Run:
    def __init__(self, path: Path, record: dict):
        self.path, self.record = path, record
        self._t0 = time.monotonic()
        self._lock = None

    def claim(self) -> None:
        """Hold the folder's lock while this process works on it (the OS releases it if the process dies)."""
        lock = locks.acquire(self.path / LOCK)
        if lock is None:
            raise RunBusy(f"another process is still working on this run (pid {self.record.get('pid')})")
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @property
    def id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, root: Path, *, experiment: str, config: dict, config_sha256: str, config_yaml: str,
               source: str, overrides: list[str], seeds: dict, data: dict, extra: dict | None = None,
               facts: dict | None = None) -> "Run":
        """A new run folder holding its config and record. `extra` adds record sections, `facts` environment facts."""
        started = _now()
        stamp = started.strftime("%Y%m%dT%H%M%SZ")
        salt = f"{config_sha256}{time.time_ns()}{os.getpid()}".encode()
        run_id = f"{experiment}-{stamp}-{hashlib.sha256(salt).hexdigest()[:7]}"
        root.mkdir(parents=True, exist_ok=True)
        staging = root / f".{run_id}{CREATING}"
        staging.mkdir()  # exclusive: two runs never share a folder
        record = {
            "schema": 1,
            "run_id": run_id,
            "experiment": experiment,
            "kind": None,
            "status": "running",
            "reason": None,
            "config": config,
            "config_sha256": config_sha256,
            "source": {"file": source, "overrides": overrides},
            "code": audit.code_facts(),
            "data": data,
            "environment": {**audit.environment_facts(), **(facts or {})},
            "seeds": seeds,
            "started_at": started.isoformat(timespec="seconds"),
            "ended_at": None,
            "duration_s": None,
            "resumed_from": None,
            "trigger": audit.trigger_facts(),
            "pid": os.getpid(),
            "metrics": {},
            "key_metric": None,
            "figures": [],
            "artifacts": {},
            **(extra or {}),
        }
        run = cls(staging, record)
        run._lock = locks.create_locked(staging / LOCK)  # moves with the folder, held throughout
        write_text(staging / CONFIG, config_yaml, make_folder=False)
        run.save_record()
        run.path = root / run_id
        os.rename(staging, run.path)
        fsync_dir(root)
        return run

    @classmethod
    def open(cls, path: Path, claim: bool = False) -> "Run":
        run = cls(path, json.loads((path / RECORD).read_text()))
        if claim:
            run.claim()
        return run

    def mark_resumed(self, *, step: int, checkpoint_sha256: str, elapsed_s: float, facts: dict) -> None:
        """Record that this process continues the run from a checkpoint (and what it runs on)."""
        entry = {
            "step": step,
            "checkpoint_sha256": checkpoint_sha256,
            "previous_status": self.record.get("status"),
            "at": _now().isoformat(timespec="seconds"),
            "code": audit.code_facts(),
            "environment": {**audit.environment_facts(), **facts},
        }
        self.record["resume_history"] = [*(self.record.get("resume_history") or []), entry]
        self.record.pop("stopped_at_step", None)  # the entry above keeps it; the record describes this session
        self.update(status="running", reason=None, ended_at=None, pid=os.getpid(), duration_s=round(elapsed_s, 3),
                    resumed_from={k: entry[k] for k in ("step", "checkpoint_sha256", "previous_status", "at")})
        self._t0 = time.monotonic()

    def file(self, name: str) -> Path:
        return self.path / name

    # Writes into the run folder never create it: a folder removed while the run trains stays removed,
    # and the write is a StorageError saying so.
    def write_text(self, name: str, text: str) -> Path:
        write_text(self.file(name), text, make_folder=False)
        return self.file(name)

    def write_json(self, name: str, obj: Any) -> Path:
        write_json(self.file(name), obj, make_folder=False)
        return self.file(name)

    def write_jsonl(self, name: str, rows: list[dict]) -> Path:
        write_jsonl(self.file(name), rows, make_folder=False)
        return self.file(name)

    def add_figure(self, name: str, title: str, caption: str, series: tuple[str, ...] = ()) -> None:
        """Describe a figure file already written into the folder, for pages and alt text. `series`: the metrics.jsonl
        columns it plots per step, when it is such a curve, so a page can draw the same curves as an interactive chart."""
        self.record["figures"] = [f for f in self.record["figures"] if f["file"] != name]
        self.record["figures"].append({"file": name, "title": title, "caption": caption, **({"series": list(series)} if series else {})})

    def update(self, **facts: Any) -> None:
        self.record.update(facts)
        self.save_record()

    def save_record(self) -> None:
        write_json(self.file(RECORD), self.record, make_folder=False)

    def _artifacts(self) -> dict:
        return {
            p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(self.path.iterdir())
            if p.is_file() and p.name != RECORD and not p.name.startswith(".")
        }

    def elapsed_s(self) -> float:
        """Seconds this run has been running, over every process that worked on it."""
        return (self.record.get("duration_s") or 0.0) + time.monotonic() - self._t0

    def conclude(self, status: str, metrics: dict, reason: str | None = None, *, ended_at: datetime | None = None,
                 duration_s: float | None = None) -> None:
        """Complete the final record in memory: how the run ended, its metrics, every artifact's hash.

        The live status file goes first: it described the run while it trained, and the record says how it ended."""
        self.file(STATUS).unlink(missing_ok=True)
        self.record.update(
            status=status,
            reason=reason,
            metrics=metrics,
            ended_at=(ended_at or _now()).isoformat(timespec="seconds"),
            duration_s=round(self.elapsed_s() if duration_s is None else duration_s, 3),
            artifacts=self._artifacts(),
        )

    def seal(self) -> dict:
        """Write the final record and append the ledger line that seals it."""
        return ledger.seal(self.path.parent, self.id, self.record)
