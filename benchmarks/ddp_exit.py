"""How often a two-process gloo + DDP job aborts on its way out, with and without `distributed.leave`.

    python -m benchmarks.ddp_exit --launches 100

Each launch starts two processes that build a DDP model, train three steps, gather an object and
all-reduce a tensor (what a Trainbook run does last), destroy the process group, and exit while the
other rank is still busy for a moment (rank 0 sealing the run). `exit` ends them with `sys.exit`,
as Python normally would; `leave` with `trainer.runtime.distributed.leave`. An abort is a process whose
output says "terminate called" (the C++ runtime's message before SIGABRT). Launches alternate
between the two ways, so both see the same machine load.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def worker(way: str) -> None:
    import torch
    import torch.distributed as dist

    from trainer.runtime import distributed

    distributed.setup("cpu")
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 1))
    for _ in range(3):
        model(torch.ones(2, 3)).sum().backward()
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, {"rng": torch.get_rng_state()})
    total = torch.ones(4)
    dist.all_reduce(total)
    assert total.sum().item() == 8
    if dist.get_rank() == 0:  # the other rank leaves while this one still works, as after a run
        sum(i * i for i in range(2_000_000))
    distributed.teardown()
    if way == "leave":
        distributed.leave(0)
    sys.exit(0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(way: str) -> int:
    """Aborted processes in one two-process launch."""
    port = free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.ddp_exit", "--worker", way], cwd=REPO,
                              env={**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2",
                                   "RANK": str(rank), "LOCAL_RANK": str(rank), "OMP_NUM_THREADS": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    return sum("terminate called" in out or p.returncode == -6 for p, out in zip(procs, outputs))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--launches", type=int, default=50, help="launches for each way of exiting")
    p.add_argument("--worker", choices=["exit", "leave"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker)
    aborts = {"exit": 0, "leave": 0}
    for i in range(args.launches):
        for way in aborts:
            aborts[way] += launch(way)
        print(f"\r{i + 1}/{args.launches} launches each: {aborts}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    for way, count in aborts.items():
        print(f"{way:>5}: {count} aborted processes in {args.launches} two-process launches")


if __name__ == "__main__":
    main()
