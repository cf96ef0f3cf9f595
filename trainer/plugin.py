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

A training loop builds its optimiser from the experiment's `OptimConfig` with `make_optimizer`, follows its
schedule with `lr_at` and `set_lr` and its gradient clipping with `optimizer_step`, as the built-in loops do.
After each step it calls `step_boundary(done, total, checkpoint_interval, save)`, which saves on the checkpoint
cadence and, when a signal asked to stop, saves there and raises `StopRequested`: the run is sealed as
interrupted and `trainer resume` continues it (a loop of its own looks at `stop_requested()` and raises
`StopRequested(message, step)` itself). `Progress` shows its steps on the command line and nothing in a
library call. A page section of the engine's own is a function taking the run's reader, `RunFolder`, and
returning Markdown, named in the spec's `sections` by its import path ("package.module:function").
"""
from __future__ import annotations

from .config import Fraction, NonNegative, Positive, Range, did_you_mean
from .data.cache import DownloadError, download
from .engines.contract import EngineSpec, KeyMetric, TrainingFailed
from .errors import ConfigError, UsageError
from .loop.optim import lr_at, make_optimizer, optimizer_step, set_lr
from .runtime.progress import Progress
from .runtime.stopping import StopRequested, step_boundary
from .runtime.stopping import requested as stop_requested
from .schemas.common import Count, ExperimentHeader, LoopConfig, OptimConfig, SampleConfig, check_download
from .tracking.checkpoint import CheckpointError
from .tracking.checkpoint import load as load_checkpoint
from .tracking.checkpoint import save as save_checkpoint
from .tracking.files import sha256_bytes, sha256_file
from .tracking.layout import BEST, CHECKPOINT, METRICS, SAMPLES, RunFolder
from .tracking.metrics import MetricsLog
from .tracking.run import Run

__all__ = [
    "BEST", "CHECKPOINT", "METRICS", "SAMPLES",
    "CheckpointError", "ConfigError", "Count", "DownloadError", "EngineSpec", "ExperimentHeader", "Fraction", "KeyMetric",
    "LoopConfig", "MetricsLog", "NonNegative", "OptimConfig", "Positive", "Progress", "Range", "Run", "RunFolder",
    "SampleConfig", "StopRequested", "TrainingFailed", "UsageError",
    "check_download", "did_you_mean", "download", "load_checkpoint", "lr_at", "make_optimizer", "optimizer_step",
    "save_checkpoint", "set_lr", "sha256_bytes", "sha256_file", "step_boundary", "stop_requested",
]
