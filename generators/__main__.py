"""`python -m generators`: render every run folder into site content, for Hugo (default) or MkDocs."""
from __future__ import annotations

import argparse
import contextlib
import gc
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from trainer.errors import UsageError
from trainer.tracking.files import StorageError, write_text
from trainer.tracking import integrity
from trainer.tracking.layout import runs_dir

from . import guide_sources, incremental, site_lock
from .run_index import RunIndex
from .runs import RunView

if TYPE_CHECKING:
    from trainer.figures.parallel import FigureWorker

    from .site import Page

ENGINES = ("hugo", "mkdocs")
"""the site engines (targets.TARGETS), named here so that a publish with nothing to do imports no page code"""

PUBLISHED = "runs/_index.md"
"""the page next to which this publish's snapshot (publish_log.SHIPPED) and store listing (history.STORE_SHIPPED) ship"""


def _ship(all_pages: list[Page], name: str, text: str) -> None:
    """Publish `text` as the file `name` next to the runs listing (PUBLISHED), rewritten only when it changes."""

    def write_file(path: Path) -> None:
        if not path.is_file() or path.read_text() != text:
            write_text(path, text)

    for page in all_pages:
        if page.path == PUBLISHED:
            page.drawn[name] = write_file
            page.key = page.key and incremental.key(page.key, text)


def _within_budget(runs: list[RunView], budget: str, store_url: str | None) -> tuple[list[RunView], str | None]:
    """The runs with the files that live in the second store marked (site_budget), and the store's listing to ship."""
    from . import markup, site_budget

    base = site_budget.store_base(store_url or None, runs)
    placement = site_budget.place(runs, site_budget.parse_size(budget), {r.id: set(r.stored) for r in runs})
    runs = site_budget.apply(runs, placement, base)
    if placement.stored:
        print(f"site budget {budget}: about {markup.size(placement.site_bytes)} on the site; {markup.size(placement.store_bytes)} "
              f"of {len(placement.stored)} runs in the store {base} ({placement.moved} files moved now)", file=sys.stderr)
    return runs, site_budget.shipped(runs, base)


def _reused(plan: Path, runs: list[RunView]) -> list[tuple[str, str, str]]:
    """(experiment, run id, why) for each run the training plan reused and the site shows."""
    from . import retrain
    from .publish_log import PublishLogError

    try:
        decisions = retrain.read_reused(plan)
    except (OSError, ValueError, TypeError) as e:
        raise PublishLogError(f"{plan}: not a readable training plan ({e})") from None
    shown = {r.id for r in runs}
    return [(d.experiment, d.run, d.reason) for d in decisions if d.run in shown]


def _save(hashes: incremental.HashCache, log, index: RunIndex) -> None:
    """What this publish learnt of the runs (their hashes, what changed, the index), saved while the last figures are
    drawn: the pages' manifest and the inputs' key come after, so a publish stopped between is not taken for a
    finished one (the next renders again what the manifest does not name)."""
    hashes.save()
    log.save()
    index.save()


def published_runs(runs: list[RunView], live: bool) -> list[RunView]:
    """The runs a publish shows: a run still training only in a live publish, never as if it had finished."""
    if live:
        return runs
    training = [r.id for r in runs if r.state == integrity.RUNNING]
    if training:
        print(f"note: {len(training)} run(s) still training, not published until sealed ({', '.join(training[:3])}"
              f"{', ...' if len(training) > 3 else ''}); `make serve` shows them live", file=sys.stderr)
    return [r for r in runs if r.state != integrity.RUNNING]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators", description="Render runs into site content (Hugo or MkDocs).")
    p.add_argument("--runs-dir", help="folder of runs (default: $TRAINBOOK_RUNS_DIR or ./runs)")
    p.add_argument("--engine", choices=ENGINES, default="hugo", help="site engine to write for (default: hugo)")
    p.add_argument("--content", default="content", help="content folder: Hugo writes into it, MkDocs reads the author's pages from it")
    p.add_argument("--out", default="build/mkdocs", help="MkDocs only: folder for docs/ and mkdocs.yml (default: build/mkdocs)")
    p.add_argument("--site-dir", help="MkDocs only: where `mkdocs build` writes the site (default: <out>/site)")
    p.add_argument("--previous-publish", type=Path, metavar="FILE",
                   help="published.json of the live site, to say what changed since it (e.g. on a fresh CI checkout)")
    p.add_argument("--full", action="store_true", help="render every page again, ignoring what the last publish recorded")
    p.add_argument("--clean", action="store_true", help="remove every generated page and exit")
    p.add_argument("--history", help="a restored history folder (python -m generators.history) whose runs are published too")
    p.add_argument("--live", action="store_true",
                   help="also publish runs that are training now, as live pages (the watch server's publish, never a site's)")
    p.add_argument("--site-budget", metavar="SIZE",
                   help="largest site to build, e.g. 500MB or none: older runs' files move to the store beyond it "
                        "(default: generators/site_budget.py's DEFAULT_BUDGET)")
    p.add_argument("--store-url", help="where the second store serves files (<url><run id>/<file>), for files moved off the site")
    p.add_argument("--plan", type=Path, help="this publish's training plan (python -m generators.retrain --out), so the "
                                              "home page names the runs it reused instead of training them again")
    args = p.parse_args(argv)
    content_dir = Path(args.content)
    out = content_dir if args.engine == "hugo" else Path(args.out) / "docs"
    # .trainbook/ (manifest, hash cache, publish log) lives next to the pages it describes, outside MkDocs' docs.
    state = content_dir if args.engine == "hugo" else Path(args.out)
    with site_lock.state(state):  # another publish of these pages waits for this one
        return _generate(args, content_dir, out, state)


def _generate(args: argparse.Namespace, content_dir: Path, out: Path, state: Path) -> int:
    if args.clean:
        return _clean(content_dir, state)
    # A publish with something to do draws figures, whose code (matplotlib) takes about a second to import: the
    # worker imports it on the other core from the start, while this process reads the runs and renders the pages.
    # A publish with nothing to do ends it a moment later, at the cost of that moment of the other core.
    from trainer.figures.parallel import FigureWorker

    with FigureWorker(_prepare_figures) as drawer, _collector_paused() as listed:
        return _publish(args, content_dir, out, state, drawer, listed)


@contextlib.contextmanager
def _collector_paused() -> Iterator[Callable[[], None]]:
    """Python's cyclic garbage collector off while the publish reads the runs and lists its pages; the function it
    gives is called once they are listed, and turns it on again with what was built by then frozen (gc.freeze: never
    walked again). A publish builds hundreds of thousands of objects that live until it ends (10,000 runs' views and
    summaries, their pages), which the collector would otherwise walk again and again as they grow: a second of a
    one-run publish at 10,000 runs. Rendering, which makes and drops cycles, runs with it on. The figure worker is
    forked before this, with it on. A caller's own frozen objects and switch are left as they were."""
    enabled, frozen = gc.isenabled(), gc.get_freeze_count() > 0
    gc.disable()

    def listed() -> None:
        if not frozen:
            gc.freeze()
        if enabled:
            gc.enable()

    try:
        yield listed
    finally:
        if not frozen:
            gc.unfreeze()
        if enabled:
            gc.enable()


def _prepare_figures() -> None:
    from . import figures

    figures.prepare()


def _clean(content_dir: Path, state: Path) -> int:
    from . import content

    owned_files = incremental.Manifest(state).old_files
    removed = content.prune(content_dir, keep=set(), files=owned_files) if content_dir.is_dir() else []
    for kept in (state / incremental.STATE_DIR).iterdir():  # all but the lock this process holds
        if kept.is_dir():
            shutil.rmtree(kept)
        elif kept.name != site_lock.STATE_LOCK:
            kept.unlink()
    print(f"removed {len(removed)} generated pages from {content_dir}", file=sys.stderr)
    return 0


def _publish(args: argparse.Namespace, content_dir: Path, out: Path, state: Path, drawer: FigureWorker,
             listed: Callable[[], None]) -> int:
    started = time.perf_counter()
    hashes = incremental.HashCache(state)
    index = RunIndex(state, runs_dir(args.runs_dir), hashes.sha256)
    inputs = incremental.Inputs(state, args.engine, args.live, guide_sources.inputs(),
                                args.previous_publish and incremental.file_key(Path(args.previous_publish)),
                                args.site_budget, args.store_url, args.plan and incremental.file_key(Path(args.plan)))
    if not (index.scan() or args.full or args.history or args.engine != "hugo") and inputs.same(
            [out / PUBLISHED, out / incremental.STATE_DIR / incremental.Manifest.FILE]):
        print(f"{len(index.found)} runs: nothing changed since the last publish (0 rendered, 0 stale pages or files "
              f"removed, 0 files hashed) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return 0
    if inputs.state_changed():
        hashes.old  # read now, not only when a file is hashed: a damaged cache is said so, and not used
    # The page code (jinja2, every page module) is imported once there is something to publish: a lazy import
    # for the speed of a publish that has nothing to do, not to dodge a circle.
    from . import catalog, content, history, hugo_build, mkdocs_site, publish_log, site_budget, sweep_pages
    from .publish_log import PublishLog, PublishLogError
    from .targets import TARGETS

    target = TARGETS[args.engine]
    try:
        runs = published_runs(index.load(), args.live)
        if args.history:
            runs = history.merge_views(history.load_views(Path(args.history)), runs)
        runs, stored = _within_budget(runs, args.site_budget or site_budget.DEFAULT_BUDGET, args.store_url)
        log = PublishLog(state, args.previous_publish)
        snapshot, changes = log.advance(sweep_pages.split(runs)[0])  # what changed among runs; sweeps have their own pages
        if args.plan:
            changes.reused = _reused(args.plan, runs)
        manifest = incremental.Manifest(state, enabled=not args.full)
        generated = catalog.all_pages(runs, target, changes, snapshot,
                                      fresh=lambda path, key: manifest.kept(path, key, f"{out}/{target.file_of(path)}"))
        listed()
        _ship(generated, publish_log.FILE, log.snapshot_text + "\n")
        if stored:
            _ship(generated, Path(history.STORE_SHIPPED).name, stored)
        if args.engine == "mkdocs":
            site_pages, authored, files = mkdocs_site.site_pages(generated, content_dir)
            counts = content.write(out, site_pages, target, manifest, owned=True, loose={**mkdocs_site.static_files(), **files},
                                   drawer=drawer, meanwhile=lambda: _save(hashes, log, index))
            site_dir = Path(args.site_dir) if args.site_dir else None
            write_text(Path(args.out) / "mkdocs.yml", mkdocs_site.config(Path(args.out), site_pages, authored, site_dir))
        else:
            hugo_build.begin_pending(out)
            counts = content.write(out, generated, target, manifest, drawer=drawer, meanwhile=lambda: _save(hashes, log, index))
            hugo_build.record_pending(out, counts["rendered"], counts["removed"], counts["new"])
        inputs.save()  # last: until it is saved, the next publish is not taken for one with nothing to do
    except history.HistoryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (content.ContentError, PublishLogError, UsageError, site_budget.BudgetError) as e:  # UsageError: e.g. a broken plugin
        print(f"error: {e}", file=sys.stderr)
        return 2
    except StorageError as e:  # a full disk, an I/O error: every page written so far is whole, the next publish goes on
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{len(runs)} runs -> {counts['pages']} {args.engine} pages in {out} ({len(counts['rendered'])} rendered, "
          f"{len(counts['removed'])} stale pages or files removed, {hashes.hashed} files hashed) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    status = main()
    gc.freeze()  # the interpreter's last collection would walk every object the publish left, only to exit
    sys.exit(status)
