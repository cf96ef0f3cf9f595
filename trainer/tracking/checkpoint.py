"""Checkpoints: written atomically, read back with `weights_only=True`, refused clearly when foreign.

The same for the weights-only model files (tracking/weights.py), which are torch.save archives of another format.

torch is imported inside the functions, so that a file that is no checkpoint at all (empty, cut
off, random bytes) is refused before a command pays for `import torch`.
"""
from __future__ import annotations

import io
import pickle
import re
import warnings
import zipfile
from pathlib import Path

from .files import write_bytes

FORMAT = "trainbook-checkpoint-1"


class CheckpointError(Exception):
    pass


def elapsed_s(state: dict) -> float:
    """The run's elapsed seconds when the checkpoint was written (language models keep it in the loop state)."""
    return float(state.get("elapsed_s", (state.get("loop") or {}).get("elapsed_s", 0.0)))


def save(path: Path, state: dict, format: str = FORMAT) -> None:
    write_bytes(path, dumps(state, format), make_folder=False)  # into a run folder, never making a vanished one again


def dumps(state: dict, format: str = FORMAT) -> bytes:
    """The bytes `save` writes: a torch.save archive of the state, marked with its format."""
    import torch

    buffer = io.BytesIO()
    torch.save({"format": format, **state}, buffer)
    return buffer.getvalue()


UNSAFE = re.compile(r"unsupported (?:global: )?GLOBAL (\S+)", re.IGNORECASE)
"""how torch's weights-only unpickler names a callable a pickle asked for"""


def load(path: Path, format: str = FORMAT, what: str = "checkpoint") -> dict:
    """The checkpoint's state dict, or a CheckpointError saying why it cannot be used (`what` names the kind of file)."""
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found" if not path.exists() else f"{path}: not a file, so not a {what}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a Trainbook {what}")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; a cut-off one has lost its directory at the end
        raise CheckpointError(f"{path}: truncated, or not a {what} at all ({size} bytes, not a torch.save archive)")
    import torch

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on the way to refusing a file
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
        unsafe = UNSAFE.search(str(e))
        if unsafe:
            raise CheckpointError(f"{path}: refused: loading it would call {unsafe.group(1)} (pickled code); "
                                  f"a Trainbook {what} holds only tensors and plain values") from None
        first = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else type(e).__name__  # torch adds a paragraph
        raise CheckpointError(f"{path}: not a readable Trainbook {what} (truncated, corrupt or unsafe): {first}") from None
    if not isinstance(state, dict) or state.get("format") != format:
        raise CheckpointError(f"{path}: not a Trainbook {what} (expected format {format!r})")
    return state
