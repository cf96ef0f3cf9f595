"""Which pairs of runs get a comparison page, and where it is: the one rule that the site (`Site`, for the
run pages' links) and the comparison pages (`compare`) both follow.

The newest runs of each experiment, each against the finished run before it; and each run not yet in the
published history against the newest published run of its experiment, which is the pair the pull-request
report links to (both use `diff.latest_ok`, so the link always exists in a site built with that history).
"""
from __future__ import annotations

from . import diff
from .runs import RunView

RECENT = 10
"""the newest RECENT to 2 x RECENT - 1 runs of an experiment (all, while it has fewer) get a page comparing
them with their predecessor"""


def recent(group: list[RunView]) -> list[RunView]:
    """The runs of one experiment (newest first) compared with their predecessors.

    Counted from the oldest run in blocks of RECENT, as listings' anchored pages are: a new run adds a page,
    and only every RECENT-th removes the oldest RECENT at once, so the set of pages (and the comparison
    index's rows, which every change of it renders again) stays put between those publishes."""
    archived = max(0, len(group) // RECENT - 1) * RECENT
    return group[: len(group) - archived]


def pairs(runs: list[RunView]) -> list[tuple[RunView, RunView]]:
    """(base, head) pairs worth a page, each once, newest head first."""
    chosen: dict[tuple[str, str], tuple[RunView, RunView]] = {}
    by_experiment: dict[str, list[RunView]] = {}
    for run in sorted(runs, key=lambda r: (r.started, r.id), reverse=True):
        by_experiment.setdefault(run.experiment, []).append(run)
    for group in by_experiment.values():
        for i, run in enumerate(recent(group)):
            base = diff.previous_ok(group, i)
            if base is not None:
                chosen[(base.id, run.id)] = (base, run)
    published = [r for r in runs if r.published]
    newest_published = {name: diff.latest_ok(published, name) for name in by_experiment}
    for run in runs:
        base = None if run.published else newest_published[run.experiment]
        if base is not None and base.id != run.id:
            chosen[(base.id, run.id)] = (base, run)
    return sorted(chosen.values(), key=lambda pair: (pair[1].started, pair[1].id, pair[0].id), reverse=True)


def page_path(base: RunView, head: RunView) -> str:
    return f"compare/{diff.pair_slug(base, head)}/index.md"
