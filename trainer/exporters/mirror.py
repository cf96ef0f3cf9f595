"""Live mirrors: a run logged into MLflow or TensorBoard while it trains (`tracking.mirror: [mlflow, tensorboard]`).

Each row any engine logs (tracking/metrics.py hands it over) goes on a queue; one thread passes the rows to each
tool in batches, every FLUSH_S seconds or BATCH rows, so training never waits for a tracking server. After the
run is sealed the thread finishes each tool with the sealed folder: final metrics, status, the record and
figures, the verification status. A tool that cannot be reached when the run starts, or fails later, is
named in one warning and dropped; the run goes on (it is the source of truth, and `trainer export` can send
it again). A resumed run finds its MLflow run and TensorBoard folder again and continues them. Torch-free.
"""
from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from ..tracking import layout, metrics
from ..tracking.run import Run
from . import ExportError, facts, tool

FLUSH_S = 2.0
BATCH = 500
_DONE = object()


def destinations(record: dict) -> dict[str, str]:
    """The tools a run's config mirrors into, each with where it goes (its setting, else the tool's default)."""
    tracking = (record.get("config") or {}).get("tracking") or {}
    configured = {"mlflow": tracking.get("mlflow_uri") or "", "tensorboard": tracking.get("tensorboard_dir") or ""}
    return {name: tool(name).default_destination(configured.get(name, "")) for name in tracking.get("mirror") or []}


class Mirror:
    """The open sinks of one run, fed from a queue by one thread."""

    def __init__(self, sinks: dict[str, object]):
        self.sinks, self.queue = sinks, queue.Queue()
        self.thread = threading.Thread(target=self._work, name="trainbook-mirror", daemon=True)
        self.thread.start()

    def log(self, row: dict) -> None:
        self.queue.put(row)

    def _drop(self, name: str, error: Exception) -> None:
        print(f"warning: mirror to {name} stopped ({error}); the run goes on; send it later with "
              f"`python -m trainer export --to {name} ...`", file=sys.stderr)
        self.sinks.pop(name, None)

    def _send(self, rows: list[dict]) -> None:
        points = facts.points(rows)
        for name, sink in list(self.sinks.items()):
            try:
                sink.points(points)
            except (ExportError, OSError) as e:
                self._drop(name, e)

    def _work(self) -> None:
        """Rows in batches; a Path on the queue: finish each tool with that sealed folder; _DONE: stop."""
        pending, since = [], time.monotonic()
        while True:
            try:
                item = self.queue.get(timeout=FLUSH_S)
            except queue.Empty:
                item = None
            if isinstance(item, dict):
                pending.append(item)
                if len(pending) < BATCH and time.monotonic() - since < FLUSH_S:
                    continue
            if pending:
                self._send(pending)
                pending, since = [], time.monotonic()
            if isinstance(item, Path):
                self._finish(item)
            if item is _DONE:
                return

    def _finish(self, folder: Path) -> None:
        for name, sink in list(self.sinks.items()):
            try:
                sink.finish(folder)
            except (ExportError, OSError) as e:
                self._drop(name, e)

    def finish(self, folder: Path | None) -> None:
        """Send what is queued, finish every tool with the sealed `folder` (None: the run never sealed), stop."""
        if folder is not None:
            self.queue.put(Path(folder))
        self.queue.put(_DONE)
        self.thread.join()


def open_sinks(run: Run) -> dict[str, object]:
    """A sink per tool the run mirrors into, each continued where a resumed run left it; unreachable ones warned about."""
    sinks = {}
    for name, where in destinations(run.record).items():
        try:
            sink = tool(name).Sink(where, run.record, reopen=True)
        except (ExportError, OSError, ImportError) as e:
            print(f"warning: not mirroring to {name} ({e}); the run goes on", file=sys.stderr)
            continue
        resumed = (run.record.get("resumed_from") or {}).get("step")
        if sink.existing and isinstance(resumed, int):
            sink.resumed(resumed)
        sinks[name] = sink
    return sinks


@contextlib.contextmanager
def mirrored(run: Run) -> Iterator[Mirror | None]:
    """While inside, every metrics row of `run` goes to its mirrors; call `.finish(folder)` on what it yields once sealed."""
    sinks = open_sinks(run)
    if not sinks:
        yield None
        return
    run.update(mirrors={name: sink.location for name, sink in sinks.items()})
    mirror = Mirror(sinks)
    try:
        with metrics.listening(run.file(layout.METRICS), mirror.log):
            yield mirror
    finally:
        if mirror.thread.is_alive():
            mirror.finish(None)
