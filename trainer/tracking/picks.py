"""Which run of an experiment a reader means by its `latest`, its `best` and its `current` model: one rule for
the experiment pages, the site's models.json and `trainer sample EXPERIMENT@current`.

- latest: the newest run, whatever became of it;
- best: the finished, verified run with the best key metric (the newest of equals);
- current: the newest finished, verified run that passed every gate it was trained under (with no gates
  declared, the newest finished run): the model a team would ship.

Torch-free: the generators import it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .. import gates

WHICH = ("current", "best", "latest")
LEGACY_KEY_METRIC = {"name": "val_loss", "goal": "min"}
"""the key metric of a record from before runs named theirs: every such run was a language model"""


@dataclass(frozen=True)
class Candidate:
    run_id: str
    record: dict
    verified: bool = True
    """its record and files match the ledger (a run that does not verify is never the best or current model)"""

    @property
    def started(self) -> tuple[str, str]:
        return str(self.record.get("started_at") or ""), self.run_id

    @property
    def usable(self) -> bool:
        return self.verified and self.record.get("status") == "ok"


def key_value(record: dict) -> float | None:
    """The record's key metric as a finite number, or None."""
    key = record.get("key_metric") or LEGACY_KEY_METRIC
    value = (record.get("metrics") or {}).get(key.get("name"))
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None


def trial_tag(record: dict) -> dict | None:
    """The record's `sweep` section when the run is one of a sweep's trials ({id, trial, params}), else None (the
    sweep's own record has a `sweep` section too: its summary)."""
    tag = record.get("sweep") if isinstance(record, dict) and record.get("kind") != "sweep" else None
    return tag if isinstance(tag, dict) and isinstance(tag.get("trial"), int) else None


def as_declared(record: dict) -> bool:
    """Whether the run trained its experiment as the experiment's file declares it: not a sweep, not one of a
    sweep's trials (each a variant: its sampled parameters), and not a reproduction of a trial. Gates and the
    audit report judge the experiment by such runs only."""
    return not record.get("sweep") and not (record.get("reproduction") or {}).get("trial_of")


def latest(runs: list[Candidate]) -> Candidate | None:
    return max(runs, key=lambda c: c.started, default=None)


def best(runs: list[Candidate]) -> Candidate | None:
    ranked = []  # (cost, started, candidate), each worked out once: an experiment may have thousands of runs
    for c in runs:
        value = key_value(c.record) if c.usable else None
        if value is not None:
            goal = (c.record.get("key_metric") or LEGACY_KEY_METRIC).get("goal", "min")
            ranked.append((-value if goal == "max" else value, c.started, c))
    ranked.sort(key=lambda r: r[1], reverse=True)
    return min(ranked, key=lambda r: r[0])[2] if ranked else None  # min() keeps the first of equals: the newest


def passed(record: dict) -> bool:
    """Whether the run passed every gate it declared (a finished run without gates passes)."""
    return record.get("status") == "ok" and all(v.passed for v in gates.judge_all(gates.declared(record), record))


def current(runs: list[Candidate]) -> Candidate | None:
    # The newest usable run that passed: judged newest first, so that an experiment of thousands of runs judges
    # the gates of a few, not of every run.
    return next((c for c in sorted((c for c in runs if c.usable), key=lambda c: c.started, reverse=True)
                 if passed(c.record)), None)


def pick(which: str, runs: list[Candidate]) -> Candidate | None:
    """The run `which` (one of WHICH) names among one experiment's runs, or None when none qualifies."""
    return {"current": current, "best": best, "latest": latest}[which](runs)
