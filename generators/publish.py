"""`python -m generators.publish`: one whole publish, as `make publish` runs it, under the site's locks.

It renders the runs into pages (`python -m generators`), builds the site into the destination with
Hugo (`generators.hugo_build`) or MkDocs, and writes the site's history (`generators.history
export`), holding both locks of site_lock.py through all three. So two publishes started together
run one after the other, and the site is never a mix of the two. A publish killed at any point is
finished by the next one, to the same bytes a clean publish gives: every write is atomic, a pass
that did not finish makes the next Hugo build a full one, a full build (and every MkDocs build)
replaces the destination whole only when it succeeds, and export clears what a killed export left.
Hugo and MkDocs inherit the locks, so one left running by a killed publish holds them until it is done.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from trainer.tracking.files import StorageError, replace_folder
from trainer.tracking.layout import runs_dir

from . import __main__ as generators, history, hugo_build, site_budget, site_lock

BIN = Path(sys.executable).parent


def _build_mkdocs(out: Path, destination: Path, keep: tuple[int, ...]) -> int:
    """`mkdocs build --strict` into a folder beside the destination, which then replaces it whole."""
    building = hugo_build.staging(destination)
    shutil.rmtree(building, ignore_errors=True)
    result = subprocess.run([str(BIN / "mkdocs"), "build", "--strict", "--quiet", "--clean", "-f", str(out / "mkdocs.yml"),
                             "-d", str(building)], env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, pass_fds=keep)
    if result.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        return result.returncode
    replace_folder(building, destination)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators.publish", description="Render, build and export the site, under its locks.")
    p.add_argument("--engine", choices=("hugo", "mkdocs"), default="hugo")
    p.add_argument("--runs-dir", help="folder of runs (default: $TRAINBOOK_RUNS_DIR or ./runs)")
    p.add_argument("--content", type=Path, default=Path("content"), help="content folder (default: content)")
    p.add_argument("--out", type=Path, default=Path("build/mkdocs"), help="MkDocs only: its docs and config (default: build/mkdocs)")
    p.add_argument("--destination", type=Path, default=Path("public"), help="the built site (default: public)")
    p.add_argument("--baseURL", default="/", help="Hugo only: the address the site is served from (default: /)")
    p.add_argument("--history", type=Path, help="a restored history folder whose runs stay published")
    p.add_argument("--previous-publish", type=Path, metavar="FILE", help="the live site's published.json, to compare with")
    p.add_argument("--plan", type=Path, help="this publish's training plan (python -m generators.retrain --out)")
    p.add_argument("--site-budget", default=site_budget.DEFAULT_BUDGET, metavar="SIZE",
                   help=f"the built site's size budget, e.g. 500MB, or none (default: {site_budget.DEFAULT_BUDGET})")
    p.add_argument("--store-url", help="where the second store serves files moved off the site")
    p.add_argument("--store", type=Path, help="the folder the files moved off the site now are copied into")
    args = p.parse_args(argv)
    hugo = args.engine == "hugo"
    step = ["--engine", args.engine, "--content", str(args.content), "--out", str(args.out)]
    step += [] if hugo else ["--site-dir", str(args.destination)]
    step += ["--runs-dir", args.runs_dir] if args.runs_dir else []
    step += ["--history", str(args.history)] if args.history else []
    step += ["--previous-publish", str(args.previous_publish)] if args.previous_publish else []
    step += ["--plan", str(args.plan)] if args.plan else []
    step += ["--site-budget", args.site_budget] + (["--store-url", args.store_url] if args.store_url else [])
    with site_lock.both(args.content if hugo else args.out, args.destination) as keep:
        status = generators.main(step)
        if status:
            return status
        try:
            if hugo:
                how = hugo_build.build(args.content, args.destination, args.baseURL, BIN / "hugo", keep=keep)
                print(f"hugo: {how} build into {args.destination}", file=sys.stderr)
            elif _build_mkdocs(args.out, args.destination, keep):
                print(f"error: mkdocs could not build the site; {args.destination} is as the last publish left it", file=sys.stderr)
                return 1
            print(history.export(args.destination, runs_dir(args.runs_dir), args.history, args.store), file=sys.stderr)
            print(site_budget.check(args.destination, site_budget.parse_size(args.site_budget), args.store), file=sys.stderr)
        except SystemExit as e:  # Hugo failed; it said why on standard error
            print(f"error: hugo could not build the site (exit status {e.code}); the next publish builds it in full",
                  file=sys.stderr)
            return 1
        except (history.HistoryError, site_budget.BudgetError, StorageError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
