"""Advisory file locks that die with their process: how a run folder says "someone is working here".

A lock is an `flock` on a file; the kernel releases it when the process ends, however it ends
(SIGKILL and power loss included). So a run whose record says `running` while nobody holds its
lock was interrupted. Torch-free; checking a lock never creates or changes a file.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO, Callable, Iterator


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


_held: dict[str, list] = {}
"""locks this process holds through `exclusive`: resolved path -> [open file, depth]"""


@contextlib.contextmanager
def exclusive(path: Path, waiting: Callable[[str], None] | None = None) -> Iterator[int]:
    """Hold an exclusive lock on `path` (created if missing) for the body, waiting for another process that holds it;
    `waiting(holder)` is called once first, with what the holder wrote into the file (its pid), if it has to wait.
    Re-entrant within a process; yields the lock's file descriptor, which a child process may inherit to hold the
    lock until it, too, is done (the lock lasts while any process keeps it open)."""
    key = str(Path(path).resolve())
    if key in _held:
        _held[key][1] += 1
        try:
            yield _held[key][0].fileno()
        finally:
            _held[key][1] -= 1
        return
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                handle.seek(0)
                waiting(handle.read().strip() or "unknown")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        _held[key] = [handle, 1]
        try:
            yield handle.fileno()
        finally:
            del _held[key]
    finally:
        handle.close()  # closing releases the lock
