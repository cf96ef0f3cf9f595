"""Checkpoints: written atomically, read back with `weights_only=True`, refused clearly when foreign."""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch

from .files import write_bytes

FORMAT = "trainbook-checkpoint-1"
LAST = "checkpoint.pt"
"""the latest state of a run, written every `checkpoint_interval` steps and at the end: what `resume` reads"""
BEST = "best.pt"
"""the state with the lowest validation loss so far"""


class CheckpointError(Exception):
    pass


def elapsed_s(state: dict) -> float:
    """The run's elapsed seconds when the checkpoint was written (language models keep it in the loop state)."""
    return float(state.get("elapsed_s", (state.get("loop") or {}).get("elapsed_s", 0.0)))


def save(path: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    write_bytes(path, buffer.getvalue())


def load(path: Path) -> dict:
    """The checkpoint's state dict, or a CheckpointError saying why it cannot be used."""
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else type(e).__name__  # torch adds a paragraph
        raise CheckpointError(f"{path}: not a readable Trainbook checkpoint (truncated, corrupt or unsafe): {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a Trainbook checkpoint (expected format {FORMAT!r})")
    return state
