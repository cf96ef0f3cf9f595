"""Run folders named on the command line: found, and refused with one clear message when they are not runs."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .. import config
from ..config import ConfigError
from ..tracking import ledger
from ..tracking.run import runs_dir


def runs_root(option: str | None, *, must_exist: bool = False) -> Path:
    """The runs folder (--runs-dir, else $TRAINBOOK_RUNS_DIR, else ./runs), refused when it exists but is no folder.

    `must_exist`: refused when missing too (a command that only reads it, where a mistyped path
    would otherwise look like an empty, fully verified history)."""
    root = runs_dir(option)
    given = "--runs-dir" if option else "$TRAINBOOK_RUNS_DIR" if os.environ.get("TRAINBOOK_RUNS_DIR") else "the runs folder"
    if root.exists() and not root.is_dir():
        raise ConfigError(str(root), given, "not a folder; expected the folder that holds the run folders and ledger.jsonl")
    if must_exist and not root.exists():
        raise ConfigError(str(root), given, "no such folder; expected the folder that holds the run folders and ledger.jsonl")
    return root


def locate(name: str, runs_dir_option: str | None) -> Path:
    """A run folder given as a path, or as a bare run id under the runs folder."""
    path = Path(name)
    return path if path.is_dir() or "/" in name else runs_root(runs_dir_option) / name


def read_record(folder: Path) -> dict:
    """The record of a run folder, or a ConfigError saying why the folder is not a run."""
    if not folder.is_dir():
        raise ConfigError(str(folder), "", "no such run folder" if not folder.exists() else "not a folder; expected a run folder")
    path = folder / ledger.RECORD
    if not path.is_file() or not (folder / "config.yaml").is_file():
        raise ConfigError(str(folder), "", "not a run folder (expected run.json and config.yaml in it)")
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise ConfigError(str(path), "", f"not a readable run record ({str(e).splitlines()[0]})") from None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise ConfigError(str(path), "", "not a run record (it has no resolved config)")
    return record


def read_config(folder: Path):
    """The run's resolved config, rebuilt from its config.yaml (checked like any experiment file)."""
    path = folder / "config.yaml"
    return config.from_dict(config.read_yaml(path), str(path)), path
