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
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
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


def setup(device_name: str) -> World:
    """Join torchrun's process group if there is one, and pick this process's device."""
    global _world, _joined
    size = launch.processes()
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = devices.resolve(device_name, local_rank)
    if size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        _joined = True
    devices.configure(device)
    _world = World(rank, local_rank, size, device)
    return _world


def _store():
    return dist.distributed_c10d._get_default_store() if dist.is_initialized() else None


def report_failure(reason: str) -> None:
    """Tell the other processes why this one cannot go on (the first reason reported is kept)."""
    store = _store()
    if store is not None:
        store.compare_set(FAILED_KEY, "", reason)


def peer_failure() -> str | None:
    """Why another process failed, if one reported it; never waits."""
    store = _store()
    if store is None or not store.check([FAILED_KEY]):
        return None
    return store.get(FAILED_KEY).decode("utf-8", "replace")


def announce(code: int) -> None:
    """Rank 0, after sealing: the exit status every process of this run ends with."""
    store = _store()
    if store is not None:
        store.set(OUTCOME_KEY, str(code))


def outcome(code: int) -> int:
    """A process other than rank 0, done training with `code`: wait for rank 0's announced status and take the
    worse of the two (rank 0 may have failed after this process's last step)."""
    store = _store()
    if store is None:
        return code
    store.wait([OUTCOME_KEY])
    announced = int(store.get(OUTCOME_KEY))
    return announced if announced != 0 else code


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
