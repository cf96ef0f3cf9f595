"""The metrics log: rows of `{"step": n, ...}`, appended to `metrics.jsonl` as they are logged.

Each row reaches the file when it is logged (written and flushed, so a live view reads it at once),
and is fsynced at intervals and at every checkpoint (`flush`). A crash can leave rows past the last
checkpoint, or a last line cut short (readers skip it: layout.read_metrics); `resume` cuts the file
back to the checkpoint's step, atomically, before training goes on, so a resumed run's metrics are
exactly an uninterrupted run's. With the steps planned, the log also keeps the run's status file
(status.py) up to date. Whoever listens to a run's metrics file (`listening`: the live mirrors into
MLflow or TensorBoard) is handed each row as it is logged, whichever engine logs it. Torch-free.
"""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator

from ..runtime import faults
from .files import StorageError, write_jsonl
from .layout import STATUS, read_metrics
from .status import LiveStatus

FSYNC_INTERVAL_S = 5.0
"""appended rows are made durable at least this often (and at every checkpoint); in between they are in the page cache"""

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
    def __init__(self, path: Path, rows: list[dict] | None = None, *, planned: int | None = None, unit: str = "step"):
        """`planned`: the steps the run will take, for its status file (None: no status file is kept)."""
        self.path, self.rows = path, list(rows or [])
        start = self.rows[-1]["step"] if self.rows else 0
        self.status = LiveStatus(path.with_name(STATUS), planned, unit, start) if planned is not None else None
        self._file: IO[str] | None = None
        self._synced_at = time.monotonic()
        self._key = os.path.abspath(path)

    @classmethod
    def resume(cls, path: Path, up_to_step: int, *, planned: int | None = None, unit: str = "step") -> "MetricsLog":
        """The rows already on disk up to `up_to_step` (the checkpoint's step); the file is cut back to them now."""
        log = cls(path, [r for r in read_metrics(path) if r["step"] <= up_to_step], planned=planned, unit=unit)
        if log.status is not None:
            log.status.checkpoint_step = up_to_step
        write_jsonl(path, log.rows, make_folder=False)
        return log

    def log(self, step: int, **values: float) -> None:
        row = {"step": step, **values}
        line = json.dumps(row, sort_keys=True, allow_nan=False) + "\n"
        self.rows.append(row)
        self._append(line)
        if self.status is not None:
            self.status.update(step, values)
        for listener in _LISTENERS.get(self._key, ()):
            listener(row)

    def _append(self, line: str) -> None:
        if self._file is None:
            # The rows in memory are the truth: the file is made exactly them before the first append.
            # A new run's file starts empty (opened, not a persistent write); one with rows is made exactly them.
            if self.rows[:-1]:
                write_jsonl(self.path, self.rows[:-1], make_folder=False)  # never making a vanished run folder again
            try:
                self._file = open(self.path, "a" if self.rows[:-1] else "w", encoding="utf-8")
            except OSError as e:
                raise StorageError(self.path, e) from None
        try:
            self._file.write(line)
            self._file.flush()
        except OSError as e:  # a full disk: one error naming the file (layout.read_metrics skips a cut last line)
            raise StorageError(self.path, e) from None
        if time.monotonic() - self._synced_at >= FSYNC_INTERVAL_S:
            self._sync()

    def _sync(self) -> None:
        try:
            os.fsync(self._file.fileno())
        except OSError as e:
            raise StorageError(self.path, e) from None
        self._synced_at = time.monotonic()

    def flush(self) -> None:
        """Make every row logged so far durable (called with each checkpoint, and when training fails): a persistent
        write of the file, as faults.at_write counts them."""
        if self._file is not None:
            try:
                faults.at_write(self.path.name, str(self.path))
            except OSError as e:
                raise StorageError(self.path, e) from None
            self._sync()
        else:
            write_jsonl(self.path, self.rows, make_folder=False)  # into the run folder, never making a vanished one again
        if self.status is not None and self.rows:
            self.status.update(self.rows[-1]["step"], {}, checkpoint=True)

    def close(self) -> None:
        if self._file is not None:
            self._sync()
            self._file.close()
            self._file = None

    def last(self, key: str):
        return next((r[key] for r in reversed(self.rows) if key in r), None)
