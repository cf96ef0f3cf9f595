"""`python -m trainer reproduce RUN`: train a recorded run again from its own record, and say whether it is the same
(trainer.reproduce). Prints the verdict: identical, within tolerance (with the largest deviation), or diverged at
step N; exit status 1 when it diverged."""
from __future__ import annotations

import argparse

from .. import api
from . import EXIT_FAILED, EXIT_OK
from .finished import report


def command(args: argparse.Namespace) -> int:
    code, result = report(lambda: api.reproduce(args.run, runs_dir=args.runs_dir, rtol=args.rtol, atol=args.atol,
                                                progress=True))
    if result is None:
        return code
    print(f"reproduction of {result.reproduction['of']}: {result.reproduction['summary']}")
    print(result.path)
    return EXIT_FAILED if result.verdict == "diverged" else EXIT_OK
