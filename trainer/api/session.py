"""The training session `run`, `resume` and `reproduce` share: set the process up, prepare the engine,
train, seal the run, and end every process of it with the same verdict.

This module imports torch; the API reaches it through `runs.session()` once every check that can
refuse without torch has passed. It prints nothing itself but through `progress.note`, which a
library call silences (`trainer.run(..., progress=False)`, the default there).
"""
from __future__ import annotations

import contextlib
import traceback
from pathlib import Path
from types import ModuleType
from typing import Callable

import torch

from .. import config
from ..engines import registry
from ..engines.contract import EngineSpec, TrainingFailed
from ..errors import ConfigError
from ..exporters import mirror
from ..runtime import allocator, determinism, devices, distributed, facts, progress, seeding, stopping
from ..schemas.common import TrackingConfig
from ..tracking import recovery, weights
from ..tracking.files import StorageError
from ..tracking.run import Run
from .results import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, SealFailed

DEFAULT_THREADS = torch.get_num_threads()
"""torch's own thread count for this process (one per core, or OMP_NUM_THREADS), before any run set its own"""

BeforeSeal = Callable[[Run], None]
"""called after the run's final record is complete (artifacts hashed) and before its ledger line is written"""


@contextlib.contextmanager
def around(show_progress: bool):
    """A session inside someone else's process: progress shown only if asked, and the process's torch threads,
    determinism switch and random generators as they were before, whatever the run set them to."""
    threads, deterministic, rng = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), seeding.capture_rng()
    cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    try:
        with progress.shown(show_progress):
            yield
    finally:
        torch.set_num_threads(threads)
        if torch.are_deterministic_algorithms_enabled() != deterministic:
            torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        seeding.restore_rng(rng)


def setup(cfg, spec: EngineSpec, source: str, threads: int | None = None) -> distributed.World:
    """Threads, the allocator, determinism, the process group under torchrun, and this process's device.

    `threads` overrides the config's `train.threads` (a reproduction uses the original run's count)."""
    torch.set_num_threads(threads or cfg.train.threads or DEFAULT_THREADS)  # a run after another starts from the default
    allocator.keep_freed_memory()
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
        progress.note(f"note: run {sealed} had stopped without sealing its record; sealed it as interrupted")
    resolved = config.to_dict(cfg)
    device = str(world.device)
    run = Run.create(
        root, experiment=cfg.name, config=resolved, config_sha256=config.config_sha256(cfg),
        config_yaml=config.dump_yaml(cfg), source=source, overrides=overrides, seeds=config.seeds(resolved),
        data=prepared.data_record,
        extra={"kind": spec.kind, "key_metric": spec.key_metric.as_record(), "engine": registry.engine_record(spec),
               "determinism": determinism.facts(cfg.train.deterministic, device), **(extra or {})},
        facts=facts.torch_facts(device, world.size),
    )
    progress.note(f"run {run.id} started in {run.path}")
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
                why, helps = failure(e)
                if helps:
                    traceback.print_exc()
                distributed.report_failure(f"rank {world.rank} failed: {why}")
            distributed.abandon(EXIT_FAILED)
        return distributed.outcome(code)


def failure(e: Exception) -> tuple[str, bool]:
    """How an unexpected exception reads in the record, and whether its traceback would help: it does for a bug,
    not for a write the system refused or peers that stopped answering (the message says all there is)."""
    if isinstance(e, StorageError):
        return str(e), False
    timeout = distributed.timed_out(e)
    if timeout:
        return timeout, False
    return f"{type(e).__name__}: {e}", True


def train_and_seal(engine: ModuleType, prepared, run: Run, world: distributed.World,
                   resume: dict | None = None, before_seal: BeforeSeal | None = None) -> tuple[int, Exception | None]:
    """Train, then seal the run with how it ended. Returns the exit status every process of the run ends with, and
    the exception that failed it, if one did (the command line prints its traceback; a library call chains it)."""
    metrics, reason, abandoned, error = {}, None, False, None
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
            (own, helps), peer, error = failure(e), distributed.peer_failure(), e
            if peer is None:
                if helps and progress.showing():
                    traceback.print_exc()
                own = f"rank {world.rank} failed: {own}" if world.distributed else own
                distributed.report_failure(own)
            status, reason, abandoned = "failed", peer or own, world.distributed
        peer = distributed.peer_failure() if status == "ok" else None
        if peer:  # another process failed after its last collective with this one
            status, reason = "failed", peer
        try:
            run.conclude(status, metrics, reason)
            if before_seal is not None:
                before_seal(run)
            run.seal()
            sealed = True
        except OSError as e:  # the disk is full, the folder is gone...: the run stays as its last good write left it
            error, sealed = SealFailed(_unsealed(run, e)), False
        if live is not None and sealed:
            live.finish(run.path)
    code = exit_status(run) if sealed else EXIT_FAILED
    distributed.announce(code)
    if abandoned:  # the others may be waiting in a collective this process will never join
        distributed.abandon(code)
    return code, error


def weights_cap_mib(run: Run) -> float:
    """The run's `tracking.weights_max_mib`, as its record holds the resolved config (the default for a schema without it)."""
    tracking = run.record["config"].get("tracking")
    return tracking["weights_max_mib"] if isinstance(tracking, dict) else TrackingConfig.weights_max_mib


def _unsealed(run: Run, e: OSError) -> str:
    """Why a run could not be sealed and what is left of it (the ledger is unchanged)."""
    if not run.path.is_dir():
        return (f"run {run.id} cannot be sealed: its folder {run.path} no longer exists (removed while the run "
                "trained); the ledger is unchanged")
    return (f"run {run.id} could not be sealed: {e}. The ledger is unchanged and the run folder is as its last "
            "successful write left it, so `python -m trainer verify` reports the run as interrupted; once the cause is "
            f"fixed, continue it with: python -m trainer resume {run.path}")


def exit_status(run: Run) -> int:
    """The exit status every process of a sealed run ends with."""
    return {"interrupted": EXIT_INTERRUPTED, "failed": EXIT_FAILED}.get(run.record["status"], EXIT_OK)
