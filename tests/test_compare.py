"""Which comparison pages a site has: stable as runs are added, and none that compares a run with itself or its future."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from generators import history, pairing
from generators.history import PublishedRun
from generators.runs import RunView

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def view(i: int, cls=RunView, **fields) -> RunView:
    started = START + timedelta(hours=i)
    record = {"experiment": "exp", "status": "ok", "started_at": started.isoformat(), "metrics": {"val_loss": 2.0 + i / 100}}
    return cls(id=f"exp-{started:%Y%m%dT%H%M%SZ}-{i:07x}", folder=Path("/nonexistent"), record=record, **fields)


def page_paths(runs: list[RunView]) -> set[str]:
    return {pairing.page_path(base, head) for base, head in pairing.pairs(runs)}


def test_a_new_run_adds_a_comparison_and_removes_old_ones_only_once_every_recent_runs():
    runs, before, removals = [], set(), []
    for n in range(1, 5 * pairing.RECENT + 1):
        runs.insert(0, view(n))
        now = page_paths(runs)
        newest = pairing.page_path(runs[1], runs[0]) if n > 1 else None
        assert newest is None or newest in now  # the new run is compared with the one before it
        assert len(now) >= min(n - 1, pairing.RECENT)
        if before - now:
            removals.append(n)
        before = now
    assert removals == [2 * pairing.RECENT, 3 * pairing.RECENT, 4 * pairing.RECENT, 5 * pairing.RECENT]


def test_a_new_run_is_compared_with_the_newest_published_run_and_never_a_run_with_a_later_one():
    published = [view(i, PublishedRun, published=True, sealed=True) for i in (1, 2, 3)]
    local = [view(1), view(4)]  # run 1 is in both the history and runs/ (a local publish); run 4 is new

    runs = history.merge_views(published, local)

    assert [(r.published, r.from_history) for r in runs] == [(False, False), (True, True), (True, True), (True, False)]
    chosen = pairing.pairs(runs)
    assert (runs[1].id, runs[0].id) in {(base.id, head.id) for base, head in chosen}  # new run 4 against published run 3
    assert chosen and all(base.started < head.started for base, head in chosen)
