"""Questions about runs that train nothing: `verify` the audit trail, `gate` experiments' latest runs, `replay`
a run's evaluation scenarios. Each returns what it found; deciding what is a failure is the caller's (the
command line exits 1). Torch-free but for `replay`, whose engine trains (imports torch) to play again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .. import experiments, gates
from ..engines import registry
from ..errors import UsageError
from ..tracking import checkpoint, integrity, layout, picks
from . import folders
from .results import RunResult


def verify(where: str | Path | RunResult | None = None) -> integrity.Verification:
    """Check the ledger's chain, every sealed run's record and artifacts, and every run folder; name what is wrong.

    `where` is a runs folder (default: $TRAINBOOK_RUNS_DIR, else ./runs), or one run (its folder or a RunResult),
    whose check and the ledger's findings about it are then all that is returned. `.problems` counts them;
    0 means every sealed record and artifact is as the ledger sealed it."""
    if isinstance(where, RunResult) or (where is not None and (Path(where) / layout.RECORD).is_file()):
        folder = where.path if isinstance(where, RunResult) else Path(where)
        found = integrity.verify(folder.parent)
        return integrity.Verification([f for f in found.ledger if f.run == folder.name],
                                      [c for c in found.runs if c.run == folder.name])
    root = folders.runs_root(None if where is None else str(where), must_exist=True)
    return integrity.verify(root)


@dataclass
class GateReport:
    """How one experiment file's gates judge its newest sealed run."""

    experiment: str
    file: str
    run: str | None
    """the run judged, None when there is none to judge"""
    verdicts: list[gates.Verdict]
    problems: list[str]
    """why the run cannot be judged, or does not verify"""

    @property
    def passed(self) -> bool:
        return not self.problems and all(v.passed for v in self.verdicts)


def latest_run(runs_dir: Path, experiment: str) -> tuple[str | None, dict | None, list[str]]:
    """(run id, record, problems) of the newest sealed run of `experiment`; problems say why it can't be judged.

    Sweeps, their trials and reproductions of trials are left out (picks.as_declared): each trains a variant of
    the experiment, and a gate judges the experiment as its file declares it."""
    entries, _ = integrity.parse(runs_dir)
    latest = {e["run"]: e for e in entries if e.get("experiment") == experiment}
    candidates = []
    for run_id, entry in latest.items():
        try:
            record = json.loads((runs_dir / run_id / layout.RECORD).read_text())
        except (OSError, ValueError):
            record = {}
        if not picks.as_declared(record):
            continue
        candidates.append((record.get("started_at") or "", run_id, entry, record))
    if not candidates:
        return None, None, [f"no sealed run of {experiment} in {runs_dir} (run `make train` first)"]
    _, run_id, entry, record = max(candidates, key=lambda c: (c[0], c[1]))
    problems = integrity.check_run(runs_dir / run_id, entry)
    return run_id, record, [f"{run_id} does not verify: {p}" for p in problems]


def gate(files: list[str | Path], *, runs_dir: str | Path | None = None) -> list[GateReport]:
    """Judge the newest sealed run of each experiment file against the gates the file declares (every file is
    loaded, and refused with a ConfigError, before any verdict); one report per file, in order."""
    root = folders.runs_root(None if runs_dir is None else str(runs_dir))
    configs = [(str(file), experiments.load(file)) for file in files]
    reports = []
    for file, cfg in configs:
        declared = getattr(cfg, "gates", None) or {}
        if not declared:
            reports.append(GateReport(cfg.name, file, None, [], []))
            continue
        run_id, record, problems = latest_run(root, cfg.name)
        verdicts = gates.judge_all(declared, record) if record is not None else []
        reports.append(GateReport(cfg.name, file, run_id, verdicts, problems))
    return reports


def replay(run: str | Path | RunResult, scenarios: list[str] | None = None, *,
           runs_dir: str | Path | None = None) -> list[tuple[str, str | None]]:
    """Play a run's evaluation scenarios again from its checkpoint: (scenario, None when the replayed trace is
    bit-identical to the recorded one, else where it first differs), for the named scenarios or all."""
    run_dir = run.path if isinstance(run, RunResult) else folders.locate(str(run), None if runs_dir is None else str(runs_dir))
    found = folders.open_run(run_dir)
    spec = registry.spec_for(found.model_type)
    if spec is None or not spec.replay:
        raise UsageError(str(run_dir), "", f"a {found.record.get('kind') or found.model_type} run has no scenarios to replay")
    try:
        return registry.load(spec).replay(run_dir, scenarios)
    except checkpoint.CheckpointError as e:
        raise UsageError(str(run_dir), layout.CHECKPOINT, str(e)) from None
