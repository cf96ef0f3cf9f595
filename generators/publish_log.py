"""What changed since the previous publish: new runs, removed runs, changed statuses and verdicts.

Each publish takes a snapshot of what the site shows about every run (experiment, status, key
metric, verified) and keeps it in `<output>/.trainbook/published.json` with what changed since the
snapshot before it. A publish whose snapshot equals the current one changes nothing, so publishing
twice in a row keeps showing the last real change instead of "nothing changed".

The snapshot also ships with the site (`/runs/published.json`). A build that starts from a fresh
checkout, as CI does, passes the live site's copy with `--previous-publish FILE` so the home page
still compares against what readers last saw. The snapshot is read from the site itself rather
than from runs/ because the question is what *readers* saw, and a run may have been trained,
removed or re-verified between two publishes. A snapshot's time is now, or $SOURCE_DATE_EPOCH where
that is set (the reproducible-builds convention, which MkDocs follows too), so the same runs
published twice give the same bytes.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from trainer.tracking.files import write_text

from .incremental import STATE_DIR
from .runs import RunView

FORMAT = "trainbook-published-1"
FILE = "published.json"
SHIPPED = f"runs/{FILE}"
"""where a built site carries its snapshot: next to the runs listing (generators.__main__.PUBLISHED)"""


class PublishLogError(ValueError):
    pass


def is_snapshot(raw: bytes) -> bool:
    """Whether `raw` is a snapshot this module can compare with (as a site ships it)."""
    try:
        seeded = json.loads(raw)
    except ValueError:
        return False
    return isinstance(seeded, dict) and seeded.get("format") == FORMAT and isinstance(seeded.get("runs"), dict)


def snapshot(runs: list[RunView]) -> dict:
    return {
        run.id: {"experiment": run.experiment, "status": run.status, "value": run.key_value,
                 "label": run.key_metric.get("label", run.key_metric.get("name")), "goal": run.key_metric.get("goal", "min"),
                 "verified": bool(run.sealed and not run.verification), "started": run.started}
        for run in runs
    }


@dataclass
class Changes:
    since: str | None
    """when the previous publish happened (ISO time), None at the first publish"""
    new: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    status: list[tuple[str, str, str]] = field(default_factory=list)
    """(run, old status, new status)"""
    verification: list[tuple[str, bool]] = field(default_factory=list)
    """(run, verified now) for runs whose verdict flipped"""
    best: list[tuple[str, str, float, float, str]] = field(default_factory=list)
    """(experiment, label, previous best, best now, goal) where an experiment's best value moved"""
    reused: list[tuple[str, str, str]] = field(default_factory=list)
    """(experiment, run, why) for each experiment this publish did not train again, its latest run shown instead
    (set from the training plan, generators/retrain.py)"""

    KEPT = ("new", "removed", "status", "verification", "best")
    """the lists the publish log keeps with `since` (not `reused`: each publish's training plan says that anew)"""

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in self.KEPT)

    def as_state(self) -> dict:
        return {"since": self.since, **{name: getattr(self, name) for name in self.KEPT}}

    @classmethod
    def from_state(cls, kept) -> Changes | None:
        """The changes as_state kept (JSON turns their tuples into lists), or None when `kept` is not that."""
        if not isinstance(kept, dict):
            return None
        try:
            return cls(since=kept.get("since"), **{k: [tuple(v) if isinstance(v, list) else v for v in kept.get(k) or []]
                                                   for k in cls.KEPT})
        except TypeError:
            return None


def _best(runs: dict, experiment: str):
    values = [(r["value"], r["goal"], r["label"]) for r in runs.values()
              if r["experiment"] == experiment and r["status"] == "ok" and isinstance(r["value"], (int, float))]
    if not values:
        return None
    goal = values[0][1]
    value = min(v[0] for v in values) if goal == "min" else max(v[0] for v in values)
    return value, goal, values[0][2]


def compare(before: dict | None, now: dict) -> Changes:
    if before is None:
        return Changes(since=None, new=sorted(now["runs"], key=lambda r: now["runs"][r]["started"], reverse=True))
    old, cur = before["runs"], now["runs"]
    changes = Changes(since=before.get("published_at"))
    changes.new = sorted((r for r in cur if r not in old), key=lambda r: cur[r]["started"], reverse=True)
    changes.removed = sorted(r for r in old if r not in cur)
    for run in sorted(set(old) & set(cur)):
        if old[run]["status"] != cur[run]["status"]:
            changes.status.append((run, old[run]["status"], cur[run]["status"]))
        if old[run]["verified"] != cur[run]["verified"]:
            changes.verification.append((run, cur[run]["verified"]))
    for experiment in sorted({r["experiment"] for r in cur.values()}):
        was, is_ = _best(old, experiment), _best(cur, experiment)
        if was and is_ and was[0] != is_[0]:
            changes.best.append((experiment, is_[2], was[0], is_[0], is_[1]))
    return changes


def _now() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), timezone.utc) if epoch and epoch.isdigit() else datetime.now(timezone.utc)


class PublishLog:
    def __init__(self, out_dir: Path, previous_file: Path | None = None):
        self.path = out_dir / STATE_DIR / FILE
        try:
            self.state = json.loads(self.path.read_text())
            assert isinstance(self.state, dict)
        except (OSError, ValueError, AssertionError):
            self.state = {}
        if previous_file is not None:  # the live site's snapshot outranks whatever this checkout remembers
            try:
                raw = Path(previous_file).read_bytes()
            except OSError:
                raw = b""
            if not is_snapshot(raw):
                raise PublishLogError(f"{previous_file}: not a readable {FILE} snapshot "
                                      f"(expected JSON with format {FORMAT!r}, as a site publishes at /{SHIPPED})")
            seeded = json.loads(raw)
            # Only the live site's own snapshot is known, not the one before it: a publish that shows the same
            # runs says "nothing changed since" that publish, rather than "first publish".
            self.state = {"current": seeded, "previous": seeded}

    def advance(self, runs: list[RunView]) -> tuple[dict, Changes]:
        """This publish's snapshot and what changed since the last publish that differed from it."""
        runs_now = snapshot(runs)
        current = self.state.get("current")
        if current and current.get("runs") == runs_now:
            # kept since the publish that changed something, or (a log of an older Trainbook, or the live site's
            # snapshot) worked out from the snapshot before it
            kept = Changes.from_state(self.state.get("changes"))
            changes = kept if kept is not None else compare(self.state.get("previous"), current)
            self.state = {"current": current, "changes": changes.as_state()}
            return current, changes
        now = {"format": FORMAT, "published_at": _now().isoformat(timespec="seconds"), "runs": runs_now}
        changes = compare(current, now)
        self.state = {"current": now, "changes": changes.as_state()}
        return now, changes

    @functools.cached_property
    def snapshot_text(self) -> str:
        """This publish's snapshot (advance's) as the site ships it: serialised once, for the site and for the log."""
        return _dumps(self.state["current"])

    def save(self) -> None:
        # Compact: json's C encoder takes no indent, and at 10,000 runs the indented log took a second to write.
        # One snapshot and the changes, not two snapshots: half the bytes for every publish to read and write.
        # It is json.dumps(self.state, sort_keys=True) exactly ("changes" sorts before "current"), with the
        # snapshot's text as the site got it, not serialised a second time.
        assert self.state.keys() == {"current", "changes"}
        write_text(self.path, f'{{"changes":{_dumps(self.state["changes"])},"current":{self.snapshot_text}}}\n')


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
