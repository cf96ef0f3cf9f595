"""`python -m trainer run EXPERIMENT [key=value ...] [EXPERIMENT [key=value ...] ...]`: train each experiment
into a new run folder, one after the other in this process.

Each override applies to the experiment file before it. Every file is loaded and checked before any
training starts, so a typo in the last one refuses the whole command with nothing written. Several
experiments in one process share its start-up (importing torch and its compiler costs seconds per
process); each run still seeds, threads and checks determinism from its own config, so it trains
exactly as it would alone. The first run that does not end ok stops the rest, with its exit status.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from pathlib import Path

from .. import experiments
from ..engines.contract import EngineSpec
from ..errors import UsageError
from ..runtime import launch
from ..tracking import layout, ledger, metrics
from . import folders, session


def ledger_ready(root: Path) -> None:
    """Refuse before training, not after, when the run could not be written or the ledger could not seal it."""
    folders.writable(root, "the runs folder")
    try:
        ledger.check_appendable(root)
    except ledger.LedgerError as e:
        raise UsageError(str(root / layout.LEDGER), "", str(e).split(": ", 1)[1]) from None


def processes_supported(spec: EngineSpec, cfg: object, source: str) -> None:
    """An engine (or setting) that trains in one process is refused under torchrun, before torch, a process group, a
    folder or a line: every process refuses alike at once, so the one that says so is never stopped first."""
    launched = launch.processes()
    if launched <= 1:
        return
    if not spec.multi_process:
        raise UsageError(source, "model.type", f"the {spec.model_type!r} engine trains in one process; this launch has "
                         f"{launched} (run it without torchrun)")
    for key, value in spec.one_process_settings:
        if functools.reduce(getattr, key.split("."), cfg) == value:
            raise UsageError(source, key, f"{value!r} trains in one process; this launch has {launched} (choose "
                             f"another, or run without torchrun)")
    launch.collective_timeout_s()  # a malformed timeout is refused now, not when the process group forms


def experiment_files(first: str, rest: list[str]) -> list[tuple[str, list[str]]]:
    """The command line's experiment files, each with the overrides that follow it."""
    files = [(first, [])]
    for arg in rest:
        if "=" not in arg and arg.endswith(EXPERIMENT_SUFFIXES):
            files.append((arg, []))
        else:
            files[-1][1].append(arg)
    return files


EXPERIMENT_SUFFIXES = (".yaml", ".yml")


def command(args: argparse.Namespace) -> int:
    files = experiment_files(args.file, args.overrides)
    if len(files) > 1 and launch.processes() > 1:
        raise UsageError("command line", "", f"under torchrun, run one experiment per launch (got {len(files)} files)")
    loaded = []
    for file, overrides in files:  # every file checked before anything trains
        cfg = experiments.load(file, overrides)
        spec = experiments.spec(cfg)
        processes_supported(spec, cfg, file)
        loaded.append((file, overrides, cfg, spec))
    root = folders.runs_root(args.runs_dir)
    ledger_ready(root)
    training = session()  # torch only now that the configs are known good: a typo should not wait for it
    for file, overrides, cfg, spec in loaded:
        if len(loaded) > 1:
            print(f"== {file}", file=sys.stderr, flush=True)
        code = train_one(training, root, file, overrides, cfg, spec)
        if code != 0:
            return code
    return 0


def train(cfg, source: str, overrides: list[str], root: Path, extra: dict | None = None,
          listener: metrics.Listener | None = None) -> int:
    """Train one loaded config into a new run folder in `root` (a sweep's trial): `extra` adds record sections,
    `listener` is handed every metrics row as it is logged (the trial's pruner)."""
    spec = experiments.spec(cfg)
    processes_supported(spec, cfg, source)
    ledger_ready(root)
    return train_one(session(), root, source, overrides, cfg, spec, extra=extra, listener=listener)


def train_one(training, root: Path, file: str, overrides: list[str], cfg, spec: EngineSpec, *, extra: dict | None = None,
              listener: metrics.Listener | None = None) -> int:
    world = training.setup(cfg, spec, file)
    try:
        engine = spec.load()
        prepared = training.prepare(engine, cfg, file, world)
        if not world.is_main:  # rank > 0 under torchrun: train, write nothing
            return training.train_other_rank(engine, prepared, world)
        run = training.start_run(root, cfg, spec, prepared, world, source=file, overrides=overrides, extra=extra)
        with metrics.listening(run.file(layout.METRICS), listener) if listener else contextlib.nullcontext():
            return training.train_and_seal(engine, spec, prepared, run, world)
    finally:
        training.distributed.teardown()
