"""`python -m trainer verify`: check the ledger's chain, every sealed run and every run folder; name what is wrong
(trainer.verify)."""
from __future__ import annotations

import argparse
import sys

from .. import api
from ..api import folders
from ..tracking import integrity
from . import EXIT_FAILED, EXIT_OK


def lines(result: integrity.Verification) -> list[str]:
    """One line per ledger problem, then one per run: `ok`, `FAILED` with its problems, `running` or `interrupted`."""
    out = [f"LEDGER  {finding}" for finding in result.ledger]
    for check in result.runs:
        if check.problems:
            out.append(f"FAILED  {check.run}: " + "; ".join(check.problems))
        elif check.state in (integrity.RUNNING, integrity.INTERRUPTED):
            out.append(f"{check.state:<7} {check.run}: {check.note}")
        else:
            out.append(f"ok      {check.run}")
    return out


def command(args: argparse.Namespace) -> int:
    root = folders.runs_root(args.runs_dir, must_exist=True)
    result = api.verify(root)
    for line in lines(result):
        print(line)
    unsealed = [c for c in result.runs if c.state in (integrity.RUNNING, integrity.INTERRUPTED) and c.ok]
    note = f" ({len(unsealed)} running or interrupted, not sealed yet)" if unsealed else ""
    verdict = "all verified" if not result.problems else f"{result.problems} problem(s)"
    print(f"{len(result.runs)} runs checked in {root}: {verdict}{note}", file=sys.stderr)
    return EXIT_FAILED if result.problems else EXIT_OK
