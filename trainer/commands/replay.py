"""`python -m trainer replay RUN [--scenario NAME]`: play a run's evaluation scenarios again and compare with its traces."""
from __future__ import annotations

import argparse
import sys

from ..config import ConfigError
from . import EXIT_FAILED, EXIT_OK, folders


def command(args: argparse.Namespace) -> int:
    run_dir = folders.locate(args.run, args.runs_dir)
    record = folders.read_record(run_dir)
    model_type = (record["config"].get("model") or {}).get("type")
    from .. import engines
    from ..tracking.checkpoint import CheckpointError

    engine = engines.for_model(model_type) if model_type in engines.ENGINES else None
    if not hasattr(engine, "replay"):
        raise ConfigError(str(run_dir), "", f"a {record.get('kind') or model_type} run has no scenarios to replay")
    try:
        outcomes = engine.replay(run_dir, args.scenario)
    except CheckpointError as e:
        raise ConfigError(str(run_dir), "checkpoint.pt", str(e)) from None
    for name, difference in outcomes:
        print(f"match     {name}: replayed trace is bit-identical to the recorded one" if difference is None
              else f"MISMATCH  {name}: first difference at {difference}")
    bad = sum(d is not None for _, d in outcomes)
    print(f"{len(outcomes)} scenario(s) replayed from {run_dir}: {'all match' if not bad else f'{bad} mismatch(es)'}", file=sys.stderr)
    return EXIT_FAILED if bad else EXIT_OK
