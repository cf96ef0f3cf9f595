"""Run folders named on the command line: found, and refused with one clear message when they are not runs."""
from __future__ import annotations

import os
from pathlib import Path

from .. import experiments
from ..config import read_yaml
from ..errors import UsageError
from ..tracking import layout


def runs_root(option: str | None, *, must_exist: bool = False) -> Path:
    """The runs folder (--runs-dir, else $TRAINBOOK_RUNS_DIR, else ./runs), refused when it exists but is no folder.

    `must_exist`: refused when missing too (a command that only reads it, where a mistyped path
    would otherwise look like an empty, fully verified history)."""
    root = layout.runs_dir(option)
    given = "--runs-dir" if option else "$TRAINBOOK_RUNS_DIR" if os.environ.get("TRAINBOOK_RUNS_DIR") else "the runs folder"
    if root.exists() and not root.is_dir():
        raise UsageError(str(root), given, f"not a folder; expected the folder that holds the run folders and {layout.LEDGER}")
    if must_exist and not root.exists():
        raise UsageError(str(root), given, f"no such folder; expected the folder that holds the run folders and {layout.LEDGER}")
    return root


def writable(folder: Path, what: str) -> None:
    """Refuse a folder this process cannot write into (a read-only mount, no permission), naming it, before
    any work; a folder that does not exist yet is judged by the nearest folder above it that does."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.statvfs(probe).f_flag & os.ST_RDONLY:
        why = f"is on a read-only file system ({probe} is mounted read-only)"
    elif not os.access(probe, os.W_OK | os.X_OK):
        why = f"cannot be written by this user ({probe} is not writable)"
    else:
        return
    raise UsageError(str(folder), "", f"{what} {why}; a run writes its files and its ledger line there")


def locate(name: str, runs_dir_option: str | None) -> Path:
    """A run folder given as a path, or as a bare run id under the runs folder."""
    path = Path(name)
    return path if path.is_dir() or "/" in name else runs_root(runs_dir_option) / name


def open_run(folder: Path) -> layout.RunFolder:
    """The run folder through the contract's reader, or a UsageError saying why the folder is not a run."""
    try:
        return layout.RunFolder.open(folder)
    except layout.NotARun as e:
        raise UsageError(str(e.path), "", e.message) from None


def read_record(folder: Path) -> dict:
    """The record of a run folder, or a UsageError saying why the folder is not a run."""
    return open_run(folder).record


def read_config(folder: Path):
    """The run's resolved config, rebuilt from its config.yaml (checked like any experiment file)."""
    path = folder / layout.CONFIG
    return experiments.from_dict(read_yaml(path), str(path)), path
