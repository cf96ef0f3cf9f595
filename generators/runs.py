"""Run folders as the pages see them: `RunView`, one run's record, files and verification result.

Files are read through the run-folder contract (`trainer.tracking.layout.RunFolder`), never by names of
their own. Only names the trainer could have written are used as paths: a folder whose name or record
does not look like a run is reported and skipped, never published.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from trainer.engines import registry
from trainer.tracking import integrity, layout, status
from trainer.tracking.files import sha256_file

LEGACY_KEY_METRIC = {"name": "val_loss", "goal": "min", "label": "val loss"}
"""the key metric of a record that names none and whose model type no registered engine knows: records from
before the key metric was recorded were all language models, ranked by validation loss"""


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
    stored: dict[str, str] = field(default_factory=dict)
    """file name -> its address in the second store, for the files moved off the site to keep it within its budget
    (generators/site_budget.py); they are linked from there, not published next to the page"""
    from_history = False
    """True for a run restored from the published history (history.PublishedRun) rather than read from runs/"""
    live: dict | None = None
    """for a run that is training now: its status file (trainer/tracking/status.py), as read when it was loaded"""
    summary: dict | None = None
    """the record's fields that pages listing the run use (run_index.summary), for a run whose full record is read
    only when one of its own pages is rendered (run_index.IndexedRun); None when `record` is all there is"""
    artifact_names: list[str] | None = None
    """the names of the files the record lists, when only the summary is at hand"""
    known_footprint: dict | None = None
    """`footprint` as the run index kept it, for a run whose full record is not read"""

    @property
    def facts(self) -> dict:
        """The record as far as listing the run needs it: the summary when that is all that was read."""
        return self.record

    @functools.cached_property
    def fingerprint(self) -> str:
        """The facts about a run that other pages show, as one short digest: enough to know when they must change.
        (A listing page's key holds a hundred of them: digests keep 10,000 runs' keys cheap to compute.)"""
        found = [self.id, self.record_sha256, self.verification, self.sealed, self.state]
        if self.live is not None:
            found.append(self.live.get("step"))  # a running run's pages follow its steps
        return hashlib.sha256(repr(found).encode()).hexdigest()[:32]

    @functools.cached_property
    def contents(self) -> layout.RunFolder:
        """The folder read through the contract, with the record this view holds. The record's bytes are not
        kept (a publish holds thousands of runs); their hash is `record_sha256`."""
        return layout.RunFolder(self.folder, self.record, raw_record=b"")

    @property
    def config_yaml(self) -> str:
        """The resolved config as the trainer wrote it (read when a page first needs it)."""
        return self.contents.config_yaml

    @functools.cached_property
    def samples(self) -> str | None:
        return self.contents.read_text(layout.SAMPLES)

    @functools.cached_property
    def experiment(self) -> str:
        return self.facts["experiment"]

    @functools.cached_property
    def status(self) -> str:
        """How the run ended; `interrupted` for a run whose record still says running but whose process is gone."""
        status = self.facts.get("status") or "unknown"
        return integrity.INTERRUPTED if status == "running" and self.state == integrity.INTERRUPTED else status

    @functools.cached_property
    def started(self) -> str:
        return self.facts.get("started_at") or ""

    @functools.cached_property
    def kind(self) -> str:
        """The experiment kind the engine declared (language-model, manual-backprop, rl...)."""
        return self.facts.get("kind") or "unknown"

    @functools.cached_property
    def dataset(self) -> str | None:
        data = self.facts.get("data") or {}
        return data.get("dataset") or ((self.facts.get("config") or {}).get("data") or {}).get("dataset")

    @property
    def data_source(self) -> str:
        """Where the run's data came from, as its engine recorded it (an engine may record only a dataset name)."""
        data = self.facts.get("data") or {}
        return str(data.get("source") or data.get("dataset") or "–")

    @functools.cached_property
    def tags(self) -> list[str]:
        tags = (self.facts.get("config") or {}).get("tags") or []
        return [str(t) for t in tags] if isinstance(tags, list) else []

    @functools.cached_property
    def duration(self) -> float | None:
        return self.facts.get("duration_s")

    @functools.cached_property
    def commit(self) -> str | None:
        return (self.facts.get("code") or {}).get("commit")

    @functools.cached_property
    def model_type(self) -> str | None:
        """The `model.type` of the run's config: which engine trained it."""
        model = (self.facts.get("config") or {}).get("model")
        return model.get("type") if isinstance(model, dict) else None

    @functools.cached_property
    def metrics(self) -> dict:
        return self.facts.get("metrics") or {}

    @property
    def artifacts(self) -> dict[str, dict]:
        """Every file the run keeps, by name, as its record lists them."""
        return self.contents.artifacts

    def copy_with(self, **changes) -> RunView:
        """A copy of the view with these fields changed (`published`, `stored`). Not dataclasses.replace, which reads
        every field, and so the full record of a run the index serves from its summary."""
        view = copy.copy(self)
        for name, value in changes.items():
            setattr(view, name, value)
        return view

    @functools.cached_property
    def footprint(self) -> dict:
        """What the run's pages weigh on the site, from its record (site_budget sizes the site with it): "files", the
        bytes of each file its page publishes (the record's own, its model files and published artifacts); "models",
        the model files' names; "figures" and "artifacts", how many its record lists."""
        if self.known_footprint is not None:
            return self.known_footprint
        record = self.record
        models = layout.model_files(record)
        files = {n: int(f.get("bytes") or 0) for n, f in self.artifacts.items()
                 if isinstance(n, str) and n.endswith(layout.PUBLISHED_KINDS) and isinstance(f, dict)}
        files |= {n: int(f["bytes"]) for n, f in models.items()}
        path = self.folder / layout.RECORD
        files[layout.RECORD] = path.stat().st_size if path.is_file() else 0
        figures = record.get("figures")
        return {"files": files, "models": sorted(models), "figures": len(figures) if isinstance(figures, list) else 0,
                "artifacts": len(self.artifacts)}

    @property
    def artifact_list(self) -> list[str]:
        """The names of the files the run keeps (without reading the full record when the summary is at hand)."""
        return self.artifact_names if self.artifact_names is not None else sorted(self.artifacts)

    @property
    def reproduction(self) -> dict | None:
        """The record's `reproduction` section (written by `trainer reproduce`), if any."""
        found = self.facts.get("reproduction")
        return found if isinstance(found, dict) else None

    def value_at(self, dotted: str):
        """The record's value at a dotted path (None when absent), from the summary when it holds the path."""
        value = self.facts
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    @functools.cached_property
    def key_metric(self) -> dict:
        """{name, goal, label, ...}: the record's own, else the one its engine's spec declares."""
        if self.facts.get("key_metric"):
            return self.facts["key_metric"]
        spec = registry.spec_for(self.model_type)
        return spec.key_metric.as_record() if spec else dict(LEGACY_KEY_METRIC)

    @functools.cached_property
    def key_value(self):
        return self.metrics.get(self.key_metric["name"])

    @property
    def published_files(self) -> list[Path]:
        """The record and the artifacts it lists that are published next to its page; taken from the record, not the
        disk (a missing artifact is a verification failure, reported on the page, and is skipped when copying).
        Files in the second store are linked from there instead."""
        return [self.folder / name for name in layout.published_names(self.artifact_list, self.record) if name not in self.stored]

    def href(self, name: str) -> str:
        """Where the page links one of the run's files: next to the page, or its address in the store."""
        return self.stored.get(name, name)

    def read_json(self, name: str):
        """A JSON artifact the trainer wrote into the folder (e.g. for a page section), or None if absent or unreadable."""
        try:
            return self.contents.read_json(name)
        except (OSError, ValueError) as e:
            print(f"{self.id}: ignoring unreadable {name} ({e})", file=sys.stderr)
            return None

    def metric_rows(self) -> list[dict]:
        """metrics.jsonl as rows of {"step": n, ...}."""
        return self.contents.metric_rows()


def view_of(folder: Path, result: integrity.Verification) -> RunView | None:
    """The view of one run folder with its verification (`result` must have checked it), or None when the folder
    is not a run the trainer wrote (said on standard error, and never published)."""
    try:
        raw = (folder / layout.RECORD).read_bytes()
        record = json.loads(raw)
    except (OSError, ValueError) as e:
        print(f"skipping {folder}: no readable {layout.RECORD} ({e})", file=sys.stderr)
        return None
    if not layout.RUN_ID.fullmatch(folder.name) or not isinstance(record, dict) or record.get("run_id") != folder.name \
            or not layout.EXPERIMENT.fullmatch(str(record.get("experiment"))):
        print(f"skipping {folder}: not a run folder written by the trainer", file=sys.stderr)
        return None
    check = result.check(folder.name)
    state = check.state if check else integrity.SEALED
    return RunView(
        id=folder.name, folder=folder, record=record,
        verification=result.for_run(folder.name), state=state,
        sealed=folder.name in result.sealed,
        record_sha256=hashlib.sha256(raw).hexdigest(),
        live=(status.read(folder / layout.STATUS) or {}) if state == integrity.RUNNING else None,
    )


def load_runs(runs_dir: Path, hash_file: Callable[[Path], str] = sha256_file) -> list[RunView]:
    """Every run folder with a readable record, newest first, each with its verification result.

    `hash_file` may remember hashes of unchanged files between publishes (see incremental.HashCache); a publish
    also remembers what it read and verified (run_index.RunIndex)."""
    if not runs_dir.is_dir():
        return []
    result = integrity.verify(runs_dir, hash_file)
    folders = sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    runs = [view for view in (view_of(folder, result) for folder in folders) if view is not None]
    runs.sort(key=lambda r: (r.started, r.id), reverse=True)
    return runs
