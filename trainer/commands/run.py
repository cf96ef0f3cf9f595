"""`python -m trainer run EXPERIMENT [key=value ...]`: train one experiment into a new run folder (trainer.run)."""
from __future__ import annotations

import argparse

from .. import api
from .finished import report


def command(args: argparse.Namespace) -> int:
    code, result = report(lambda: api.run(args.file, args.overrides, runs_dir=args.runs_dir, progress=True))
    if result is not None:
        print(result.path)
    return code
