"""Atomic file writes and content hashes: the only way Trainbook persists anything.

A write goes to a temporary file in the same folder, is fsynced, then renamed over the target,
so a reader (or a crash) sees the old file or the new one, never half of one. A write that the
system refuses (a full disk, an I/O error, a file-size limit, a read-only or vanished folder) is one
`StorageError` naming the file and saying what happened; the file's previous version, if any, is
untouched and no temporary file is left. Torch-free, so the generators may use it too.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, IO, Iterator

from ..runtime import faults

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: mkstemp creates 0600 files, published artifacts should be world-readable

WHY = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file is larger than this process may write (its file-size limit, `ulimit -f`, or the file system's)",
    errno.EIO: "an input/output error (the disk or the network file system failed)",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "its folder no longer exists (it was removed while in use)",
    errno.EEXIST: "a file, or a symbolic link to nothing, is in the way of a folder it needs",
    errno.ENOTDIR: "a file is in the way of a folder it needs",
}
"""what an errno means for a write, in the words a person acts on"""


class StorageError(OSError):
    """A persistent write the system refused; its message names the file, says why, and that nothing was changed."""

    def __init__(self, path: Path, error: OSError, existed: bool | None = None):
        super().__init__(error.errno, error.strerror, str(path))
        self.path, self.existed = Path(path), existed
        why = WHY.get(error.errno, error.strerror or type(error).__name__)
        left = "" if existed is None else "; its previous version is intact" if existed else "; nothing was written"
        self.message = f"cannot write {path}: {why}{left}"

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # crosses from a drawing process to its parent as itself
        return _rebuild, (self.path, self.errno, self.strerror, self.existed)


def _rebuild(path: Path, code: int, text: str, existed: bool | None) -> StorageError:
    return StorageError(path, OSError(code, text), existed)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def staged(path: Path, write: Callable[[IO[bytes]], Any], durable: bool = True, make_folder: bool = True) -> Iterator[Path]:
    """`write(file)` into a temporary file beside `path`, yielded (complete and synced) to the body of the
    `with`; when the body returns, the file becomes `path` in one rename; when it raises, it is removed.

    So something else (the ledger line that seals a record) can be written between the two, and a
    failure of either leaves both as they were. `make_folder=False` refuses to create a missing folder
    (a run folder removed while its run trains must not come back half empty)."""
    path = Path(path)
    existed = path.exists()
    try:
        if make_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise StorageError(path, e, existed) from None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                faults.at_write(path.name, tmp)
                if durable:
                    os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)
        except OSError as e:
            raise StorageError(path, e, existed) from None
        yield Path(tmp)
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise StorageError(path, e, existed) from None
        try:
            if durable:
                fsync_dir(path.parent)
        except OSError as e:  # renamed, but the rename may not survive a power cut: say no more than that
            raise StorageError(path, e) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: Path, write: Callable[[IO[bytes]], Any], durable: bool = True, make_folder: bool = True) -> None:
    """Call `write(file)` on a temporary file, then make it `path` in one rename (a StorageError if the system refuses).

    `durable=False` skips the two fsyncs, for files that can be rebuilt (generated pages): the
    rename still makes the write atomic, and the writer syncs once when it is done (`os.sync`)."""
    with staged(path, write, durable, make_folder):
        pass


def replace_folder(staging: Path, target: Path) -> None:
    """Put the finished folder `staging` in place of `target` with two renames, so a reader sees the old folder or the
    new one, never a mix (for a moment, neither: a kill there leaves `staging` and the old folder beside it)."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    try:
        if target.exists():
            os.replace(target, old)
        faults.at_write(target.name, str(staging))  # the worst moment to be killed: no folder in place
        os.replace(staging, target)
    except OSError as e:
        if old.exists() and not target.exists():
            os.replace(old, target)  # the old folder back in place: a refused replacement changes nothing
        raise StorageError(target, e) from None
    shutil.rmtree(old, ignore_errors=True)


def remove_temporaries(folder: Path) -> list[str]:
    """Delete the temporary files of writes that a crash cut short (never renamed into place); returns their names."""
    stale = [p for p in folder.glob(".*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return [p.name for p in stale]


def write_bytes(path: Path, data: bytes, durable: bool = True, make_folder: bool = True) -> None:
    write_atomic(path, lambda f: f.write(data), durable, make_folder)


def write_text(path: Path, text: str, durable: bool = True, make_folder: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), durable, make_folder)


def dumps_json(obj: Any) -> str:
    """Stable JSON: sorted keys, so the same record always hashes the same."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: Path, obj: Any, make_folder: bool = True) -> None:
    write_text(path, dumps_json(obj), make_folder=make_folder)


def write_jsonl(path: Path, rows: list[dict], make_folder: bool = True) -> None:
    write_text(path, "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in rows), make_folder=make_folder)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
