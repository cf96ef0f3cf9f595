"""How this process was launched: alone, or as one of torchrun's processes. Torch-free (read from the
environment torchrun sets), so a command can refuse a launch before it pays for `import torch`."""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

from ..errors import UsageError

TIMEOUT_VARIABLE = "TRAINBOOK_COLLECTIVE_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 600.0
"""torch's own default for NCCL; gloo's (30 minutes) is longer than a CPU job here takes in all"""


def processes() -> int:
    """How many processes torchrun started for this command (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank (0 without torchrun)."""
    return int(os.environ.get("RANK", "0"))


def collective_timeout_s() -> float:
    """How long one process waits for the others (a collective, rank 0's verdict) before the run fails:
    $TRAINBOOK_COLLECTIVE_TIMEOUT_S seconds, default 600; a UsageError when it is not a number > 0."""
    text = os.environ.get(TIMEOUT_VARIABLE)
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise UsageError(f"${TIMEOUT_VARIABLE}", "", f"expected a number of seconds > 0, got {text!r}")
    return value


_launcher: int | None = None
"""the pid of the torchrun process that started this one, once `die_with_launcher` ran"""
PR_SET_PDEATHSIG = 1


def by_torchrun() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ


def die_with_launcher() -> None:
    """Ask the kernel to send this process SIGTERM when its launcher dies (Linux), so that a torchrun killed with
    SIGKILL, which can tell no one, still stops its processes: at the next step boundary, with a checkpoint, the
    run sealed `interrupted`. Elsewhere a no-op: the processes then run on until they need the launcher's store."""
    global _launcher
    if not by_torchrun() or not sys.platform.startswith("linux"):
        return
    _launcher = os.getppid()
    try:  # (a launcher that died before this line took its store with it: joining the process group then fails)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):
        pass


def launcher_gone() -> bool:
    """Whether the torchrun process that started this one has died. Not from the parent's pid alone: the kernel
    sends the signal as soon as the thread that started this process dies, and while torchrun's other threads
    are still dying this process counts one of them as its parent."""
    if _launcher is None:
        return False
    if os.getppid() != _launcher:
        return True
    try:
        state = Path(f"/proc/{_launcher}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")  # dead, not yet reaped by whoever started torchrun
