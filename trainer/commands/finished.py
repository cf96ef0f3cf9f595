"""How a command that trains tells a person how its run ended: the lines `run`, `resume` and `reproduce` print,
and the exit status they return, from the run the API sealed (or the exception it raised after sealing)."""
from __future__ import annotations

import sys
from collections.abc import Callable

from .. import api
from ..api import Interrupted, RunFailed, RunResult
from ..api.results import SealFailed
from ..runtime import launch
from ..tracking.files import StorageError
from . import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK


def report(train: Callable[[], RunResult | None]) -> tuple[int, RunResult | None]:
    """Call `train` and say how its run ended: (exit status, the run when it finished)."""
    try:
        result = train()
    except Interrupted as e:
        if e.run is not None:
            print(f"run {e.run.id} interrupted ({e.run.reason}); continue it with: python -m trainer resume {e.run.path}",
                  file=sys.stderr)
        return EXIT_INTERRUPTED, None
    except RunFailed as e:
        if launch.rank() == 0:  # under torchrun, rank 0 says it for every process
            later = ("; nothing it wrote before is lost: once the cause is fixed, continue it from its last checkpoint "
                     f"with: python -m trainer resume {e.run.path}") if e.run and isinstance(e.__cause__, StorageError) else ""
            print(f"error: {e.__cause__}" if isinstance(e.__cause__, SealFailed) else f"{e}{later}", file=sys.stderr)
        return EXIT_FAILED, None
    if result is None:  # a process other than rank 0 under torchrun: rank 0 says it
        return EXIT_OK, None
    if result.status == "pruned":  # a sweep's pruner stopped it on purpose: an answer, not a failure
        print(f"run {result.id} {result.reason}", file=sys.stderr)
        return EXIT_OK, result
    key = result.key_metric[0]
    shown = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()
                      if (k.endswith("_loss") or k == key) and isinstance(v, (int, float)))
    print(f"run {result.id} ok: {shown}", file=sys.stderr)
    return EXIT_OK, result


def train_one(file: str, overrides: list[str], runs_dir: str | None) -> int:
    """`trainer run` for one experiment file: train it, say how its run ended, print its folder; the exit status."""
    code, result = report(lambda: api.run(file, overrides, runs_dir=runs_dir, progress=True))
    if result is not None:
        print(result.path, flush=True)
    return code


def failed_at_end(failed: list[str]) -> int:
    """How `trainer run --keep-going` ends when some experiments failed (each named with its exit)."""
    print(f"trainer run: failed: {', '.join(failed)}; every other experiment was trained", file=sys.stderr)
    return EXIT_FAILED
