"""GPT-2's BPE ranks (tiktoken's `r50k_base`, 50,256 mergeable tokens), found without the internet.

tiktoken downloads its ranks on first use, which a machine with only a package registry cannot
do. `openai-whisper`'s source archive on PyPI ships the same file (`whisper/assets/gpt2.tiktoken`,
identical sha256), so `make setup` fetches that archive with pip and extracts the file:

    python -m trainer.data.gpt2_ranks ARCHIVE [TARGET]

At run time the file is looked for in this order: `data.gpt2_ranks` in the experiment,
$TRAINBOOK_GPT2_RANKS, `.cache/gpt2.tiktoken`, and last a download from OpenAI's public address
into the cache. Every source is checked against the same sha256: a file named by the experiment or
the variable that fails it is refused; the cache's copy that fails it is extracted again from the
archive `make setup` left in `.cache/sdist/`, or refused naming the file when there is none.
"""
from __future__ import annotations

import os
import sys
import tarfile
from pathlib import Path

from ..tracking.files import sha256_bytes, sha256_file, write_bytes
from . import cache

SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
URL = "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken"
ENV = "TRAINBOOK_GPT2_RANKS"
FILE_NAME = "gpt2.tiktoken"
MEMBER_SUFFIX = "/whisper/assets/gpt2.tiktoken"
ARCHIVES = "sdist/openai_whisper-*.tar.gz"
"""where `make setup` leaves openai-whisper's source archive, inside the cache"""
ENDOFTEXT = "<|endoftext|>"
ENDOFTEXT_ID = 50256


class RanksError(Exception):
    pass


def default_path() -> Path:
    return cache.cache_dir() / FILE_NAME


def _checked(path: Path, origin: str) -> Path:
    if not path.is_file():
        raise RanksError(f"{origin}: GPT-2 ranks file not found: {path}")
    digest = sha256_file(path)
    if digest != SHA256:
        raise RanksError(f"{origin}: {path} has sha256 {digest}; GPT-2's r50k ranks have {SHA256}")
    return path


def locate(configured: str | None) -> tuple[Path, str]:
    """(path of a verified ranks file, how it was found)."""
    if configured:
        return _checked(Path(configured), "data.gpt2_ranks"), "data.gpt2_ranks"
    if os.environ.get(ENV):
        return _checked(Path(os.environ[ENV]), f"${ENV}"), f"${ENV}"
    if default_path().is_file():
        return _cached(), str(default_path())
    try:
        return cache.download(URL, SHA256), URL
    except cache.DownloadError as e:
        raise RanksError(f"GPT-2 ranks are not in {default_path()} (run `make setup`, which extracts them from "
                         f"openai-whisper's source archive) and the download failed: {e}") from None


def _cached() -> Path:
    """The cache's copy, verified; a damaged one is extracted again from the archive make setup downloaded."""
    path = default_path()
    try:
        return _checked(path, "cache")
    except RanksError as damaged:
        for archive in sorted(cache.cache_dir().glob(ARCHIVES), reverse=True):
            try:
                install_from_sdist(archive, path)
            except (RanksError, OSError, tarfile.TarError):
                continue
            print(f"note: {path} was damaged (its sha256 was not GPT-2's); extracted it again from {archive}", file=sys.stderr)
            return path
        raise RanksError(f"{damaged}: the file is damaged (truncated or edited); delete it and run `make setup`, "
                         "which extracts it again") from None


def install_from_sdist(archive: Path, target: Path) -> Path:
    """Extract gpt2.tiktoken from an openai-whisper source archive into `target`, verified."""
    with tarfile.open(archive, "r:gz") as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith(MEMBER_SUFFIX) and m.isfile()), None)
        if member is None:
            raise RanksError(f"{archive}: no *{MEMBER_SUFFIX} inside; is it openai-whisper's source archive?")
        data = tar.extractfile(member).read()
    if sha256_bytes(data) != SHA256:
        raise RanksError(f"{archive}: {member.name} has sha256 {sha256_bytes(data)}, expected {SHA256}")
    write_bytes(target, data)
    return target


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m trainer.data.gpt2_ranks ARCHIVE [TARGET]", file=sys.stderr)
        return 2
    target = Path(argv[1]) if len(argv) == 2 else default_path()
    try:
        install_from_sdist(Path(argv[0]), target)
    except (RanksError, OSError, tarfile.TarError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"GPT-2 ranks verified and written to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
