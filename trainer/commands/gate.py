"""`python -m trainer gate EXPERIMENT...`: judge each experiment's latest run against the gates its file declares."""
from __future__ import annotations

import argparse
import sys

from .. import config, gates
from . import EXIT_FAILED, EXIT_OK, folders


def command(args: argparse.Namespace) -> int:
    root, failed = folders.runs_root(args.runs_dir), 0
    configs = [(file, config.load(file)) for file in args.files]  # every file checked before any verdict
    for file, cfg in configs:
        declared = getattr(cfg, "gates", None) or {}
        if not declared:
            print(f"{cfg.name}: no gates declared in {file}")
            continue
        run_id, record, problems = gates.latest_run(root, cfg.name)
        for problem in problems:
            print(f"FAIL  {cfg.name}: {problem}")
        failed += bool(problems)
        if record is None:
            continue
        for v in gates.judge_all(declared, record):
            print(f"{v.word:4}  {cfg.name}  {v.gate}  (got {v.actual}){'' if v.passed else ': ' + v.reason}  [{run_id}]")
            failed += not v.passed
    print(f"gates: {'all passed' if not failed else f'{failed} failed'} ({len(args.files)} experiment file(s), runs in {root})",
          file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
