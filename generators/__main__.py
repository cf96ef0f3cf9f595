"""`python -m generators`: render every run folder into the site's content folder."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainer.tracking.run import runs_dir

from . import content, history, pages
from .runs import load_runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators", description="Render runs into Hugo content.")
    p.add_argument("--runs-dir", help="folder of runs (default: $TRAINBOOK_RUNS_DIR or ./runs)")
    p.add_argument("--content", default="content", help="content folder to write into (default: content)")
    p.add_argument("--clean", action="store_true", help="remove every generated page and exit")
    p.add_argument("--history", help="a restored history folder (python -m generators.history) whose runs are published too")
    args = p.parse_args(argv)
    if args.clean:
        removed = content.prune(Path(args.content), keep=set()) if Path(args.content).is_dir() else 0
        print(f"removed {removed} generated pages from {args.content}", file=sys.stderr)
        return 0
    runs = load_runs(runs_dir(args.runs_dir))
    if args.history:
        try:
            runs = history.merge_views(history.load_views(Path(args.history)), runs)
        except history.HistoryError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    try:
        counts = content.write(Path(args.content), pages.all_pages(runs))
    except content.ContentError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(runs)} runs -> {counts['pages']} pages in {args.content} ({counts['removed']} stale removed)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
