"""Faults on purpose, for the tests that prove what a failure does to a run or a site (never set outside tests).

`TRAINBOOK_TEST_FAULT` holds one plan, `key=value` pairs joined by commas:

    rank=1,step=5                      rank 1 raises at the start of training step 5, as a bug or a lost device would
    rank=1,step=5,do=hang              rank 1 stops answering there: it never joins another collective (it still
                                       dies on SIGTERM, as a process blocked in the kernel does)
    write=checkpoint.pt,nth=2,errno=ENOSPC
                                       the 2nd persistent write of a file named checkpoint.pt fails the way the
                                       operating system fails a write: after its bytes went to the temporary file,
                                       before the rename (errno: any name of the `errno` module; nth: default 1)
    kill=17                            the process SIGKILLs itself during its 17th persistent write, after the
                                       temporary file is written and before it is renamed into place
    tally=1                            the process says on standard error, as it exits, how many persistent
                                       writes it made (so a test can draw kill points over all of them)

Every persistent write goes through `trainer.tracking.files`, which calls `at_write`; so a write fault is the
operating system's error at the one boundary every write crosses, not a stand-in for the code under test.
Writes are counted in the process that read the plan (a forked drawing process counts on from its parent's
count, but never kills). Read once per process; unset, each check costs one comparison. Torch-free.
"""
from __future__ import annotations

import atexit
import errno as errno_names
import os
import signal
import sys

VARIABLE = "TRAINBOOK_TEST_FAULT"


class InjectedFault(RuntimeError):
    """The failure TRAINBOOK_TEST_FAULT asked for."""


def _planned() -> dict[str, str] | None:
    text = os.environ.get(VARIABLE)
    if not text:
        return None
    return {key.strip(): value.strip() for key, value in (part.split("=", 1) for part in text.split(","))}


_PLAN = _planned()
_PLANNER = os.getpid()
_writes: dict[str, int] = {}
"""persistent writes so far, by file name ('' counts every write)"""
TALLY = "persistent writes made"


def _tally() -> None:
    if os.getpid() == _PLANNER:
        print(f"{VARIABLE}: {_writes.get('', 0)} {TALLY}", file=sys.stderr)


if _PLAN is not None and "tally" in _PLAN:
    atexit.register(_tally)


def at_step(step: int, rank: int) -> None:
    """Raise (or hang) here if the plan names this step (1-based) on this rank."""
    if _PLAN is None or "step" not in _PLAN or int(_PLAN["step"]) != step or int(_PLAN.get("rank", 0)) != rank:
        return
    if _PLAN.get("do") == "hang":
        print(f"{VARIABLE}: rank {rank} hangs at step {step}", file=sys.stderr, flush=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        while True:
            signal.pause()
    raise InjectedFault(f"fault injected by {VARIABLE} at step {step} on rank {rank}")


def at_write(name: str, temporary: str) -> None:
    """Called by every persistent write of a file called `name`, its bytes in `temporary`, before the rename."""
    if _PLAN is None:
        return
    _writes[""] = _writes.get("", 0) + 1
    _writes[name] = _writes.get(name, 0) + 1
    if "kill" in _PLAN and _writes[""] == int(_PLAN["kill"]) and os.getpid() == _PLANNER:
        os.kill(os.getpid(), signal.SIGKILL)
    if _PLAN.get("write") == name and _writes[name] == int(_PLAN.get("nth", 1)):
        code = getattr(errno_names, _PLAN.get("errno", "EIO"))
        raise OSError(code, os.strerror(code), temporary)
