"""Reproducing a tracked script's run: the recorded command, run again in the recorded working directory.

`runnable` refuses first what would make the comparison meaningless (a run with no command line, a working
directory that is not here, data whose sha256 changed); `reproduce_script` then starts `python <recorded
arguments>` with $TRAINBOOK_REPRODUCE naming a request file. The script's `trainer.track()` block of the same experiment
reads it (`request_for`): it writes its run into the requested runs folder with the pending `reproduction`
section, is judged against the original before it is sealed (lineage.seal_hook, as an engine's reproduction
is) and names its folder in the answer file (`answer`). Torch-free.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import ConfigError, UsageError
from ..runtime import launch
from ..tracking import audit, layout
from ..tracking.files import sha256_file, write_json
from .results import Interrupted, RunFailed, RunResult

REQUEST = "TRAINBOOK_REPRODUCE"
"""the environment variable naming the request file of a reproduction in progress"""
_taken: set[str] = set()
"""experiments whose request this process has already used (a script may track the same experiment twice)"""


def request_for(experiment: str) -> dict | None:
    """The reproduction request for a `track` block of `experiment` in a script that `reproduce` started, or None."""
    path = os.environ.get(REQUEST)
    if not path or experiment in _taken or launch.rank() != 0:
        return None
    request = json.loads(Path(path).read_text())
    if request.get("experiment") != experiment:
        return None
    _taken.add(experiment)
    return request


def answer(request: dict, run_dir: Path) -> None:
    """Tell the reproducing process which folder the reproduction is in."""
    write_json(Path(request["answer"]), {"run": str(run_dir)})


def working_directory(source: dict, folder: Path) -> Path:
    """The recorded working directory, or the same folder inside this checkout when the run came from another clone."""
    recorded = Path(source.get("cwd") or "")
    if source.get("cwd") and recorded.is_dir():
        return recorded
    root = audit.repository_root(Path.cwd())
    if root is not None and source.get("cwd_in_repo") is not None and (root / source["cwd_in_repo"]).is_dir():
        return root / source["cwd_in_repo"]
    raise UsageError(str(folder / layout.RECORD), "source.cwd", f"{recorded} is not a folder here, nor is "
                     f"{source.get('cwd_in_repo')!r} inside this checkout; run `reproduce` where the script's code is")


def runnable(record: dict, folder: Path) -> Path:
    """The folder to run the recorded command in, once nothing refuses it: a command line was recorded (not an
    interactive session), its folder is here, and every data file is as it was."""
    source = record.get("source") or {}
    if not source.get("command"):
        raise UsageError(str(folder / layout.RECORD), "source.command", source.get("note") or "no command line recorded")
    cwd = working_directory(source, folder)
    same_data(record, cwd, folder)
    return cwd


def code_now(record: dict, cwd: Path) -> dict:
    """The code facts, now, of the checkout the recorded script is in."""
    script = cwd / ((record.get("source") or {}).get("file") or "")
    return audit.code_facts(script.parent if script.parent.is_dir() else cwd)


def same_data(record: dict, cwd: Path, folder: Path) -> None:
    """Refuse (before running anything) when a data file is missing or differs from the recorded one."""
    for i, facts in enumerate((record.get("data") or {}).get("files") or []):
        path = cwd / facts["path"]
        if not path.is_file():
            raise ConfigError(str(folder / layout.RECORD), f"data.files[{i}]", f"{path}: no such file; the run was trained on it")
        if sha256_file(path) != facts["sha256"]:
            raise ConfigError(str(path), "data", f"differs from the run's (sha256 now {sha256_file(path)}, recorded "
                              f"{facts['sha256']}); reproducing on other data would not repeat the run")


def reproduce_script(record: dict, cwd: Path, root: Path, pending: dict, progress: bool) -> RunResult:
    """Run the recorded command again in `cwd` (see `runnable`) and return the reproduction it tracked, judged
    against the original."""
    source = record["source"]
    script = cwd / (source.get("file") or "")
    then = (record.get("code") or {}).get("script_sha256")
    if script.is_file() and then and sha256_file(script) != then:
        pending["differences"].append(f"the script {source['file']} differs from the one that ran (sha256 {then})")
    if progress:
        for warning in pending["differences"]:
            print(f"warning: {warning}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="trainbook-reproduce-") as exchange:
        request = {"experiment": record["experiment"], "runs_dir": str(root.resolve()), "pending": pending,
                   "threads": (record.get("environment") or {}).get("torch_threads"), "answer": str(Path(exchange) / "answer.json")}
        write_json(Path(exchange) / "request.json", request)
        env = {**os.environ, REQUEST: str(Path(exchange) / "request.json")}
        quiet = {} if progress else {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
        done = subprocess.run([sys.executable, *source["command"]], cwd=cwd, env=env, text=True, **quiet)
        answered = Path(request["answer"])
        if not answered.is_file():
            tail = "" if progress else f"; its last output: {(done.stdout or '').strip()[-600:]}"
            raise RunFailed(None, f"the script exited with status {done.returncode} before its trainer.track("
                            f"{record['experiment']!r}) block sealed a run{tail}")
        result = RunResult.open(json.loads(answered.read_text())["run"])
    if result.status == "interrupted":
        raise Interrupted(result, result.reason or "")
    if result.status == "failed":
        raise RunFailed(result, result.reason or "")
    return result
