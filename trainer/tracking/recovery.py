"""Runs that died without sealing (SIGKILL, a crash, the machine going down), found and sealed as interrupted.

Such a run's record still says `running`, but no process holds its folder's lock (the kernel drops
a lock when its process dies, however it dies). `verify` and the site recognise it as interrupted
without writing anything; the next trainer command that starts a run seals it: the record gets
status `interrupted`, the time of its last sign of life and every artifact's hash, and the ledger
gets its line. Its files are those of its last checkpoint, since every write is atomic, so
`python -m trainer resume` continues it from there; leftovers of writes the kill cut short
(hidden temporary files) are removed first. Torch-free.
"""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from . import layout, locks, status
from .files import remove_temporaries
from .layout import CREATING, LOCK
from .run import Run


def _record(folder: Path) -> dict | None:
    try:
        record = json.loads((folder / layout.RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def interrupted(runs_dir: Path) -> list[Path]:
    """Run folders whose record says `running` while no process holds their lock."""
    found = []
    for folder in layout.run_folders(runs_dir):
        record = _record(folder)
        if record and record.get("status") == "running" and record.get("run_id") == folder.name and not locks.held(folder / LOCK):
            found.append(folder)
    return found


def _last_alive(folder: Path) -> datetime:
    newest = max((p.stat().st_mtime for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), default=None)
    return datetime.fromtimestamp(newest, timezone.utc) if newest else datetime.now(timezone.utc)


def _reason(folder: Path, record: dict) -> str:
    if record.get("kind") == "sweep":
        return ("the sweep's process stopped without sealing it (killed, crashed or the machine went down); continue it "
                f"with: python -m trainer sweep --resume {folder}")
    rows = layout.read_metrics(folder / layout.METRICS)
    checkpointed = (status.read(folder / layout.STATUS) or {}).get("checkpoint_step") or (rows[-1]["step"] if rows else None)
    if not (rows and checkpointed and (folder / layout.CHECKPOINT).is_file()):
        where = "it had written no checkpoint yet"
    else:
        beyond = rows[-1]["step"] > checkpointed
        where = f"its files are as of its last checkpoint (step {checkpointed})" + (
            f", its metrics as far as step {rows[-1]['step']} (resume cuts them back to the checkpoint)" if beyond else "")
    return (f"the process stopped without sealing the run (killed, crashed or the machine went down); {where}; "
            f"continue it with: python -m trainer resume {folder}")


def _seal(folder: Path, lock) -> None:
    run = Run.open(folder)
    run._lock = lock
    if run.record.get("status") != "running":  # sealed by someone else between the scan and the lock
        return
    remove_temporaries(folder)
    alive = _last_alive(folder)
    since = datetime.fromisoformat((run.record.get("resumed_from") or {}).get("at") or run.record["started_at"])
    duration = (run.record.get("duration_s") or 0.0) + max((alive - since).total_seconds(), 0.0)
    run.conclude("interrupted", {}, _reason(folder, run.record), ended_at=alive, duration_s=duration)
    run.seal()


def seal_interrupted(runs_dir: Path) -> list[str]:
    """Seal every run in `runs_dir` that died unsealed as interrupted; returns their ids."""
    sealed = []
    for folder in interrupted(runs_dir):
        lock = locks.acquire(folder / LOCK)
        if lock is None:  # a resume took it in the meantime
            continue
        try:
            _seal(folder, lock)
            sealed.append(folder.name)
        finally:
            lock.close()
    for staging in runs_dir.glob(f".*{CREATING}") if runs_dir.is_dir() else []:
        if (staging / LOCK).is_file() and not locks.held(staging / LOCK):
            shutil.rmtree(staging, ignore_errors=True)  # a run that died while its folder was being made
    return sealed
