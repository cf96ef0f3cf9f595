"""Atomic file writes and content hashes: the only way Trainbook persists anything.

A write goes to a temporary file in the same folder, is fsynced, then renamed over the target,
so a reader (or a crash) sees the old file or the new one, never half of one. Torch-free, so the
generators may use it too.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, IO

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: mkstemp creates 0600 files, published artifacts should be world-readable

def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[IO[bytes]], Any], durable: bool = True) -> None:
    """Call `write(file)` on a temporary file, then make it `path` in one rename.

    `durable=False` skips the two fsyncs, for files that can be rebuilt (generated pages): the
    rename still makes the write atomic, and the writer syncs once when it is done (`os.sync`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def remove_temporaries(folder: Path) -> list[str]:
    """Delete the temporary files of writes that a crash cut short (never renamed into place); returns their names."""
    stale = [p for p in folder.glob(".*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return [p.name for p in stale]


def write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    write_atomic(path, lambda f: f.write(data), durable)


def write_text(path: Path, text: str, durable: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), durable)


def dumps_json(obj: Any) -> str:
    """Stable JSON: sorted keys, so the same record always hashes the same."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: Path, obj: Any) -> None:
    write_text(path, dumps_json(obj))


def write_jsonl(path: Path, rows: list[dict]) -> None:
    write_text(path, "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in rows))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
