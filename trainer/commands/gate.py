"""`python -m trainer gate EXPERIMENT...`: judge each experiment's latest run against the gates its file declares
(trainer.gate)."""
from __future__ import annotations

import argparse
import sys

from .. import api
from ..api import folders
from . import EXIT_FAILED, EXIT_OK


def command(args: argparse.Namespace) -> int:
    root = folders.runs_root(args.runs_dir)
    failed = 0
    for report in api.gate(args.files, runs_dir=root):
        if not report.verdicts and not report.problems:
            print(f"{report.experiment}: no gates declared in {report.file}")
            continue
        for problem in report.problems:
            print(f"FAIL  {report.experiment}: {problem}")
        failed += bool(report.problems)
        for v in report.verdicts:
            print(f"{v.word:4}  {report.experiment}  {v.gate}  (got {v.actual}){'' if v.passed else ': ' + v.reason}  [{report.run}]")
            failed += not v.passed
    print(f"gates: {'all passed' if not failed else f'{failed} failed'} ({len(args.files)} experiment file(s), runs in {root})",
          file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
