"""Figures drawn beside the main process, on the machine's other core.

A run ends by drawing a dozen figures and a publish draws one per comparison page, each about 0.1 s
of matplotlib, one after another in one process while the other core idles. A forked child draws
some of them beside the parent; the bytes are the same as drawn in place. Where fork is unavailable
(macOS, Windows) everything is drawn in place. Torch- and matplotlib-free, so the generators use it too.
"""
from __future__ import annotations

import multiprocessing
import traceback
from pathlib import Path
from typing import Callable

from ..tracking.files import StorageError


class Drawing:
    """`draw()` running in a forked child process; `result()` waits for it and returns what it returned."""

    def __init__(self, draw: Callable[[], object]):
        self._value, self._process = None, None
        if "fork" not in multiprocessing.get_all_start_methods():
            self._value = draw()
            return
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_report_to, args=(send, draw), daemon=True)
        self._process.start()
        send.close()

    def result(self) -> object:
        if self._process is None:
            return self._value
        try:
            ok, value = self._receive.recv()
        except EOFError:  # the child died without a word (killed, out of memory)
            ok, value = False, "the drawing process ended without a result"
        self._process.join()
        if not ok:
            raise value if isinstance(value, StorageError) else RuntimeError(f"drawing figures failed: {value}")
        self._process = None
        self._value = value
        return value


def _report_to(send, draw: Callable[[], object]) -> None:
    try:
        send.send((True, draw()))
    except StorageError as e:  # a refused write is the parent's too: the same clear error, naming the file
        send.send((False, e))
    except BaseException:  # reported to the parent, which fails the run with it
        send.send((False, traceback.format_exc(limit=3).strip().splitlines()[-1]))


def draw_all(jobs: list[tuple[Callable[[Path], object], Path]]) -> None:
    """Call each `draw(path)`, half of them in a forked child, and return when all are written."""
    if len(jobs) < 2:
        return _draw_each(jobs)
    child = Drawing(lambda: _draw_each(jobs[::2]))
    _draw_each(jobs[1::2])
    child.result()


def _draw_each(jobs: list[tuple[Callable[[Path], object], Path]]) -> None:
    for draw, path in jobs:
        draw(path)
