"""`python -m trainer replay RUN [--scenario NAME]`: play a run's evaluation scenarios again and compare with its
traces (trainer.replay)."""
from __future__ import annotations

import argparse
import sys

from .. import api
from ..api import folders
from . import EXIT_FAILED, EXIT_OK


def command(args: argparse.Namespace) -> int:
    run_dir = folders.locate(args.run, args.runs_dir)
    outcomes = api.replay(run_dir, args.scenario)
    for name, difference in outcomes:
        print(f"match     {name}: replayed trace is bit-identical to the recorded one" if difference is None
              else f"MISMATCH  {name}: first difference at {difference}")
    bad = sum(d is not None for _, d in outcomes)
    print(f"{len(outcomes)} scenario(s) replayed from {run_dir}: {'all match' if not bad else f'{bad} mismatch(es)'}", file=sys.stderr)
    return EXIT_FAILED if bad else EXIT_OK
