"""`python -m trainer reproduce SWEEP_FOLDER`: repeat a whole sweep and say, trial by trial, whether it is the same.

Two questions, each answered per trial:

1. The configurations: a fresh study, asked in trial order with the same per-trial seeded samplers and told
   the recorded outcomes (so TPE sees the history it saw), must pick the recorded parameters of every trial.
2. The runs: every trial that finished (ok) is reproduced with `python -m trainer reproduce`, `workers` at
   once, each a new run with its own verdict (identical, within tolerance, diverged). A pruned or failed
   trial has no final result to repeat; it is listed, not retrained.

Refused when the sweep does not verify against its ledger or never finished. Exit 1 when a configuration
differs or a reproduction diverged.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
from pathlib import Path

import optuna

from .. import reproduction
from ..errors import UsageError
from ..sweeps import space, study as studies
from ..tracking import integrity, layout
from . import EXIT_FAILED, EXIT_OK


def _verified(folder: Path, record: dict) -> None:
    if record.get("status") != "ok":
        raise UsageError(str(folder / layout.RECORD), "status", f"the sweep {record.get('status')}; only a finished sweep (ok) "
                         "can be reproduced (resume it first: python -m trainer sweep --resume)")
    entries, _ = integrity.parse(folder.parent)
    entry = next((e for e in reversed(entries) if e["run"] == folder.name), None)
    problems = ["no ledger line seals it"] if entry is None else integrity.check_run(folder, entry)
    if problems:
        raise UsageError(str(folder), "", f"does not verify ({'; '.join(problems)}); reproducing a changed sweep proves nothing")


def configurations(sweep: space.Sweep, trials: list[dict]) -> list[str | None]:
    """For each recorded trial, None when a fresh study picks the same parameters, else what differs."""
    study = optuna.create_study(direction="minimize" if sweep.goal == "min" else "maximize")
    found = []
    for row in sorted(trials, key=lambda r: r["number"]):
        trial = studies.ask(study, sweep)
        same = trial.params == row["params"]
        found.append(None if same else f"picked {trial.params}, recorded {row['params']}")
        for step, value in (row.get("intermediate") or {}).items():
            trial.report(value, int(step))
        if row["value"] is not None:
            study.tell(trial, row["value"])
        else:
            study.tell(trial, state=studies.TrialState.PRUNED if row["status"] == "pruned" else studies.TrialState.FAIL)
    return found


def _reproduce(run: Path, args: argparse.Namespace) -> str:
    """The verdict of reproducing one trial's run (a new run next to it)."""
    argv = [sys.executable, "-m", "trainer", "reproduce", str(run), "--rtol", str(args.rtol), "--atol", str(args.atol)]
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    lines = done.stdout.strip().splitlines()
    folder = Path(lines[-1]) if lines else None
    if folder is None or not (folder / layout.RECORD).is_file():
        return f"not reproduced (reproduce exited with status {done.returncode})"
    return (json.loads((folder / layout.RECORD).read_text()).get("reproduction") or {}).get("summary") or "no verdict"


def command(folder: Path, record: dict, args: argparse.Namespace) -> int:
    _verified(folder, record)
    sweep = space.load(folder / layout.CONFIG)
    trials = sorted(record["sweep"]["trials"], key=lambda r: r["number"])
    differs = configurations(sweep, trials)
    finished = {r["number"]: folder.parent / r["run"] for r in trials if r["status"] == "ok" and r.get("run")}
    with concurrent.futures.ThreadPoolExecutor(sweep.workers) as pool:
        verdicts = dict(zip(finished, pool.map(lambda run: _reproduce(run, args), finished.values())))
    failed = 0
    for row, difference in zip(trials, differs):
        verdict = verdicts.get(row["number"], f"not retrained ({row['status']})")
        bad = difference is not None or verdict.startswith((reproduction.DIVERGED, "not reproduced"))
        failed += bad
        print(f"trial {row['number']}: configuration {'same' if difference is None else 'differs: ' + difference}; {verdict}")
    print(f"sweep {folder.name}: {len(trials) - failed} of {len(trials)} trials the same"
          + ("" if not failed else f", {failed} not"), file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
