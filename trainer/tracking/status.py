"""A running run's status file (`status.json`): where training is, for anyone watching it live.

The metrics log (metrics.py) updates it as rows are logged: the step, the steps planned, the rate,
the estimated time left, the last value of every metric, and the last checkpoint's step. Each
update replaces the file atomically (a reader sees the old status or the new one), without an
fsync: it describes a moment, and the next update replaces it anyway. It measures the machine
(rate, ETA), so it is never an artifact: `Run.conclude` removes it before the artifacts are hashed,
and recovery removes a dead run's before sealing it. Torch-free.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

from .files import dumps_json, write_text

MIN_INTERVAL_S = 0.25
"""at most this often between two updates (a tiny run logs hundreds of rows a second); checkpoints always update"""
RATE_WINDOW = 20
"""the rate is measured over the last this many updates, so a slow start (compilation, warm-up) fades out"""


class LiveStatus:
    """Writes `path` as training goes: `update(step, values)` after each logged row."""

    def __init__(self, path: Path, planned: int | None, unit: str = "step", start: int = 0):
        self.path, self.planned, self.unit = path, planned, unit
        self.last: dict[str, float] = {}
        self.checkpoint_step: int | None = start or None
        self._seen: deque[tuple[float, int]] = deque([(time.monotonic(), start)], maxlen=RATE_WINDOW)
        self._written_at = 0.0

    def update(self, step: int, values: dict, *, checkpoint: bool = False, force: bool = False) -> None:
        self.last.update({k: v for k, v in values.items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)})
        now = time.monotonic()
        if self._seen[-1][1] != step:
            self._seen.append((now, step))
        if checkpoint:
            self.checkpoint_step = step
        if force or checkpoint or now - self._written_at >= MIN_INTERVAL_S:
            self._written_at = now
            write_text(self.path, dumps_json(self.facts(step)), durable=False, make_folder=False)

    def rate(self) -> float | None:
        """Steps per second over the last RATE_WINDOW updates, None before two updates."""
        (t0, s0), (t1, s1) = self._seen[0], self._seen[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else None

    def facts(self, step: int) -> dict:
        rate = self.rate()
        left = max(self.planned - step, 0) if self.planned else None
        return {
            "state": "running", "pid": os.getpid(), "unit": self.unit, "step": step, "steps": self.planned,
            "rate": rate, "eta_s": round(left / rate, 1) if rate and left is not None else None,
            "checkpoint_step": self.checkpoint_step, "last": dict(sorted(self.last.items())),
            "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def read(path: Path) -> dict | None:
    """A status file's facts, or None when there is none (the run has not logged yet, or it was concluded)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None
