"""Advisory file locks that die with their process: how a run folder says "someone is working here".

A lock is an `flock` on a file; the kernel releases it when the process ends, however it ends
(SIGKILL and power loss included). So a run whose record says `running` while nobody holds its
lock was interrupted. Torch-free; checking a lock never creates or changes a file.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO


def acquire(path: Path) -> IO | None:
    """An open file holding an exclusive lock on `path` (created if missing), or None if another process holds it."""
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def create_locked(path: Path) -> IO:
    """A new lock file at `path` that is locked before anyone can see it (locked under a temporary
    name, then renamed: the lock belongs to the file, not the name). An unlocked lock file means its
    owner is dead, so it must never be visible unlocked, not even for a moment."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    handle = open(temporary, "w")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.rename(temporary, path)
    return handle


def held(path: Path) -> bool:
    """Whether some process holds the lock on `path` now (False when the file does not exist)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also drops the shared lock, if we got it
    return False
