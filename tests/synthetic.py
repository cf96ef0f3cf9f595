"""Synthetic-but-valid run folders: copies of one real tiny run under new ids, with edited records, sealed.

Only the record changes (experiment, times, metrics, config, status, data hash); the artifacts are the
real run's files, so every folder verifies exactly like a trained one. Used where a test needs many
runs or runs with chosen outcomes, not to stand in for the code under test.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from trainer.tracking import ledger
from trainer.tracking import layout

T0 = datetime(2020, 1, 1, tzinfo=timezone.utc)
"""clones start `minute` minutes after this; `minute=None` starts them now, after any real run (Hugo skips future dates)"""


def template(runs: Path) -> Path:
    """The one real run folder in a runs folder (e.g. the session's tiny_runs)."""
    (run,) = [p for p in runs.iterdir() if p.is_dir() and (p / layout.RECORD).is_file()]
    return run


def _set(tree: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def clone_run(source: Path, runs: Path, experiment: str, minute: int | None, *, link: bool = False, seal: bool = True,
              metrics: dict | None = None, config: dict | None = None, status: str = "ok", reason: str | None = None,
              data_sha256: str | None = None, extra: dict | None = None, files: dict[str, bytes] | None = None) -> Path:
    """A sealed copy of the run at `source` as a run of `experiment`, started `minute` minutes after T0 (None: now).

    `files` replaces (or adds) files of the copy by name, their hashes sealed in its record like the trainer's."""
    record = json.loads((source / layout.RECORD).read_text())
    started = datetime.now(timezone.utc).replace(microsecond=0) if minute is None else T0 + timedelta(minutes=minute)
    salt = hashlib.sha256(f"{experiment}{minute}{runs}".encode()).hexdigest()[:7]
    run_id = f"{experiment}-{started.strftime('%Y%m%dT%H%M%SZ')}-{salt}"
    folder = runs / run_id
    folder.mkdir(parents=True)
    for f in source.iterdir():
        if f.is_file() and f.name != layout.RECORD:
            (os.link if link else shutil.copy2)(f, folder / f.name)
    record.update(run_id=run_id, experiment=experiment, status=status, reason=reason,
                  started_at=started.isoformat(timespec="seconds"), **(extra or {}))
    record["config"]["name"] = experiment
    for key, value in (config or {}).items():
        _set(record["config"], key, value)
    record["metrics"] = {**record["metrics"], **(metrics or {})} if status == "ok" else {}
    if data_sha256:
        record["data"]["sha256"] = data_sha256
    for name, data in (files or {}).items():
        (folder / name).unlink(missing_ok=True)
        (folder / name).write_bytes(data)
        record["artifacts"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    record.pop("sealed", None)  # a new record: the original's seal is not its own

    (folder / layout.RECORD).write_text(json.dumps(record, indent=2, sort_keys=True))
    if seal:
        ledger.seal(runs, run_id, record)
    return folder
