"""The metrics log: rows of `{"step": n, ...}` kept in memory and written atomically as JSON lines.

Written whenever a checkpoint is, and at the end, so `metrics.jsonl` on disk always matches a
state the run can resume from. Whoever listens to a run's metrics file (`listening`: the live mirrors
into MLflow or TensorBoard) is handed each row as it is logged, whichever engine logs it. Torch-free.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .files import write_jsonl
from .layout import read_metrics

Listener = Callable[[dict], None]
_LISTENERS: dict[str, list[Listener]] = {}


@contextmanager
def listening(path: Path, listener: Listener) -> Iterator[None]:
    """While inside, `listener(row)` is called with every row any MetricsLog of `path` logs."""
    key = os.path.abspath(path)
    _LISTENERS.setdefault(key, []).append(listener)
    try:
        yield
    finally:
        _LISTENERS[key].remove(listener)
        if not _LISTENERS[key]:
            del _LISTENERS[key]


class MetricsLog:
    def __init__(self, path: Path, rows: list[dict] | None = None):
        self.path, self.rows = path, list(rows or [])
        self._key = os.path.abspath(path)

    @classmethod
    def resume(cls, path: Path, up_to_step: int) -> "MetricsLog":
        """The rows already on disk, without any logged after `up_to_step` (the checkpoint's step)."""
        return cls(path, [r for r in read_metrics(path) if r["step"] <= up_to_step])

    def log(self, step: int, **values: float) -> None:
        row = {"step": step, **values}
        self.rows.append(row)
        for listener in _LISTENERS.get(self._key, ()):
            listener(row)

    def flush(self) -> None:
        write_jsonl(self.path, self.rows, make_folder=False)  # into the run folder, never making a vanished one again

    def last(self, key: str):
        return next((r[key] for r in reversed(self.rows) if key in r), None)

