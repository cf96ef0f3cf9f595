"""`python -m trainer run EXPERIMENT [key=value ...]`: train one experiment into a new run folder."""
from __future__ import annotations

import argparse
import functools
from pathlib import Path

from .. import experiments
from ..engines.contract import EngineSpec
from ..errors import UsageError
from ..runtime import launch
from ..tracking import layout, ledger
from . import folders, session


def ledger_ready(root: Path) -> None:
    """Refuse before training, not after, when the ledger could not seal the run."""
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


def command(args: argparse.Namespace) -> int:
    cfg = experiments.load(args.file, args.overrides)
    spec = experiments.spec(cfg)
    processes_supported(spec, cfg, args.file)
    root = folders.runs_root(args.runs_dir)
    ledger_ready(root)
    training = session()  # torch only now that the config is known good: a typo should not wait for it
    world = training.setup(cfg, spec, args.file)
    try:
        engine = spec.load()
        prepared = training.prepare(engine, cfg, args.file, world)
        if not world.is_main:  # rank > 0 under torchrun: train, write nothing
            return training.train_other_rank(engine, prepared, world)
        run = training.start_run(root, cfg, spec, prepared, world, source=args.file, overrides=args.overrides)
        return training.train_and_seal(engine, spec, prepared, run, world)
    finally:
        training.distributed.teardown()
