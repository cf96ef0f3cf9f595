"""The training session `run`, `resume` and `reproduce` share: set the process up, prepare the engine,
train, seal the run, and end every process of it with the same verdict.

This module imports torch; the commands reach it through `commands.session()` once every check that
can refuse without torch has passed.
"""
from __future__ import annotations

import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Callable

import torch

from .. import config
from ..engines.contract import EngineSpec, TrainingFailed
from ..errors import ConfigError
from ..exporters import mirror
from ..runtime import determinism, devices, distributed, facts, seeding, stopping
from ..schemas.common import TrackingConfig
from ..tracking import recovery, weights
from ..tracking.run import Run
from . import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK

BeforeSeal = Callable[[Run], None]
"""called after the run's final record is complete (artifacts hashed) and before its ledger line is written"""


def setup(cfg, spec: EngineSpec, source: str, threads: int | None = None) -> distributed.World:
    """Threads, determinism, the process group under torchrun, and this process's device.

    `threads` overrides the config's `train.threads` (a reproduction uses the original run's count)."""
    count = threads or cfg.train.threads
    if count:
        torch.set_num_threads(count)
    determinism.apply(cfg.train.deterministic)
    try:
        return distributed.setup(getattr(cfg.train, "device", "cpu"))
    except devices.DeviceError as e:
        raise ConfigError(source, "train.device", str(e)) from None


def prepare(engine: ModuleType, cfg, source: str, world: distributed.World):
    seeding.seed_everything(cfg.seed)
    prepared = engine.prepare(cfg, source)
    if world.distributed:
        seeding.seed_rank(cfg.seed, world.rank)
    return prepared


def start_run(root: Path, cfg, spec: EngineSpec, prepared, world: distributed.World, *, source: str, overrides: list[str],
              extra: dict | None = None) -> Run:
    """A new run folder with the record filled in, after sealing any run in `root` that died unsealed."""
    for sealed in recovery.seal_interrupted(root):
        print(f"note: run {sealed} had stopped without sealing its record; sealed it as interrupted", file=sys.stderr)
    resolved = config.to_dict(cfg)
    device = str(world.device)
    run = Run.create(
        root, experiment=cfg.name, config=resolved, config_sha256=config.config_sha256(cfg),
        config_yaml=config.dump_yaml(cfg), source=source, overrides=overrides, seeds=config.seeds(resolved),
        data=prepared.data_record,
        extra={"kind": spec.kind, "key_metric": spec.key_metric.as_record(),
               "determinism": determinism.facts(cfg.train.deterministic, device), **(extra or {})},
        facts=facts.torch_facts(device, world.size),
    )
    print(f"run {run.id} started in {run.path}", file=sys.stderr)
    return run


def train_other_rank(engine: ModuleType, prepared, world: distributed.World, resume: dict | None = None) -> int:
    """A process other than rank 0 under torchrun: train along, write nothing, end as rank 0 says."""
    with stopping.graceful():
        try:
            engine.train(prepared, None, resume)
            code = EXIT_OK
        except stopping.StopRequested:
            code = EXIT_INTERRUPTED  # every process stops at the same step (stopping.requested agrees)
        except TrainingFailed:
            code = EXIT_FAILED  # seen by every process alike (the loss and gradients are all-reduced)
        except Exception as e:
            if distributed.peer_failure() is None:  # not merely the echo of another process's failure
                traceback.print_exc()
                distributed.report_failure(f"rank {world.rank} failed: {type(e).__name__}: {e}")
            distributed.abandon(EXIT_FAILED)
        return distributed.outcome(code)


def train_and_seal(engine: ModuleType, spec: EngineSpec, prepared, run: Run, world: distributed.World,
                   resume: dict | None = None, before_seal: BeforeSeal | None = None) -> int:
    """Train, then seal the run with how it ended; returns the exit status every process of the run ends with."""
    metrics, reason, abandoned = {}, None, False
    with mirror.mirrored(run) as live, stopping.graceful():  # a signal while sealing waits for the seal
        try:
            metrics, status = engine.train(prepared, run, resume), "ok"
            weights.export(run, prepared.model.state_dict(), weights_cap_mib(run))
        except stopping.StopRequested as e:
            status, reason = "interrupted", str(e)
            run.record["stopped_at_step"] = e.step
        except KeyboardInterrupt:
            status, reason = "interrupted", "interrupted by a second SIGINT, at once; the last periodic checkpoint is the resume point"
        except TrainingFailed as e:
            status, reason = "failed", str(e)
            run.record["failed_at_step"] = e.step
        except Exception as e:
            peer, own = distributed.peer_failure(), f"{type(e).__name__}: {e}"
            if peer is None:
                traceback.print_exc()
                own = f"rank {world.rank} failed: {own}" if world.distributed else own
                distributed.report_failure(own)
            status, reason, abandoned = "failed", peer or own, world.distributed
        peer = distributed.peer_failure() if status == "ok" else None
        if peer:  # another process failed after its last collective with this one
            status, reason = "failed", peer
        run.conclude(status, metrics, reason)
        if before_seal is not None:
            before_seal(run)
        run.seal()
        if live is not None:
            live.finish(run.path)
    code = _report(spec, run)
    distributed.announce(code)
    if abandoned:  # the others may be waiting in a collective this process will never join
        distributed.abandon(code)
    return code


def weights_cap_mib(run: Run) -> float:
    """The run's `tracking.weights_max_mib`, as its record holds the resolved config (the default for a schema without it)."""
    tracking = run.record["config"].get("tracking")
    return tracking["weights_max_mib"] if isinstance(tracking, dict) else TrackingConfig.weights_max_mib


def _report(spec: EngineSpec, run: Run) -> int:
    status, reason = run.record["status"], run.record["reason"]
    if status == "interrupted":
        print(f"run {run.id} interrupted ({reason}); continue it with: python -m trainer resume {run.path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if status == "failed":
        print(f"run {run.id} failed: {reason}", file=sys.stderr)
        return EXIT_FAILED
    key = spec.key_metric.name
    metrics = run.record["metrics"]
    shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if (k.endswith("_loss") or k == key) and v is not None)
    print(f"run {run.id} ok: {shown}", file=sys.stderr)
    print(run.path)
    return EXIT_OK
