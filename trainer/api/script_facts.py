"""What the record of a tracked script says about it: its settings, the command that ran it, its data, its code.

`trainer.track()` gathers these before it creates the run folder, so a mistake (a setting YAML cannot hold, a
data file that is not there, a password on the command line) is one error and nothing written. The command
line and the working directory are what `trainer reproduce` re-runs; since they are recorded and published,
a credential in an argument is refused rather than recorded (trainer/credentials.py). Torch-free.
"""
from __future__ import annotations

import argparse
import dataclasses
import enum
import hashlib
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import credentials
from ..config import build
from ..errors import ConfigError, UsageError
from ..schemas.script import ScriptExperiment
from ..tracking import audit
from ..tracking.files import sha256_file

SOURCE = "trainer.track()"
"""how errors name what was given to `track`"""


def settings(config: Any, key: str = "config") -> Any:
    """The script's config as plain YAML values: a mapping, a dataclass or an argparse Namespace, whose values are
    numbers, text, true/false, None, lists and mappings (a Path, an Enum, a NumPy or torch scalar, a torch device
    or dtype are turned into theirs). Anything else is a ConfigError naming the key."""
    if config is None:
        return {}
    if isinstance(config, argparse.Namespace):
        config = vars(config)
    elif dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    return _plain(config, key)


def _plain(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v, f"{key}[]") for v in value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(SOURCE, key, f"expected a finite number, got {value!r}")
    if isinstance(value, str) and credentials.in_url(value):
        raise ConfigError(SOURCE, key, "holds an address with credentials in it; the config is recorded and published "
                          "with the run, so credentials must stay out of it")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value, key)
    if hasattr(value, "item") and getattr(value, "shape", None) in ((), []):  # a NumPy or torch scalar
        return _plain(value.item(), key)
    if type(value).__module__ == "torch" and type(value).__name__ in ("device", "dtype"):
        return str(value)
    raise ConfigError(SOURCE, key, f"expected a number, text, true/false, None, a list or a mapping, got "
                      f"{type(value).__module__}.{type(value).__name__}")


def experiment_config(experiment: str, config: Any, *, description: str, tags: Sequence[str], notes: str,
                      seed: int | None, gates: Mapping[str, str] | None) -> ScriptExperiment:
    """The tracked run's config, checked like any experiment's (its name, tags, gates)."""
    if not isinstance(experiment, str):
        raise ConfigError(SOURCE, "name", f"expected the experiment's name as text, got {type(experiment).__name__}")
    mapping = {"name": experiment, "description": description, "tags": list(tags), "notes": notes, "seed": seed,
               "gates": dict(gates or {}), "model": {"type": "script"}, "params": settings(config)}
    return build(ScriptExperiment, mapping, SOURCE)


def data_record(paths: Sequence[str | Path]) -> dict:
    """The record's `data` section: each file's sha256 and size (a folder counts as all the files in it), and one
    sha256 over them all, which `reproduce` checks before it re-runs the script."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = []
    for i, given in enumerate(paths):
        path = Path(given)
        if not path.exists():
            raise ConfigError(SOURCE, f"data[{i}]", f"{path}: no such file or folder")
        inside = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        files += [{"path": _as_given(p), "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in inside]
    combined = hashlib.sha256("".join(f"{f['path']}\0{f['sha256']}\n" for f in files).encode()).hexdigest()
    shown = ", ".join(f["path"] for f in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    return {"source": shown or "none given to trainer.track()", "files": files, "sha256": combined if files else None}


def _as_given(path: Path) -> str:
    """A data file's path relative to the working directory when it is inside it (as `reproduce` finds it from
    there, in any clone), else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def interactive() -> bool:
    """True in a notebook or an interactive interpreter, where there is no command line that would run the code again."""
    main = sys.modules.get("__main__")
    return hasattr(sys, "ps1") or "ipykernel" in sys.modules or not getattr(main, "__file__", None)


def command_record() -> dict:
    """The record's `source`: the script, the command line after the interpreter, the working directory (also as a
    path inside the script's git checkout, for another clone), and the interpreter that ran it."""
    cwd = Path.cwd()
    if interactive():
        return {"file": None, "overrides": [], "command": None, "cwd": str(cwd), "cwd_in_repo": None, "python": sys.executable,
                "note": "tracked in an interactive session (a notebook, the interpreter's prompt or python -c): there is "
                        "no script to run again"}
    arguments = list(getattr(sys, "orig_argv", sys.argv)[1:])
    found = credentials.in_arguments(arguments)
    if found is not None:
        shown = credentials.redact(arguments[found]).split("=", 1)[0]  # the option's name, never its value
        raise UsageError("command line", f"argument {found + 1}", f"{shown!r} passes a credential; a tracked run records "
                         "its command line (to re-run it) and publishes it, so pass secrets through the environment instead")
    script = Path(sys.modules["__main__"].__file__)
    file = os.path.relpath(script, cwd)
    # The script as a path from the working directory, however it was typed: the command then runs in another clone too.
    named = next((i for i, a in enumerate(arguments) if not a.startswith("-") and Path(cwd, a).resolve() == script.resolve()), None)
    if named is not None:
        arguments[named] = file
    root = audit.repository_root(cwd)
    return {"file": file, "overrides": [], "command": arguments, "cwd": str(cwd),
            "cwd_in_repo": str(cwd.relative_to(root)) if root else None, "python": sys.executable}


def code_record(source: dict) -> dict:
    """The record's `code`: the git facts of the checkout that holds the script, the script's own sha256, and this
    Trainbook's commit when the script lives in another checkout."""
    if not source.get("file"):
        return {**audit.code_facts(Path(source["cwd"])), "script": None}
    script = Path(source["cwd"]) / source["file"]
    facts = audit.code_facts(script.parent)
    facts.update(script=source["file"], script_sha256=sha256_file(script))
    if audit.repository_root(script.parent) != audit.repository_root(audit.REPO_ROOT):
        facts["trainbook"] = audit.code_facts()
    return facts
