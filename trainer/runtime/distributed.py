"""Data-parallel training under `torchrun`: one process per device, gradients averaged by DDP.

`torchrun --standalone --nproc_per_node=N -m trainer run EXPERIMENT` starts N copies of the
same command; each reads its rank from the environment torchrun sets. Rank 0 alone writes the
run folder, the ledger and the console; the others only train. Without torchrun the world is
one process and nothing here does anything.

How a run ends is agreed through the process group's key-value store, not through a collective,
because a process that fails mid-step leaves the others waiting inside one: a failing process
writes why into the store and leaves (its peers' pending collective then fails at once); rank 0
reads it, seals the run `failed` with that reason, and announces the exit status every process
then ends with.

Every collective, and the wait for rank 0's verdict, gives up after $TRAINBOOK_COLLECTIVE_TIMEOUT_S
seconds (`launch.collective_timeout_s`, default 600): a process that hangs fails the run with that
message instead of holding the others forever. Raise it where rank 0 legitimately works alone for
longer while the others wait (a very long evaluation or final checkpoint). The store lives in the
torchrun process: when torchrun is killed, each process is sent SIGTERM (launch.die_with_launcher),
stops at the next step boundary and rank 0 seals the run `interrupted`; the store's absence then
only means that nobody is left to tell.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

import torch
import torch.distributed as dist

from . import devices, launch


@dataclass
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    @contextlib.contextmanager
    def main_first(self):
        """Rank 0 does the body first (e.g. fills a cache), then the others, who find it done."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def gather(self, obj) -> list:
        """`obj` from every process, by rank (a one-element list when alone)."""
        if not self.distributed:
            return [obj]
        out = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of `value` over all processes (itself when alone)."""
        if not self.distributed:
            return value
        value = value.detach().clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value / self.size


_world = World()
_joined = False  # this process joined a process group: it must leave through `leave`
FAILED_KEY, OUTCOME_KEY = "trainbook/failed", "trainbook/outcome"


def current() -> World:
    return _world


def timed_out(error: BaseException) -> str | None:
    """The failure to record when `error` is a collective that gave up waiting for another process, else None."""
    text = str(error).lower()  # gloo says "Timed out waiting ... for recv" or "Application timeout caused pair closure"
    if "timed out" not in text and "timeout" not in text:
        return None
    return (f"no answer from the other processes for {launch.collective_timeout_s():g} s (${launch.TIMEOUT_VARIABLE}): "
            "one of them hangs or stopped without a word")


def setup(device_name: str) -> World:
    """Join torchrun's process group if there is one, and pick this process's device."""
    global _world, _joined
    size = launch.processes()
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = devices.resolve(device_name, local_rank)
    if size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        limit = timedelta(seconds=launch.collective_timeout_s())
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", timeout=limit)
        _joined = True
    devices.configure(device)
    _world = World(rank, local_rank, size, device)
    return _world


def _store():
    return dist.distributed_c10d._get_default_store() if dist.is_initialized() else None


def _ask(question, unreachable=None):
    """`question(store)`, or `unreachable` when there is no store or it cannot be reached (torchrun, which holds
    it, is gone): then nobody is left to tell or to ask, and each process ends on what it knows itself."""
    store = _store()
    if store is None or launch.launcher_gone():  # asking a store that is gone only makes torch print a warning
        return unreachable
    try:
        return question(store)
    except (RuntimeError, dist.DistError):  # DistNetworkError: the connection to torchrun's store closed
        return unreachable


def report_failure(reason: str) -> None:
    """Tell the other processes why this one cannot go on (the first reason reported is kept)."""
    _ask(lambda store: store.compare_set(FAILED_KEY, "", reason))


def peer_failure() -> str | None:
    """Why another process failed, if one reported it; never waits."""
    return _ask(lambda store: store.get(FAILED_KEY).decode("utf-8", "replace") if store.check([FAILED_KEY]) else None)


def announce(code: int) -> None:
    """Rank 0, after sealing: the exit status every process of this run ends with."""
    _ask(lambda store: store.set(OUTCOME_KEY, str(code)))


def outcome(code: int) -> int:
    """A process other than rank 0, done training with `code`: wait for rank 0's announced status and take the
    worse of the two (rank 0 may have failed after this process's last step). No word from rank 0 within the
    timeout (it hangs or died) is a failure of this process too."""
    def wait(store) -> int:
        store.wait([OUTCOME_KEY], timedelta(seconds=launch.collective_timeout_s()))
        return int(store.get(OUTCOME_KEY))

    announced = _ask(wait)
    if announced is None and _store() is not None and not launch.launcher_gone():
        print(f"rank {_world.rank}: rank 0 did not say how the run ended within {launch.collective_timeout_s():g} s "
              f"(${launch.TIMEOUT_VARIABLE})", file=sys.stderr)
        return max(code, 1)
    return announced if announced else code


def abandon(code: int) -> NoReturn:
    """Leave now, without waiting for the others: a process blocked in a collective with this one then fails
    at once instead of waiting for the group's timeout."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def teardown() -> None:
    global _world
    if dist.is_initialized():
        dist.destroy_process_group()
    _world = World()


def leave(code: int) -> NoReturn:
    """End this process with `code`; after a process group, without the interpreter's finalization.

    DDP keeps gloo's worker and transport threads alive after `destroy_process_group` (they end only
    with the process), and a process that runs the interpreter's finalization beside them while its
    peer is still alive now and then aborts ("terminate called without an active exception",
    SIGABRT), so torchrun reports a finished, sealed run as failed: 6 of 60 two-process launches
    here, 0 of 60 through `leave` (`python -m benchmarks.ddp_exit`). Everything a run keeps is
    written atomically and fsynced before this point, so finalization has nothing left to do but
    flush the console.
    """
    if not _joined:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
