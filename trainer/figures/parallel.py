"""Figures drawn beside the main process, on the machine's other core.

A run ends by drawing a dozen figures and a publish draws one per comparison page, each about 0.1 s
of matplotlib, one after another in one process while the other core idles. A forked child draws
some of them beside the parent; the bytes are the same as drawn in place. Where fork is unavailable
(macOS, Windows) everything is drawn in place. Torch- and matplotlib-free, so the generators use it too.

A publish that adds one run draws four figures, and importing matplotlib for them costs more than drawing
them: `FigureWorker` is a child forked when the publish starts, which imports the figure code at once, on
the other core, while the parent plans and renders pages, and then draws the `Figure`s it is sent.
"""
from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
import signal
import sys
import threading
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
            _raise(value)
        self._process = None
        self._value = value
        return value


def _report_to(send, draw: Callable[[], object]) -> None:
    try:
        send.send((True, draw()))
    except BaseException as e:  # reported to the parent, which fails the run with it
        send.send((False, _carried(e)))


def _carried(failure: BaseException) -> StorageError | str:
    """A failure in a drawing process as sent to the parent: a refused write as itself (the parent's error too, the
    same clear message naming the file), anything else as its one-line description."""
    if isinstance(failure, StorageError):
        return failure
    return "".join(traceback.format_exception_only(failure)).strip().splitlines()[-1]


def _raise(carried: StorageError | str) -> None:
    raise carried if isinstance(carried, StorageError) else RuntimeError(f"drawing figures failed: {carried}")


def draw_all(jobs: list[tuple[Callable[[Path], object], Path]]) -> None:
    """Call each `draw(path)`, half of them in a forked child, and return when all are written."""
    if len(jobs) < 2:
        return draw_each(jobs)
    child = Drawing(lambda: draw_each(jobs[::2]))
    draw_each(jobs[1::2])
    child.result()


def draw_each(jobs: list[tuple[Callable[[Path], object], Path]]) -> None:
    """Call each `draw(path)` in this process, in order."""
    for draw, path in jobs:
        draw(path)


class Figure(functools.partial):
    """A figure to draw: a module-level function and its arguments, called with the target path after the positional
    ones. Picklable (unlike a lambda), so a `FigureWorker` can draw it from the data the parent had."""


DRAWERS = 2
"""processes that draw a publish's figures: the worker, and one it forks once the figure code is imported (so
the import is paid once); jobs go to them in turn"""


class FigureWorker:
    """A forked process that runs `prepare()` (the figure code's imports) as soon as it starts, then, with a second
    drawer it forks from itself, draws the figures `submit` sends, one by one to each drawer in turn. `wait()`
    returns when all are written and raises what the first failure raised (a StorageError as itself). Without
    fork, figures are drawn in place by `submit`; if a drawer dies, `wait()` draws in place what was sent, so a
    publish never depends on the worker."""

    def __init__(self, prepare: Callable[[], object], drawers: int = DRAWERS):
        self._process = None
        self._sent: list[tuple[Callable[[Path], object], Path]] = []
        if "fork" not in multiprocessing.get_all_start_methods():
            return
        context = multiprocessing.get_context("fork")
        jobs = [context.Pipe(duplex=False) for _ in range(max(1, drawers))]
        results = [context.Pipe(duplex=False) for _ in jobs]
        self._jobs, self._results = [send for _, send in jobs], [receive for receive, _ in results]
        self._process = context.Process(target=_serve, args=(prepare, [r for r, _ in jobs], self._jobs, [s for _, s in results]),
                                        daemon=True)
        self._process.start()
        for (jobs_in, _), (_, results_out) in zip(jobs, results):
            jobs_in.close()
            results_out.close()
        # Sends go through a thread: a figure bigger than a pipe's buffer would otherwise block the parent until the
        # worker has finished its imports. Figures are pickled before they are queued, by the caller, while no page
        # code can change the views they hold.
        self._outbox: list[tuple[int, bytes] | None] = []
        self._turn = 0
        self._ready = threading.Condition()
        self._sender = threading.Thread(target=self._send_all, name="figure-sender", daemon=True)
        self._sender.start()

    def __enter__(self) -> FigureWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(self, jobs: list[tuple[Figure, Path]]) -> None:
        if not jobs:
            return
        if self._process is None:
            return draw_each(jobs)
        self._sent += jobs
        for job in jobs:
            self._queue((self._turn % len(self._jobs), pickle.dumps([job], protocol=pickle.HIGHEST_PROTOCOL)))
            self._turn += 1

    def wait(self) -> None:
        if self._process is None:
            return
        self._queue(None)
        self._sender.join()
        outcomes = []
        for results in self._results:
            try:
                outcomes.append(results.recv())
            except (EOFError, OSError):  # that drawer died (killed, out of memory)
                outcomes.append((None, None))
        self.close()
        failed = [value for ok, value in outcomes if ok is False]
        if failed:
            _raise(failed[0])
        if any(ok is None for ok, _ in outcomes):
            print("note: a figure process ended without a result; drawing its figures here", file=sys.stderr)
            draw_each(self._sent)
        self._sent = []

    def close(self) -> None:
        """End the worker and its drawer at once (after `wait`, or when the parent failed: figures not waited for are
        not needed)."""
        if self._process is None:
            return
        process, self._process = self._process, None
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the worker leads its own process group, with the drawer it forked
        except OSError:  # already ended, or killed before it made its group: the worker alone
            process.kill()
        process.join()
        self._queue(None)  # a sender blocked on a dead drawer's pipe fails and ends; an idle one ends here
        self._sender.join()
        for conn in (*self._jobs, *self._results):
            conn.close()

    def _queue(self, item: tuple[int, bytes] | None) -> None:
        with self._ready:
            self._outbox.append(item)
            self._ready.notify()

    def _send_all(self) -> None:
        gone: set[int] = set()  # drawers whose pipe refused a send: wait() finds them out and draws their figures here
        while True:
            with self._ready:
                while not self._outbox:
                    self._ready.wait()
                item = self._outbox.pop(0)
            for drawer, batch in ([(d, _END) for d in range(len(self._jobs))] if item is None else [item]):
                if drawer not in gone:
                    try:
                        self._jobs[drawer].send_bytes(batch)
                    except OSError:
                        gone.add(drawer)
            if item is None:  # the end, sent to every drawer still there
                return


_END = b""
"""the last message to a drawer (a pickled figure is never empty): report and end"""


def _serve(prepare: Callable[[], object], jobs_in: list, jobs_out: list, results_out: list) -> None:
    for conn in jobs_out:  # the parent's ends: with them closed here, the parent's exit is an end of input
        conn.close()
    os.setpgid(0, 0)
    failure = None
    try:
        prepare()
    except BaseException as e:  # reported once the parent asks, like a failed figure
        failure = e
    for i in range(1, len(jobs_in)):
        if failure is not None:
            _report(results_out[i], failure)
        elif os.fork() == 0:  # a second drawer, with the figure code imported already
            try:
                for j, (jobs, results) in enumerate(zip(jobs_in, results_out)):
                    if j != i:
                        jobs.close()
                        results.close()
                _report(results_out[i], _draw_from(jobs_in[i]))
            finally:
                os._exit(0)
        # Only that drawer holds its pipes now: if it dies, the parent's sends to it fail and its result ends.
        jobs_in[i].close()
        results_out[i].close()
    _report(results_out[0], failure or _draw_from(jobs_in[0]))


def _draw_from(jobs_in) -> BaseException | None | type:
    """Draw each figure sent until the end; the first failure, None, or _GONE when the parent went away."""
    failure = None
    while True:
        try:
            batch = jobs_in.recv_bytes()
        except (EOFError, OSError):
            return _GONE
        if batch == _END:
            return failure
        if failure is None:
            try:
                draw_each(pickle.loads(batch))
            except BaseException as e:
                failure = e


class _GONE:
    """the parent ended without waiting: there is nobody to report to"""


def _report(results_out, failure) -> None:
    if failure is _GONE:
        return
    results_out.send((True, None) if failure is None else (False, _carried(failure)))
