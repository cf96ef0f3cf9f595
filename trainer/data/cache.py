"""The local cache: downloads and derived data (token streams, learned vocabularies), never committed.

It lives in `.cache/` under the working directory unless $TRAINBOOK_CACHE_DIR names another
folder. Everything in it can be rebuilt, and every entry is keyed by the hashes of what it was
built from, so a stale entry is never used. Writes are atomic, so concurrent processes (DDP ranks,
parallel runs) at worst build the same entry twice.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from ..tracking.files import sha256_file, write_atomic

CACHE_ENV = "TRAINBOOK_CACHE_DIR"
DOWNLOAD_TIMEOUT_S = 60
CHUNK = 1 << 20


class DownloadError(Exception):
    """A download failed or did not match its expected sha256; the message says which and why."""


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or ".cache")


def entry(*parts: str) -> Path:
    """A path inside the cache, its folder created."""
    path = cache_dir().joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


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
