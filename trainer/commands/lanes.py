"""`trainer run --jobs N A.yaml B.yaml ...`: the experiments trained N at a time, in N worker processes.

Small experiments leave most of a core idle behind Python's per-operation cost (a policy-gradient agent stepping
its environments, an MLP of a few thousand parameters), so two one-thread runs side by side finish far sooner
than the same two one after the other at two threads each. Each worker is one long-lived process (it imports
torch once) that trains the experiments handed to it one at a time, the next as soon as it is free, so the lanes
stay balanced whatever each experiment costs. A worker's runs use an equal share of the cores as their torch
thread count (OMP_NUM_THREADS, unless it is set already or the config fixes `train.threads`); the record keeps
the count, and `trainer reproduce` trains the run again at it.

The worker protocol is private to this module: one JSON line per experiment on the worker's standard input, one
JSON line per ended run on the pipe named by its argument. Standard output and error are the parent's, so each
run's progress lines (which name their experiment) and its folder's line appear as they happen.
"""
from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
from collections import deque

from . import EXIT_FAILED, EXIT_INTERRUPTED, guarded, share_of_cores
from .finished import failed_at_end, train_one

Experiment = tuple[str, list[str]]
"""an experiment file and its overrides"""


def threads_per_worker(workers: int) -> str:
    """The torch thread count of each worker's runs: the OMP_NUM_THREADS already set, or a share of the cores."""
    return os.environ.get("OMP_NUM_THREADS") or str(share_of_cores(workers))


class _Worker:
    """One `python -m trainer.commands.lanes FD` process and its result pipe."""

    def __init__(self, threads: str):
        read, write = os.pipe()
        self.process = subprocess.Popen([sys.executable, "-m", __name__, str(write)], stdin=subprocess.PIPE, text=True,
                                        pass_fds=(write,), env={**os.environ, "OMP_NUM_THREADS": threads})
        os.close(write)
        self.results = os.fdopen(read)

    def train(self, experiment: Experiment, runs_dir: str | None) -> int | None:
        """Train one experiment; its exit status, or None when the worker died before it said."""
        file, overrides = experiment
        try:
            self.process.stdin.write(json.dumps({"file": file, "overrides": overrides, "runs_dir": runs_dir}) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            return None
        line = self.results.readline()
        return json.loads(line)["code"] if line else None

    def died(self) -> str:
        """How the worker ended, once it died without a result."""
        code = self.process.wait()
        return f"killed by signal {-code}" if code < 0 else f"exit {code}"

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.process.wait()
        self.results.close()


class _Lanes:
    """The queue of experiments and what became of each, shared by one thread per worker."""

    def __init__(self, experiments: list[Experiment], runs_dir: str | None, keep_going: bool, threads: str):
        self.pending, self.runs_dir, self.keep_going, self.threads = deque(experiments), runs_dir, keep_going, threads
        self.guard = threading.Lock()
        self.workers: list[_Worker] = []
        self.stopping = False
        self.failed: list[str] = []
        self.first_failure = 0
        self.interrupted = False

    def _next(self) -> Experiment | None:
        with self.guard:
            return None if self.stopping or not self.pending else self.pending.popleft()

    def _ended(self, file: str, code: int, why: str) -> None:
        with self.guard:
            if code == EXIT_INTERRUPTED:
                self.interrupted = self.stopping = True
                return
            self.failed.append(f"{file} ({why})")
            self.first_failure = self.first_failure or code
            if not self.keep_going:
                self.stopping = True  # the runs already training finish; no new one starts

    def lane(self) -> None:
        worker = None
        while (experiment := self._next()) is not None:
            if worker is None:
                worker = _Worker(self.threads)
                with self.guard:
                    self.workers.append(worker)
            print(f"== {experiment[0]}", file=sys.stderr, flush=True)
            code = worker.train(experiment, self.runs_dir)
            if code is None:
                why = worker.died()
                print(f"trainer run: the process training {experiment[0]} died ({why}); a run folder it left unsealed "
                      "can be continued with trainer resume", file=sys.stderr, flush=True)
                self._ended(experiment[0], EXIT_FAILED, why)
                worker = None
            elif code != 0:
                self._ended(experiment[0], code, f"exit {code}")
        if worker is not None:
            worker.close()

    def stop(self, signum: int, _frame=None) -> None:
        """A signal to this process: no new run starts, and every training run is asked to stop at its next step."""
        with self.guard:
            self.stopping = self.interrupted = True
            workers = list(self.workers)
        for worker in workers:
            worker.signal(signal.SIGTERM)  # not SIGINT: a second Ctrl-C means "stop at once", and Ctrl-C reached them too


def train(experiments: list[Experiment], jobs: int, runs_dir: str | None, keep_going: bool) -> int:
    """Train `experiments` `jobs` at a time; the exit status `trainer run` gives for them."""
    workers = min(jobs, len(experiments))
    lanes = _Lanes(experiments, runs_dir, keep_going, threads_per_worker(workers))
    print(f"trainer run: {len(experiments)} experiments, {workers} at a time, {lanes.threads} torch thread(s) each",
          file=sys.stderr, flush=True)
    previous = {s: signal.signal(s, lanes.stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        threads = [threading.Thread(target=lanes.lane, name=f"lane-{i}") for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if lanes.interrupted:
        return EXIT_INTERRUPTED
    if lanes.failed and not keep_going:
        return lanes.first_failure
    return failed_at_end(lanes.failed) if lanes.failed else 0


def _work(results_fd: int) -> int:
    """A worker: train each experiment read from standard input, in this process, and say how it ended."""
    with os.fdopen(results_fd, "w") as results:
        for line in sys.stdin:
            item = json.loads(line)
            code = guarded(functools.partial(train_one, item["file"], item["overrides"], item["runs_dir"]))
            results.write(json.dumps({"code": code}) + "\n")
            results.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_work(int(sys.argv[1])))
    except KeyboardInterrupt:  # between runs: the parent stops handing out more
        sys.exit(EXIT_INTERRUPTED)
