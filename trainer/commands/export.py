"""`python -m trainer export [RUN ...] --to mlflow URI | --to tensorboard DIR`: sealed runs into the trackers a
team already uses, through their own clients (trainer/exporters/).

Without RUN, every sealed run of the runs folder. A run already there (an earlier export, or its live mirror)
is left alone unless `--replace`; a run that is still training, or never sealed, is refused.
"""
from __future__ import annotations

import argparse
import sys

from ..api import folders
from ..errors import UsageError
from ..exporters import TOOLS, ExportError, facts, tool
from ..tracking import integrity, layout
from . import EXIT_FAILED, EXIT_OK


def _targets(args: argparse.Namespace) -> tuple[str, str]:
    name, where = args.to
    if name not in TOOLS:
        raise UsageError("--to", "", f"expected {' or '.join(TOOLS)} and a destination, got {name!r}")
    if not where.strip():
        raise UsageError("--to", "", f"{name}: expected a destination ({'a tracking URI' if name == 'mlflow' else 'a log folder'})")
    return name, where


def _runs(args: argparse.Namespace) -> list[layout.RunFolder]:
    """The runs named, or every sealed run of the runs folder; each checked to be a sealed run before anything is exported."""
    if args.runs:
        folders_named = [folders.locate(name, args.runs_dir) for name in args.runs]
    else:
        root = folders.runs_root(args.runs_dir, must_exist=True)
        entries, _ = integrity.parse(root)
        folders_named = [root / run_id for run_id in {e["run"]: e for e in entries} if (root / run_id).is_dir()]
    found = []
    for folder in folders_named:
        run = folders.open_run(folder)
        if run.status == "running":
            raise UsageError(str(folder), "", "still running or interrupted (not sealed yet); export it once it is sealed")
        found.append(run)
    return found


def _shown(location: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in location.items())


def command(args: argparse.Namespace) -> int:
    name, where = _targets(args)
    runs = _runs(args)
    exporter, failed = tool(name), 0
    for run in runs:
        try:
            sink = exporter.Sink(where, run.record, replace=args.replace)
            if not sink.writable:
                print(f"skipped {run.id}: already in {exporter.describe(where)} ({_shown(sink.location)}); --replace exports it again")
                continue
            sink.points(facts.points(run.metric_rows()), facts.epoch(run.record.get("started_at")))
            sink.finish(run.path)
        except ExportError as e:
            print(f"FAILED  {run.id}: {e}")
            failed += 1
            continue
        print(f"exported {run.id} to {exporter.describe(where)}: {_shown(sink.location)}")
    print(f"{len(runs) - failed} of {len(runs)} run(s) in {exporter.describe(where)}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
