"""The run folder, the one contract between the trainer and everything that reads runs: its file names,
the runs folder's names, and `RunFolder`, the typed reader every reader uses (the generators, the
exporters, the commands).

    runs/                         RUNS_DIR (or --runs-dir, $TRAINBOOK_RUNS_DIR)
      ledger.jsonl                LEDGER: one hash-chained line per sealed run (ledger.py)
      .ledger.lock                LEDGER_LOCK
      <run id>/                   RUN_ID: <experiment>-<UTC timestamp>-<short hash>
        run.json                  RECORD: the audit record
        config.yaml               CONFIG: the resolved config, byte for byte what config_sha256 hashes
        metrics.jsonl             METRICS: one JSON object per logged step, appended as it is logged
        status.json               STATUS: while the run trains, where it is (step, rate, ETA, last values)
        checkpoint.pt, best.pt    CHECKPOINT, BEST: whole training states, kept with the run (never published)
        model.weights.pt          WEIGHTS, BEST_WEIGHTS: the model's weights only, final and best (published)
        samples.txt, embeddings.json, ... engine artifacts (each engine's spec lists its own)
        .lock                     LOCK: held while a process works on the run

A sweep's folder is named and sealed like a run's; its record says `kind: sweep`, its config.yaml is the
resolved sweep file, and it holds the study (STUDY) and the sweep's figures.

A run folder is made under a hidden name (`.<run id>.creating`) and renamed into place whole.
Every file a run keeps is listed with its sha256 in the record's `artifacts`. Torch-free.
"""
from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

# --- the runs folder ------------------------------------------------------------------------

RUNS_DIR = "runs"
LEDGER = "ledger.jsonl"
LEDGER_LOCK = ".ledger.lock"
RUN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}-\d{8}T\d{6}Z-[0-9a-f]{7}")
"""<experiment>-<UTC timestamp>-<short hash>; anything else is never used as a path."""
EXPERIMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
"""an experiment name as schemas.common.check_name allows it"""
CREATING = ".creating"
"""suffix of the hidden name a run folder is filled under before it is renamed into place"""

# --- a run folder: what every run has --------------------------------------------------------

RECORD = "run.json"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
STATUS = "status.json"
"""a running run's progress for live views (tracking/status.py); removed when the run is concluded, so no sealed
run lists it: the record says how the run ended"""
LOCK = ".lock"
CHECKPOINT = "checkpoint.pt"
"""the last state: what `resume` continues from"""
BEST = "best.pt"
"""the state with the best validation loss (language models with `train.keep_best`)"""

# --- artifacts the built-in engines write (their specs list which) ----------------------------

SAMPLES = "samples.txt"
EMBEDDINGS = "embeddings.json"
GRADCHECK = "gradcheck.json"
INTROSPECTION = "introspection.json"
CHOICES = "choices.json"
"""the multiple-choice evaluation's result"""
CHOICE_SET = "choices.jsonl"
"""the multiple-choice set built from held-out text, in HellaSwag's format"""
TOKENIZER = "tokenizer.tiktoken"
"""a learned BPE vocabulary, as tiktoken ranks"""
SCENARIOS = "scenarios.json"
BEHAVIOUR = "behaviour.json"
"""what a policy did in each market regime (action shares, average position, turnover)"""
TRACE = "trace-*.json"
"""one per evaluation scenario: `trace_file(name)`"""
THROUGHPUT_FIGURE = "throughput.png"

# --- a sweep's folder: sealed like a run (RECORD, CONFIG: the resolved sweep file), plus its study ---------

STUDY = "study.journal"
"""the sweep's Optuna study: journal file storage, written by the driver and every trial (sweeps/study.py)"""
STUDY_LOCK_SUFFIX = ".lock"
"""Optuna's lock file next to the journal (STUDY + this), present only while a process writes it"""
SWEEP_FIGURES = ("objective.png", "parallel.png", "slices.png", "importance.png")
"""the figures of a sweep (trainer/figures/sweep.py), in page order"""
"""the figure of the machine's speed (timing.py: never compared between reproductions)"""

WEIGHTS = "model.weights.pt"
"""the model's weights at the end of a finished run, and nothing else (tracking/weights.py)"""
BEST_WEIGHTS = "best.weights.pt"
"""the weights of the best state (lowest validation loss), when it is not the final one"""

PUBLISHED_KINDS = (".png", ".json", ".jsonl", ".yaml", ".txt")
"""artifact kinds a run page publishes (and the published history carries); checkpoints stay in runs/"""
MODEL_KINDS = (".weights.pt", ".tiktoken")
"""the files a trained model is used from (weights only, a learned vocabulary): a run page publishes those its
record's `weights` section names, each up to the run's cap (`model_files`)"""
MAX_MODEL_BYTES = 1 << 30
"""the most one model file may be published at, whatever a config asks: the published history's own bound"""


# --- a published site: where it keeps what it was built from ---------------------------------

SITE_RUNS = "runs"
"""<site>/runs/<run id>/: a run's page, next to the files it publishes (record, config, figures, model files)"""
SITE_HISTORY = "history"
"""<site>/history/: `ledger.jsonl`, every ledger line ever published, and where each carried file is (generators/history.py)"""
SITE_MODELS = "experiments/models.json"
"""each experiment's latest, best and current run with its model files (tracking/picks.py): the site's model registry"""


def published_names(artifacts, record: dict | None = None) -> list[str]:
    """Of a record's artifact names, those a run page publishes, with the record itself, and, given the record,
    its model files within their cap (`model_files`), sorted."""
    small = {n for n in {*artifacts, RECORD} if n.endswith(PUBLISHED_KINDS) and "/" not in n}
    return sorted(small | set(model_files(record) if record is not None else ()))


def trace_file(scenario: str) -> str:
    return TRACE.replace("*", scenario)


def model_files(record: dict) -> dict[str, dict]:
    """The model files a run publishes, by name, with their sealed {sha256, bytes}: those its record's `weights`
    section names (what `tracking/weights.py` wrote), each within the cap the section records. Decided from the
    sealed record alone, so a site and its published history agree on what must be there."""
    section = record.get("weights") if isinstance(record.get("weights"), dict) else {}
    cap = section.get("max_bytes")
    cap = min(cap, MAX_MODEL_BYTES) if isinstance(cap, int) and not isinstance(cap, bool) else 0
    artifacts = record.get("artifacts") if isinstance(record.get("artifacts"), dict) else {}
    named = {entry.get("file") for entry in section.values() if isinstance(entry, dict)}
    found = {}
    for name in sorted(n for n in named if isinstance(n, str) and n.endswith(MODEL_KINDS) and "/" not in n):
        facts = artifacts.get(name)
        size = facts.get("bytes") if isinstance(facts, dict) else None
        if isinstance(size, int) and 0 <= size <= cap:
            found[name] = facts
    return found


def runs_dir(explicit: str | None = None) -> Path:
    """--runs-dir, else $TRAINBOOK_RUNS_DIR, else ./runs."""
    return Path(explicit or os.environ.get("TRAINBOOK_RUNS_DIR") or RUNS_DIR)


def run_folders(root: Path) -> list[Path]:
    """The folders in `root` named like a run (hidden, half-made and foreign folders left out), sorted."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and RUN_ID.fullmatch(p.name))


def read_metrics(path: Path) -> list[dict]:
    """The rows of a metrics.jsonl file (none when it is absent).

    A running run appends to the file as it logs, so its last line may be one still being written (or one a
    kill cut short): a final line without its newline that is not yet JSON is left out, never an error."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    *complete, tail = text.split("\n")
    rows = [json.loads(line) for line in complete if line.strip()]
    if tail.strip():
        try:
            rows.append(json.loads(tail))
        except ValueError:
            pass
    return rows


class NotARun(Exception):
    """A folder that is not a readable run folder: `path` is the folder or the file at fault, the message says why."""

    def __init__(self, path: Path, message: str):
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


@dataclass
class RunFolder:
    """One run folder, read through the contract: its record, config, metrics and artifacts.

    Reading never writes. Files are read when first asked for; `record` is read on construction, so a
    folder that is not a run is refused at once (NotARun)."""

    path: Path
    record: dict
    raw_record: bytes
    """run.json's bytes as read: its sha256 is what the ledger seals"""

    @classmethod
    def open(cls, path: Path) -> "RunFolder":
        if not path.is_dir():
            raise NotARun(path, "no such run folder" if not path.exists() else "not a folder; expected a run folder")
        record_path = path / RECORD
        if not record_path.is_file() or not (path / CONFIG).is_file():
            raise NotARun(path, f"not a run folder (expected {RECORD} and {CONFIG} in it)")
        try:
            raw = record_path.read_bytes()
            record = json.loads(raw)
        except (OSError, ValueError) as e:
            raise NotARun(record_path, f"not a readable run record ({str(e).splitlines()[0]})") from None
        if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
            raise NotARun(record_path, "not a run record (it has no resolved config)")
        return cls(path, record, raw)

    @property
    def id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def experiment(self) -> str:
        return str(self.record.get("experiment"))

    @property
    def model_type(self) -> str | None:
        model = self.record["config"].get("model")
        return model.get("type") if isinstance(model, dict) else None

    @property
    def status(self) -> str:
        return self.record.get("status") or "unknown"

    @property
    def metrics(self) -> dict:
        """The final metrics the record holds."""
        return self.record.get("metrics") or {}

    @property
    def artifacts(self) -> dict[str, dict]:
        """Every file the run keeps, by name: {sha256, bytes} as sealed in the record."""
        found = self.record.get("artifacts")
        return found if isinstance(found, dict) else {}

    @functools.cached_property
    def config_yaml(self) -> str:
        """The resolved config as the trainer wrote it."""
        return self.read_text(CONFIG) or ""

    def metric_rows(self) -> list[dict]:
        """metrics.jsonl as rows of {"step": n, ...}."""
        return read_metrics(self.file(METRICS))

    def read_text(self, name: str) -> str | None:
        path = self.file(name)
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None

    def read_json(self, name: str):
        """A JSON artifact, or None if it is absent; ValueError/OSError when it cannot be read."""
        path = self.file(name)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def published_files(self) -> list[Path]:
        """The record, the artifacts it lists that a run page publishes, and its model files within their cap
        (named by the record, not the disk)."""
        return [self.file(n) for n in published_names(self.artifacts, self.record)]
