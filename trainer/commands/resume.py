"""`python -m trainer resume RUN`: continue an unfinished run in its own folder, from its last checkpoint (trainer.resume)."""
from __future__ import annotations

import argparse

from .. import api
from .finished import report


def command(args: argparse.Namespace) -> int:
    code, result = report(lambda: api.resume(args.run, progress=True))
    if result is not None:
        print(result.path)
    return code
