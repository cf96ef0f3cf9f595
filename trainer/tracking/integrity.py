"""Is the audit trail intact? The ledger's chain, every sealed run, and every run folder, checked and named.

`verify(runs_dir)` reads the ledger and the run folders and says, for each thing that is wrong,
exactly which ledger line, run or file, and what happened to it:

- a ledger line that was edited, truncated, deleted, inserted or reordered (the chain of sha256s and
  each line's sequence number witness it, chain.py names which, once; the record each line seals
  witnesses it too, and a record remembers the line that sealed it, so even the last line's deletion
  is named),
- a record (run.json) that was edited or removed, an artifact edited, missing or added after sealing,
- a run folder that no ledger line seals (unrecorded), or whose folder name is not its record's.

A run that is still training (its folder lock is held) or that was interrupted (its record says
`running` but no process holds the lock: killed, crashed, machine down) is reported as such; neither
is tampering. Torch-free, read-only: verifying never writes a file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import ledger, locks
from .chain import Chain, Finding
from .layout import LOCK
from .files import sha256_file
from . import layout

CROSS_CHECKED = (("status", "status"), ("experiment", "experiment"), ("run", "run_id"))
"""(ledger line field, record field) pairs that must agree for a sealed record"""

SEALED, RUNNING, INTERRUPTED, UNSEALED = "sealed", "running", "interrupted", "unsealed"


@dataclass
class RunCheck:
    run: str
    problems: list[str] = field(default_factory=list)
    state: str = SEALED
    """sealed (in the ledger), running, interrupted (died without sealing), or unsealed (not in the ledger)"""
    note: str = ""
    """for a running or interrupted run: what is going on, for a person"""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Verification:
    ledger: list[Finding]
    runs: list[RunCheck]
    sealed: set[str] = field(default_factory=set)
    """the runs a well-formed ledger line seals (a resumed run's earlier line counts)"""

    @property
    def problems(self) -> int:
        return len(self.ledger) + sum(not c.ok for c in self.runs)

    def check(self, run: str) -> RunCheck | None:
        """The check of one run, if it was checked."""
        if len(getattr(self, "_by_run", ())) != len(self.runs):  # built once: a publish asks for 10,000 runs
            self._by_run = {c.run: c for c in self.runs}
        return self._by_run.get(run)

    def for_run(self, run: str) -> list[str]:
        """Everything wrong with one run: its own problems and those of ledger lines that name it."""
        check = self.check(run)
        return [str(f) for f in self.ledger if f.run == run] + (check.problems if check else [])


# --- the ledger's lines ---------------------------------------------------------------------

def chain(lines: list[bytes]) -> tuple[list[dict], list[str]]:
    """The well-formed entries of ledger lines, and what is wrong with the chain they form (records not consulted)."""
    found = Chain(lines, lambda entry: None)
    found.check()
    return [e for e in found.entries if e is not None], [str(f) for f in sorted(found.findings.values(), key=lambda f: f.line)]


def parse(runs_dir: Path) -> tuple[list[dict], list[str]]:
    """The entries of a runs folder's ledger, and what is wrong with its chain."""
    return chain(ledger.read_lines(runs_dir))


# --- records and artifacts ------------------------------------------------------------------

class _Records:
    """Run records as read from disk, each read once."""

    def __init__(self, runs_dir: Path, hash_file: Callable[[Path], str]):
        self.runs_dir, self.hash_file, self._cache = runs_dir, hash_file, {}

    def get(self, run: str) -> tuple[dict | None, str | None, str | None]:
        """(record, its sha256, a problem reading it) for a run id."""
        if run not in self._cache:
            self._cache[run] = self._read(self.runs_dir / run)
        return self._cache[run]

    def _read(self, folder: Path) -> tuple[dict | None, str | None, str | None]:
        path = folder / layout.RECORD
        if not folder.is_dir():
            return None, None, "run folder missing"
        if not path.is_file():
            return None, None, "run.json missing"
        try:
            record = json.loads(path.read_bytes())
            assert isinstance(record, dict)
        except (OSError, ValueError, UnicodeDecodeError, AssertionError):
            return None, self.hash_file(path), "run.json is not a JSON record (edited or truncated)"
        return record, self.hash_file(path), None


def seal_of(record: dict | None) -> dict:
    seal = (record or {}).get("sealed")
    return seal if isinstance(seal, dict) else {}


def _artifact_problems(folder: Path, record: dict, hash_file: Callable[[Path], str]) -> list[str]:
    problems = []
    artifacts = record.get("artifacts") if isinstance(record.get("artifacts"), dict) else {}
    for name, facts in sorted(artifacts.items()):
        path = folder / name
        if "/" in name or name.startswith("."):
            problems.append(f"{name!r}: not a plain file name (record edited)")
        elif not path.is_file():
            problems.append(f"{name}: missing (listed in run.json)")
        elif not isinstance(facts, dict) or path.stat().st_size != facts.get("bytes") or hash_file(path) != facts.get("sha256"):
            problems.append(f"{name}: edited (its sha256 differs from the one in run.json)")
    present = {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    for name in sorted(present - set(artifacts) - {layout.RECORD}):
        problems.append(f"{name}: added after the run was sealed (not listed in run.json)")
    return problems


def _unsealed_state(folder: Path, record: dict) -> tuple[str, str]:
    """(state, note) of a run whose record says it is still running."""
    if locks.held(folder / LOCK):
        return RUNNING, f"running (process {record.get('pid')} holds it)"
    return INTERRUPTED, ("interrupted: the process stopped without sealing the run (killed, crashed or the machine went "
                         f"down); continue it with `python -m trainer resume {folder}`, or the next `python -m trainer run` "
                         "seals it as interrupted")


def check_run(run_dir: Path, entry: dict, hash_file: Callable[[Path], str] = sha256_file) -> list[str]:
    """Problems with one run sealed by `entry` (its latest ledger line): its record, and each artifact it lists."""
    chain = Chain([], lambda e: None)
    check = _check_sealed(_Records(run_dir.parent, hash_file), run_dir.name, entry, chain)
    return [str(f) for f in chain.findings.values()] + check.problems


def verify_run(folder: Path, hash_file: Callable[[Path], str] = sha256_file) -> list[str]:
    """Everything wrong with one run against the ledger of the runs folder it is in (empty: it verifies): a problem
    of the chain, of its record or of a file it lists, or no line sealing it at all."""
    entries, chain_problems = parse(folder.parent)
    entry = next((e for e in reversed(entries) if e["run"] == folder.name), None)
    if entry is None:
        return chain_problems + [f"no line of {folder.parent / layout.LEDGER} seals it"]
    return chain_problems + check_run(folder, entry, hash_file)


def _check_sealed(records: _Records, run: str, entry: dict, chain: Chain) -> RunCheck:
    """The check of a run the ledger seals; a problem of its ledger line that the record reveals goes to `chain`."""
    record, digest, problem = records.get(run)
    line = entry["seq"]
    if problem:
        return RunCheck(run, [problem + (f" (ledger line {line} seals it)" if record is None and digest is None else "")])
    if record.get("status") == "running":
        state, note = _unsealed_state(records.runs_dir / run, record)
        return RunCheck(run, [], state, f"{note}; resumed after ledger line {line} sealed it as {entry['status']!r}")
    if digest != entry["record_sha256"]:
        later = seal_of(record).get("ledger_line")
        if isinstance(later, int) and later > line:
            chain.lost(later, run)
            return RunCheck(run, [f"not sealed: ledger line {later}, which sealed its record, was deleted"])
        return RunCheck(run, [f"run.json edited (its sha256 differs from the one sealed in ledger line {line})"])
    disagreement = _disagreement(entry, record)
    if disagreement:
        chain.note(line, disagreement)
    return RunCheck(run, _artifact_problems(records.runs_dir / run, record, records.hash_file))


def _disagreement(entry: dict, record: dict) -> str | None:
    """How a ledger line differs from the (authentic) record it seals: only an edit of the line explains it."""
    for line_field, record_field in CROSS_CHECKED:
        if entry[line_field] != record.get(record_field):
            return f"edited ({line_field} {entry[line_field]!r}, but the record it seals says {record.get(record_field)!r})"
    sealed_at = seal_of(record).get("sealed_at")
    if sealed_at is not None and entry["sealed_at"] != sealed_at:
        return f"edited (sealed_at {entry['sealed_at']!r}, but the record it seals says {sealed_at!r})"
    return None


def _folder_check(folder: Path, records: _Records, chain: Chain) -> RunCheck | None:
    """The check of a run folder no ledger line names, or None when it holds no record at all."""
    if not (folder / layout.RECORD).is_file():
        return None
    record, _, problem = records.get(folder.name)
    if problem:
        return RunCheck(folder.name, [problem], UNSEALED)
    if record.get("run_id") != folder.name:
        return RunCheck(folder.name, [f"folder renamed or copied (its run.json is the record of run {record.get('run_id')!r})"], UNSEALED)
    if record.get("status") == "running":
        state, note = _unsealed_state(folder, record)
        return RunCheck(folder.name, [], state, note)
    line = seal_of(record).get("ledger_line")
    if isinstance(line, int) and line >= 1:
        chain.lost(line, folder.name)
        return RunCheck(folder.name, [f"not sealed: ledger line {line}, which sealed it, was deleted"], UNSEALED)
    return RunCheck(folder.name, [f"unrecorded run folder (its record says {record.get('status')!r}, but no ledger line seals it)"],
                    UNSEALED)


def verify(runs_dir: Path, hash_file: Callable[[Path], str] = sha256_file, only: set[str] | None = None) -> Verification:
    """Check the ledger's chain, every sealed run (by its latest line), and every run folder the ledger does not name.

    With `only`, the chain is checked whole but only the runs named in `only` are: a publish that knows the
    others are unchanged since it last verified them (generators/run_index.py) checks what changed."""
    records = _Records(runs_dir, hash_file)

    def sealed_prev(entry: dict) -> str | None:
        record, digest, _ = records.get(entry["run"])
        seal = seal_of(record)
        same = digest == entry["record_sha256"] and seal.get("ledger_line") == entry["seq"]
        return seal.get("prev_sha256") if same else None

    chain = Chain(ledger.read_lines(runs_dir), sealed_prev)
    chain.parse()
    latest = {e["run"]: e for e in chain.entries if e is not None}  # a resumed run is sealed again: its last line counts
    checks = [_check_sealed(records, run, entry, chain) for run, entry in latest.items()
              if only is None or run in only]  # first: the most exact words
    folders = layout.run_folders(runs_dir) if only is None else [runs_dir / run for run in sorted(only) if layout.RUN_ID.fullmatch(run)]
    for folder in folders:
        check = None if folder.name in latest or not folder.is_dir() else _folder_check(folder, records, chain)
        if check is not None:
            checks.append(check)
    chain.links()  # last, knowing every seal the records remember
    return Verification(sorted(chain.findings.values(), key=lambda f: f.line), checks, set(latest))
