"""Trainbook's trainer: YAML experiments in, audited run folders out.

`import trainer` is the Python API (trainer/api/): `trainer.run`, `resume`, `reproduce`, `verify`, `open_run`,
`gate`, `replay`, and `trainer.track` for a training script of your own. `python -m trainer` is the command
line over it; `trainer.plugin` is the kit an engine of another package imports from. Torch-free: torch is
imported when a run starts.

The API's names are imported on first use (PEP 562): the generators and the other commands import parts of the
trainer (its file formats, the ledger) on every publish, and need not pay for the whole API each time.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = [
    "ConfigError", "EngineError", "GateReport", "Interrupted", "RunFailed", "RunResult", "TrackedRun", "UsageError",
    "Verification", "gate", "open_run", "replay", "reproduce", "resume", "run", "track", "verify",
]

if TYPE_CHECKING:
    from .api import (ConfigError, EngineError, GateReport, Interrupted, RunFailed, RunResult, TrackedRun, UsageError,
                      Verification, gate, open_run, replay, reproduce, resume, run, track, verify)


def __getattr__(name: str):
    if name in __all__:
        value = getattr(importlib.import_module(".api", __name__), name)
        globals()[name] = value  # once imported, an ordinary attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
