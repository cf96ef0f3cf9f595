"""`python -m trainer run EXPERIMENT [key=value ...] [EXPERIMENT [key=value ...] ...]`: train each experiment into a
new run folder, one after the other in this process (trainer.run for each).

Each override applies to the experiment file before it. Every file is loaded and checked before any training
starts, so a typo in the last one refuses the whole command with nothing written. Several experiments in one
process share its start-up (importing torch and its compiler costs seconds per process); each run still seeds,
threads and checks determinism from its own config, so it trains exactly as it would alone. The first run that
does not end ok stops the rest, with its exit status; with --keep-going (what `make train` runs) only an
interrupted one does, and the command fails at the end naming every failed experiment (one refused as its run
starts, say for a data file it cannot read, included). With --jobs N they train
N at a time in N worker processes (trainer/commands/lanes.py; what `make train` runs).
"""
from __future__ import annotations

import argparse
import sys

from .. import experiments
from ..api.runs import trainable
from ..errors import UsageError
from ..runtime import launch
from . import EXIT_INTERRUPTED, guarded, lanes
from .finished import failed_at_end, train_one

EXPERIMENT_SUFFIXES = (".yaml", ".yml")


def experiment_files(first: str, rest: list[str]) -> list[tuple[str, list[str]]]:
    """The command line's experiment files, each with the overrides that follow it."""
    files = [(first, [])]
    for arg in rest:
        if "=" not in arg and arg.endswith(EXPERIMENT_SUFFIXES):
            files.append((arg, []))
        else:
            files[-1][1].append(arg)
    return files


def command(args: argparse.Namespace) -> int:
    files = experiment_files(args.file, args.overrides)
    if len(files) > 1 and launch.processes() > 1:
        raise UsageError("command line", "", f"under torchrun, run one experiment per launch (got {len(files)} files)")
    if args.jobs > 1 and launch.processes() > 1:
        raise UsageError("command line", "--jobs", "under torchrun, torchrun starts the processes: leave --jobs out")
    for file, overrides in files:  # every file checked before anything trains
        cfg = experiments.load(file, overrides)
        trainable(experiments.spec(cfg), cfg, file)
    if args.jobs > 1 and len(files) > 1:
        return lanes.train(files, args.jobs, args.runs_dir, args.keep_going)
    if len(files) == 1:
        return train_one(files[0][0], files[0][1], args.runs_dir)
    failed = []
    for file, overrides in files:
        print(f"== {file}", file=sys.stderr, flush=True)
        # A refusal found only as its run starts (unreadable data) is this experiment's failure, as in a --jobs worker.
        code = guarded(lambda: train_one(file, overrides, args.runs_dir))  # noqa: B023 (called at once)
        if code == EXIT_INTERRUPTED or (code != 0 and not args.keep_going):
            return code
        if code != 0:
            failed.append(f"{file} (exit {code})")
    return failed_at_end(failed) if failed else 0
