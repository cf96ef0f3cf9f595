"""The engine author's kit: everything an engine needs from Trainbook, in one public module.

An engine from another package (entry-point group `trainbook.engines`) and the built-in engines written
only against the public API import from here, from `trainer` itself and, to draw figures in the house
style, from `trainer.figures.style` — never from the modules behind them, so those can move without
breaking anyone's engine. Torch- and matplotlib-free: a spec module that imports it stays light.

    from trainer.plugin import EngineSpec, KeyMetric, ExperimentHeader, LoopConfig, Run, ...

An engine module offers `prepare(cfg, source) -> Prepared` (with `.model` and `.data_record`),
`train(prepared, run, resume) -> final metrics`, and optionally `replay(run_dir, names)`; its spec says
what it is (see EngineSpec's fields). `run` is the run folder being written: write artifacts through it
(`run.write_json`, `run.write_text`, `run.file(name)` for a file written by other means), register figures
with `run.add_figure(name, title, caption)`, log per-step metrics with `MetricsLog(run.file(METRICS))`.
A loop that checks `stop_requested()` after each step and raises `StopRequested` (after saving a checkpoint)
stops cleanly on Ctrl-C or SIGTERM; `Progress` shows its steps on the command line and nothing in a library
call. A page section of the engine's own is a function taking the run's reader, `RunFolder`, and returning
Markdown, named in the spec's `sections` by its import path ("package.module:function").
"""
from __future__ import annotations

from .config import Fraction, NonNegative, Positive, Range, did_you_mean
from .engines.contract import EngineSpec, KeyMetric, TrainingFailed
from .errors import ConfigError, UsageError
from .schemas.common import Count, ExperimentHeader, LoopConfig, OptimConfig, SampleConfig
from .tracking.checkpoint import CheckpointError
from .tracking.checkpoint import load as load_checkpoint
from .tracking.checkpoint import save as save_checkpoint
from .tracking.files import sha256_bytes, sha256_file
from .runtime.progress import Progress
from .runtime.stopping import StopRequested
from .runtime.stopping import requested as stop_requested
from .tracking.layout import BEST, CHECKPOINT, METRICS, SAMPLES, RunFolder
from .tracking.metrics import MetricsLog
from .tracking.run import Run

__all__ = [
    "BEST", "CHECKPOINT", "METRICS", "SAMPLES",
    "CheckpointError", "ConfigError", "Count", "EngineSpec", "ExperimentHeader", "Fraction", "KeyMetric", "LoopConfig",
    "MetricsLog", "NonNegative", "OptimConfig", "Positive", "Progress", "Range", "Run", "RunFolder", "SampleConfig",
    "StopRequested", "TrainingFailed", "UsageError",
    "did_you_mean", "load_checkpoint", "save_checkpoint", "sha256_bytes", "sha256_file", "stop_requested",
]
