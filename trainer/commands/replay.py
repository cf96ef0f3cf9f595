"""`python -m trainer replay RUN [--scenario NAME]`: play a run's evaluation scenarios again and compare with its traces."""
from __future__ import annotations

import argparse
import sys

from ..engines import registry
from ..errors import UsageError
from ..tracking import checkpoint, layout
from . import EXIT_FAILED, EXIT_OK, folders


def command(args: argparse.Namespace) -> int:
    run_dir = folders.locate(args.run, args.runs_dir)
    run = folders.open_run(run_dir)
    spec = registry.spec_for(run.model_type)
    if spec is None or not spec.replay:
        raise UsageError(str(run_dir), "", f"a {run.record.get('kind') or run.model_type} run has no scenarios to replay")
    try:
        outcomes = spec.load().replay(run_dir, args.scenario)
    except checkpoint.CheckpointError as e:
        raise UsageError(str(run_dir), layout.CHECKPOINT, str(e)) from None
    for name, difference in outcomes:
        print(f"match     {name}: replayed trace is bit-identical to the recorded one" if difference is None
              else f"MISMATCH  {name}: first difference at {difference}")
    bad = sum(d is not None for _, d in outcomes)
    print(f"{len(outcomes)} scenario(s) replayed from {run_dir}: {'all match' if not bad else f'{bad} mismatch(es)'}", file=sys.stderr)
    return EXIT_FAILED if bad else EXIT_OK
