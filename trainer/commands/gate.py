"""`python -m trainer gate EXPERIMENT...`: judge each experiment's latest run against the gates its file declares."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import experiments, gates
from ..tracking import integrity, layout
from . import EXIT_FAILED, EXIT_OK, folders


def latest_run(runs_dir: Path, experiment: str) -> tuple[str | None, dict | None, list[str]]:
    """(run id, record, problems) of the newest sealed run of `experiment`; problems say why it can't be judged.

    A sweep's trials are left out: each trains a variant of the experiment (its sampled parameters), and a gate
    judges the experiment as its file declares it."""
    entries, _ = integrity.parse(runs_dir)
    latest = {e["run"]: e for e in entries if e.get("experiment") == experiment}
    candidates = []
    for run_id, entry in latest.items():
        try:
            record = json.loads((runs_dir / run_id / layout.RECORD).read_text())
        except (OSError, ValueError):
            record = {}
        if record.get("sweep"):  # a sweep, or one of its trials: a variant of the experiment, not the experiment its file declares
            continue
        candidates.append((record.get("started_at") or "", run_id, entry, record))
    if not candidates:
        return None, None, [f"no sealed run of {experiment} in {runs_dir} (run `make train` first)"]
    _, run_id, entry, record = max(candidates, key=lambda c: (c[0], c[1]))
    problems = integrity.check_run(runs_dir / run_id, entry)
    return run_id, record, [f"{run_id} does not verify: {p}" for p in problems]


def command(args: argparse.Namespace) -> int:
    root, failed = folders.runs_root(args.runs_dir), 0
    configs = [(file, experiments.load(file)) for file in args.files]  # every file checked before any verdict
    for file, cfg in configs:
        declared = getattr(cfg, "gates", None) or {}
        if not declared:
            print(f"{cfg.name}: no gates declared in {file}")
            continue
        run_id, record, problems = latest_run(root, cfg.name)
        for problem in problems:
            print(f"FAIL  {cfg.name}: {problem}")
        failed += bool(problems)
        if record is None:
            continue
        for v in gates.judge_all(declared, record):
            print(f"{v.word:4}  {cfg.name}  {v.gate}  (got {v.actual}){'' if v.passed else ': ' + v.reason}  [{run_id}]")
            failed += not v.passed
    print(f"gates: {'all passed' if not failed else f'{failed} failed'} ({len(args.files)} experiment file(s), runs in {root})",
          file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
