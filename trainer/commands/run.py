"""`python -m trainer run EXPERIMENT [key=value ...]`: train one experiment into a new run folder."""
from __future__ import annotations

import argparse

from .. import config
from ..config import ConfigError
from ..tracking import ledger
from . import folders, training


def ledger_ready(root) -> None:
    """Refuse before training, not after, when the ledger could not seal the run."""
    try:
        ledger.check_appendable(root)
    except ledger.LedgerError as e:
        raise ConfigError(str(root / ledger.LEDGER), "", str(e).split(": ", 1)[1]) from None


def command(args: argparse.Namespace) -> int:
    cfg = config.load(args.file, args.overrides)
    root = folders.runs_root(args.runs_dir)
    ledger_ready(root)
    # torch is imported only after the config is known good: a typo should not wait for it
    from .. import distributed, engines

    world = training.setup(cfg, args.file)
    try:
        engine = engines.for_model(cfg.model.type)
        prepared = training.prepare(engine, cfg, args.file, world)
        if not world.is_main:  # rank > 0 under torchrun: train, write nothing
            return training.train_other_rank(engine, prepared)
        run = training.start_run(root, cfg, engine, prepared, world, source=args.file, overrides=args.overrides)
        return training.train_and_seal(engine, prepared, run)
    finally:
        distributed.teardown()
