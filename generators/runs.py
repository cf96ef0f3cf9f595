"""Reading run folders as the trainer left them: the record, the resolved config, the metrics.

Only names the trainer could have written are used as paths: a folder whose name or record
does not look like a run is reported and skipped, never published.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from trainer.tracking import integrity
from trainer.tracking.files import sha256_file
from trainer.tracking import layout

EXPERIMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
PUBLISHED = (".png", ".json", ".jsonl", ".yaml", ".txt")
"""Artifact kinds copied next to a run's page; checkpoints stay in runs/."""


@dataclass
class RunView:
    id: str
    folder: Path
    record: dict
    verification: list[str] = field(default_factory=list)
    """problems `verify` found; empty when the run's record and artifacts match the ledger"""
    state: str = integrity.SEALED
    """what `verify` says the run is: sealed, running, interrupted (died without sealing) or unsealed"""
    sealed: bool = False
    record_sha256: str = ""
    """hash of run.json as read: part of every page key that shows this run"""
    published: bool = False
    """in the published history given to this publish (shown from there, or from runs/ when both have it)"""
    from_history = False
    """True for a run restored from the published history (history.PublishedRun) rather than read from runs/"""

    @functools.cached_property
    def config_yaml(self) -> str:
        """The resolved config as the trainer wrote it (read when a page first needs it)."""
        return _read_optional(self.folder / "config.yaml") or ""

    @functools.cached_property
    def samples(self) -> str | None:
        return _read_optional(self.folder / "samples.txt")

    @property
    def experiment(self) -> str:
        return self.record["experiment"]

    @property
    def status(self) -> str:
        """How the run ended; `interrupted` for a run whose record still says running but whose process is gone."""
        status = self.record.get("status") or "unknown"
        return integrity.INTERRUPTED if status == "running" and self.state == integrity.INTERRUPTED else status

    @property
    def started(self) -> str:
        return self.record.get("started_at") or ""

    @property
    def kind(self) -> str:
        """The experiment kind the engine declared (language-model, manual-backprop, rl...)."""
        return self.record.get("kind") or "unknown"

    @property
    def dataset(self) -> str | None:
        data = self.record.get("data") or {}
        return data.get("dataset") or ((self.record.get("config") or {}).get("data") or {}).get("dataset")

    @property
    def tags(self) -> list[str]:
        tags = (self.record.get("config") or {}).get("tags") or []
        return [str(t) for t in tags] if isinstance(tags, list) else []

    @property
    def duration(self) -> float | None:
        return self.record.get("duration_s")

    @property
    def commit(self) -> str | None:
        return (self.record.get("code") or {}).get("commit")

    @property
    def metrics(self) -> dict:
        return self.record.get("metrics") or {}

    @property
    def key_metric(self) -> dict:
        return self.record.get("key_metric") or {"name": "val_loss", "goal": "min", "label": "val loss"}

    @property
    def key_value(self):
        return self.metrics.get(self.key_metric["name"])

    @property
    def published_files(self) -> list[Path]:
        """The record and the artifacts it lists that are published; taken from the record, not the disk
        (a missing artifact is a verification failure, reported on the page, and is skipped when copying)."""
        names = set(self.record.get("artifacts", {})) | {layout.RECORD}
        return sorted(self.folder / n for n in names if n.endswith(PUBLISHED) and "/" not in n)

    def read_json(self, name: str):
        """A JSON artifact the trainer wrote into the folder (e.g. for a page section), or None if absent or unreadable."""
        path = self.folder / name
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"{self.id}: ignoring unreadable {name} ({e})", file=sys.stderr)
            return None

    def metric_rows(self) -> list[dict]:
        path = self.folder / "metrics.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _read_optional(path: Path) -> str | None:
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None


def load_runs(runs_dir: Path, hash_file: Callable[[Path], str] = sha256_file) -> list[RunView]:
    """Every run folder with a readable record, newest first, each with its verification result.

    `hash_file` may remember hashes of unchanged files between publishes (see incremental.HashCache)."""
    if not runs_dir.is_dir():
        return []
    result = integrity.verify(runs_dir, hash_file)
    states = {c.run: c.state for c in result.runs}
    entries, _ = integrity.parse(runs_dir)
    sealed = {e["run"] for e in entries}
    runs = []
    for folder in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            raw = (folder / layout.RECORD).read_bytes()
            record = json.loads(raw)
        except (OSError, ValueError) as e:
            print(f"skipping {folder}: no readable run.json ({e})", file=sys.stderr)
            continue
        if not layout.RUN_ID.fullmatch(folder.name) or record.get("run_id") != folder.name \
                or not EXPERIMENT.fullmatch(str(record.get("experiment"))):
            print(f"skipping {folder}: not a run folder written by the trainer", file=sys.stderr)
            continue
        runs.append(RunView(
            id=folder.name, folder=folder, record=record,
            verification=result.for_run(folder.name), state=states.get(folder.name, integrity.SEALED),
            sealed=folder.name in sealed,
            record_sha256=hashlib.sha256(raw).hexdigest(),
        ))
    runs.sort(key=lambda r: (r.started, r.id), reverse=True)
    return runs
