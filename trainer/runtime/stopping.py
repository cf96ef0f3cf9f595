"""Clean stops: SIGINT (Ctrl-C) and SIGTERM (a scheduler, `kill`, CI cancelling a job) end a run at a step boundary.

While a run trains, the first SIGINT or SIGTERM only raises a flag. The training loop looks at it
after every step: it saves a checkpoint there (so `resume` continues exactly), and raises
`StopRequested`; the run is then sealed as `interrupted`. A second SIGINT stops at once (the last
periodic checkpoint stays the resume point). Under torchrun every process agrees on the step to stop
at, since a signal may reach only some of them.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable

from . import launch

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_requested: str | None = None


class StopRequested(Exception):
    """A signal asked the run to stop; it stopped at a step boundary after saving a checkpoint."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step  # the step (or update) the checkpoint holds: where `resume` continues


def _handler(signum, frame) -> None:
    global _requested
    if _requested is not None and signum == signal.SIGINT:
        raise KeyboardInterrupt  # a second Ctrl-C: stop now
    _requested = signal.Signals(signum).name


@contextlib.contextmanager
def graceful():
    """Within this block, SIGINT and SIGTERM raise the flag instead of stopping the process.

    Only the main thread may handle signals: a run started from another thread (`trainer.run` in a worker
    thread) trains without clean stops, as any other code in that thread would."""
    global _requested
    _requested = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _requested = None


def _own() -> str | None:
    if _requested == "SIGTERM" and launch.launcher_gone():
        return "SIGTERM (sent as torchrun, which launched this process, died)"
    return _requested


def requested(world=None) -> str | None:
    """The signal that asked to stop ('SIGTERM'...), or None; under torchrun, any process's request counts."""
    if world is None or not world.distributed:
        return _own()
    import torch
    import torch.distributed as dist

    flag = torch.tensor([0 if _requested is None else 1], device=world.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return (_own() or "a signal to another process") if flag.item() else None


def step_boundary(done: int, total: int, checkpoint_interval: int, save: Callable[[int], None], world=None) -> None:
    """What a training loop does after step `done` of `total`: `save(done)` (metrics and checkpoint together) every
    `checkpoint_interval` steps (0: never) and after the last; and when a signal asked to stop before the last, a
    checkpoint there (if this step had none) and StopRequested, so the run is sealed as interrupted and resumable."""
    saved = bool(checkpoint_interval and done % checkpoint_interval == 0) or done == total
    if saved:
        save(done)
    signal_name = requested(world) if done < total else None
    if signal_name:
        if not saved:
            save(done)
        raise StopRequested(f"stopped by {signal_name} after step {done}, with a checkpoint there", done)
