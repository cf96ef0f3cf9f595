"""The local cache: downloads and derived data (token streams, learned vocabularies), never committed.

It lives in `.cache/` under the working directory unless $TRAINBOOK_CACHE_DIR names another
folder. Everything in it can be rebuilt, and every entry is keyed by the hashes of what it was
built from, so a stale entry is never used. Each derived entry also has the sha256 of its own
bytes beside it (`<entry>.sha256`, written after the entry), so a damaged one (truncated, edited,
half-copied) is noticed, removed and built again, never used. Writes are atomic, so concurrent
processes (DDP ranks, parallel runs) at worst build the same entry twice.
"""
from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ..tracking.files import StorageError, sha256_bytes, sha256_file, write_atomic, write_bytes, write_text

CACHE_ENV = "TRAINBOOK_CACHE_DIR"
DOWNLOAD_TIMEOUT_S = 60
CHUNK = 1 << 20


class DownloadError(Exception):
    """A download failed or did not match its expected sha256; the message says which and why."""


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or ".cache")


def entry(*parts: str) -> Path:
    """A path inside the cache, its folder created (made again if the cache was removed: all of it can be rebuilt)."""
    path = cache_dir().joinpath(*parts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # read-only, or a file or a symbolic link to nothing in the way of a folder
        raise StorageError(path.parent, e) from None
    return path


def _vouch(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def store(path: Path, data: bytes) -> None:
    """Write a derived cache entry, then the sha256 that vouches for it (a crash between the two leaves an entry
    without one, which is built again)."""
    write_bytes(path, data)
    write_text(_vouch(path), sha256_bytes(data) + "\n")


def intact(path: Path) -> bool:
    """Whether the entry at `path` exists and still has the sha256 written beside it when it was built; one that does
    not is removed, with a note saying so, so the caller builds it again."""
    if not path.is_file():
        return False
    try:
        expected = _vouch(path).read_text().strip()
    except OSError:
        expected = None
    if expected is not None and sha256_file(path) == expected:
        return True
    why = ("has no recorded sha256 (an older Trainbook made it)" if expected is None else
           "no longer has the sha256 recorded when it was built (truncated or edited)")
    print(f"note: cache entry {path} {why}; building it again", file=sys.stderr)
    path.unlink(missing_ok=True)
    _vouch(path).unlink(missing_ok=True)
    return False


def download(url: str, sha256: str, max_bytes: int | None = None) -> Path:
    """The content at `url`, fetched once into the cache and checked against `sha256` (and, when given, refused
    past `max_bytes`: a server that sends more is not sending the file expected).

    The cache entry is named by the expected hash, so a second call reads the local copy without
    touching the network, and a file that fails the check is never kept.
    """
    target = entry("downloads", sha256)
    if target.is_file() and sha256_file(target) == sha256:
        return target

    def fetch(out) -> None:
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 - scheme checked by the schema
                received = 0
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    received += len(chunk)
                    if max_bytes is not None and received > max_bytes:
                        raise DownloadError(f"{url}: more than the {max_bytes} bytes expected")
                    digest.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise DownloadError(f"could not download {url}: {getattr(e, 'reason', None) or e}") from None
        if digest.hexdigest() != sha256:
            raise DownloadError(f"{url}: downloaded content has sha256 {digest.hexdigest()}, expected {sha256}")

    write_atomic(target, fetch)
    return target
