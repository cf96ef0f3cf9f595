"""The metrics log: rows of `{"step": n, ...}` kept in memory and written atomically as JSON lines.

Written whenever a checkpoint is, and at the end, so `metrics.jsonl` on disk always matches a
state the run can resume from. Torch-free.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .files import write_jsonl
from .layout import read_metrics


Listener = Callable[[int, dict], None]
"""called with (step, values) for every row logged in this process; may raise to stop training (a sweep's pruner)"""
LISTENERS: list[Listener] = []


class MetricsLog:
    def __init__(self, path: Path, rows: list[dict] | None = None):
        self.path, self.rows = path, list(rows or [])

    @classmethod
    def resume(cls, path: Path, up_to_step: int) -> "MetricsLog":
        """The rows already on disk, without any logged after `up_to_step` (the checkpoint's step)."""
        return cls(path, [r for r in read_metrics(path) if r["step"] <= up_to_step])

    def log(self, step: int, **values: float) -> None:
        self.rows.append({"step": step, **values})
        for listener in LISTENERS:
            listener(step, values)

    def flush(self) -> None:
        write_jsonl(self.path, self.rows)

    def last(self, key: str):
        return next((r[key] for r in reversed(self.rows) if key in r), None)

