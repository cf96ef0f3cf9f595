"""`python -m trainer trial SWEEP_FOLDER NUMBER`: train one trial of a sweep (the command a sweep's workers run).

The trial's parameters come from the sweep's study, its fixed settings and base experiment from the sweep's
resolved file; the run is a normal run next to the sweep's folder, whose record names the sweep, the trial
number and the parameters. When the sweep prunes, each intermediate value of the pruner's metric goes to the
study as it is logged, and a trial judged worse than its peers is sealed `pruned` at that step.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from ..sweeps import pruning, space, study as studies
from ..tracking import layout
from ..api import folders
from .. import api
from .finished import report


def trial_params(folder: Path, sweep: space.Sweep, number: int) -> dict:
    study = studies.load(folder, sweep)
    found = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if found is None:
        raise UsageError(str(folder / layout.STUDY), "", f"the sweep's study has no trial {number}")
    return dict(found.params)


def tag(folder: Path, number: int, params: dict) -> dict:
    """The record section that makes a run a trial: the sweep, the trial number, the sampled parameters."""
    return {"sweep": {"id": folder.name, "trial": number, "params": params}}


def command(args: argparse.Namespace) -> int:
    folder = Path(args.sweep).resolve()
    record = folders.read_record(folder)
    if record.get("kind") != "sweep":
        raise UsageError(str(folder), "", "not a sweep folder")
    sweep = space.load(folder / layout.CONFIG)
    params = trial_params(folder, sweep, args.number)
    overrides = sweep.overrides(params) + ([f"train.threads={args.threads}"] if args.threads else [])
    code, result = report(lambda: api.run(sweep.base, overrides, runs_dir=folder.parent, progress=True,
                                          extra=tag(folder, args.number, params),
                                          listener=pruning.reporter(folder, sweep, args.number)))
    if result is not None:
        print(result.path, flush=True)
    return code
