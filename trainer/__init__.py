"""Trainbook's trainer: YAML experiments in, audited run folders out.

`import trainer` is the Python API (trainer/api/): `trainer.run`, `resume`, `reproduce`, `verify`, `open_run`,
`gate`, `replay`, and `trainer.track` for a training script of your own. `python -m trainer` is the command
line over it; `trainer.plugin` is the kit an engine of another package imports from. Torch-free: torch is
imported when a run starts.
"""
from .api import (ConfigError, EngineError, GateReport, Interrupted, RunFailed, RunResult, TrackedRun, UsageError,
                  Verification, gate, open_run, replay, reproduce, resume, run, track, verify)

__all__ = [
    "ConfigError", "EngineError", "GateReport", "Interrupted", "RunFailed", "RunResult", "TrackedRun", "UsageError",
    "Verification", "gate", "open_run", "replay", "reproduce", "resume", "run", "track", "verify",
]
