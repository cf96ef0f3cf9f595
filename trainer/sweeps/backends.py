"""Where a sweep's trials run: as processes on this machine (`local`), or as tasks on a Ray cluster (`ray`).

A trial is a command line (a `python -m trainer ...` process) that writes its run into the runs folder; a
backend only runs it and hands back its exit status. The driver keeps at most `workers` trials in flight
and asks the study for the next one as each ends, so both backends see the same trials in the same order.

On Ray each trial is a task holding `threads` CPUs, started in the same working directory with the same
Python path: the runs folder (and this checkout) must be on storage every node sees at the same path, as
for multi-node torchrun. Torch-free; Ray is imported only by the Ray backend.
"""
from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from ..errors import UsageError

Handle = Any


def trial_process(argv: list[str], cwd: str, env: dict[str, str]) -> int:
    """Run one trial's command line to its end; its exit status. (Runs on a Ray worker, too.)"""
    return subprocess.run([sys.executable, *argv], cwd=cwd, env={**os.environ, **env}).returncode


class Local:
    """Trials as processes of this machine, `workers` at once."""

    name = "local"

    def __init__(self, workers: int):
        self.pool = concurrent.futures.ThreadPoolExecutor(workers)
        self.processes: set[subprocess.Popen] = set()
        self.guard = threading.Lock()

    def _run(self, argv: list[str], cwd: str, env: dict[str, str]) -> int:
        process = subprocess.Popen([sys.executable, *argv], cwd=cwd, env={**os.environ, **env})
        with self.guard:
            self.processes.add(process)
        try:
            return process.wait()
        finally:
            with self.guard:
                self.processes.discard(process)

    def submit(self, argv: list[str], cwd: str, env: dict[str, str]) -> Handle:
        return self.pool.submit(self._run, argv, cwd, env)

    def wait_one(self, handles: list[Handle]) -> list[Handle]:
        done, _ = concurrent.futures.wait(handles, return_when=concurrent.futures.FIRST_COMPLETED)
        return list(done)

    def status(self, handle: Handle) -> int:
        return handle.result()

    def stop(self) -> None:
        """Ask every running trial to stop at its next step (it checkpoints and seals itself interrupted)."""
        with self.guard:
            for process in self.processes:
                process.send_signal(signal.SIGTERM)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


class Ray:
    """Trials as tasks of an existing Ray cluster (`ray start --head` on one machine, `ray start --address` on others)."""

    name = "ray"

    def __init__(self, address: str, threads: int):
        try:
            import ray
        except ImportError:
            raise UsageError("--backend", "ray", "Ray is not installed in this environment (pip install ray==2.60.0)") from None
        self.ray = ray
        root = str(Path(__file__).resolve().parents[2])  # the checkout, importable on every node at the same path
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=True, logging_level="WARNING",
                     runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}})
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise UsageError("--address", address, f"cannot reach a Ray cluster there ({str(e).splitlines()[0]}); start one "
                             "with `ray start --head`, or give its address") from None
        self.task = ray.remote(num_cpus=threads, max_retries=0)(trial_process)

    def submit(self, argv: list[str], cwd: str, env: dict[str, str]) -> Handle:
        return self.task.remote(argv, cwd, env)

    def wait_one(self, handles: list[Handle]) -> list[Handle]:
        done, _ = self.ray.wait(handles, num_returns=1)
        return done

    def status(self, handle: Handle) -> int:
        try:
            return self.ray.get(handle)
        except self.ray.exceptions.RayError as e:  # the node or worker died: the trial's run says what it got to
            print(f"warning: a trial's Ray task failed: {str(e).splitlines()[0]}", file=sys.stderr)
            return 1

    def stop(self) -> None:
        pass  # Ray cancels nothing mid-trial; the trials' runs seal themselves or are resumed later

    def close(self) -> None:
        self.ray.shutdown()


def make(name: str, workers: int, threads: int, address: str | None):
    if name == "ray":
        if not address:
            raise UsageError("--backend ray", "--address", "missing: the address of the Ray cluster's head, e.g. 127.0.0.1:6379")
        return Ray(address, threads)
    return Local(workers)
