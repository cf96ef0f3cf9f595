"""What `run`, `resume` and `reproduce` share: set the process up, prepare the engine, train, seal the run.

torch is imported inside these functions, never at module level, so a command can refuse a bad
config or argument before paying for `import torch`.
"""
from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Callable

from .. import config
from ..config import ConfigError
from ..tracking import recovery
from ..tracking.run import Run
from . import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK

BeforeSeal = Callable[[Run], None]
"""called after the run's final record is complete (artifacts hashed) and before its ledger line is written"""


def seeds(tree: dict, prefix: str = "") -> dict:
    """Every seed in a resolved config, by dotted key, so the record lists them in one place."""
    found = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            found.update(seeds(value, f"{prefix}{key}."))
        elif key == "seed" or key.endswith("_seed"):
            found[f"{prefix}{key}"] = value
    return found


def setup(cfg, source: str, threads: int | None = None):
    """Threads, determinism, the process group under torchrun, and this process's device.

    `threads` overrides the config's `train.threads` (a reproduction uses the original run's count)."""
    import torch

    from .. import determinism, devices, distributed

    count = threads or cfg.train.threads
    if count:
        torch.set_num_threads(count)
    determinism.apply(cfg.train.deterministic)
    try:
        return distributed.setup(getattr(cfg.train, "device", "cpu"))
    except devices.DeviceError as e:
        raise ConfigError(source, "train.device", str(e)) from None


def prepare(engine, cfg, source: str, world):
    from .. import seeding

    seeding.seed_everything(cfg.seed)
    prepared = engine.prepare(cfg, source)
    if world.distributed:
        seeding.seed_rank(cfg.seed, world.rank)
    return prepared


def start_run(root: Path, cfg, engine, prepared, world, *, source: str, overrides: list[str], extra: dict | None = None) -> Run:
    """A new run folder with the record filled in, after sealing any run in `root` that died unsealed."""
    from .. import determinism, runtime

    for sealed in recovery.seal_interrupted(root):
        print(f"note: run {sealed} had stopped without sealing its record; sealed it as interrupted", file=sys.stderr)
    resolved = config.to_dict(cfg)
    device = str(world.device)
    run = Run.create(
        root, experiment=cfg.name, config=resolved, config_sha256=config.config_sha256(cfg),
        config_yaml=config.dump_yaml(cfg), source=source, overrides=overrides, seeds=seeds(resolved),
        data=prepared.data_record,
        extra={"kind": engine.KIND, "key_metric": engine.KEY_METRIC, "determinism": determinism.facts(cfg.train.deterministic, device),
               **(extra or {})},
        facts=runtime.torch_facts(device, world.size),
    )
    print(f"run {run.id} started in {run.path}", file=sys.stderr)
    return run


def train_other_rank(engine, prepared, resume: dict | None = None) -> int:
    """A process other than rank 0 under torchrun: train along, write nothing."""
    from .. import stopping

    with stopping.graceful():
        try:
            engine.train(prepared, None, resume)
        except stopping.StopRequested:
            return EXIT_INTERRUPTED
    return EXIT_OK


def train_and_seal(engine, prepared, run: Run, resume: dict | None = None, before_seal: BeforeSeal | None = None) -> int:
    """Train, then seal the run with how it ended; returns the exit status."""
    from .. import stopping
    from ..engines.lm import TrainingFailed

    metrics, reason = {}, None
    with stopping.graceful():
        try:
            metrics, status = engine.train(prepared, run, resume), "ok"
        except stopping.StopRequested as e:
            status, reason = "interrupted", str(e)
            run.record["stopped_at_step"] = e.step
        except KeyboardInterrupt:
            status, reason = "interrupted", "interrupted by a second SIGINT, at once; the last periodic checkpoint is the resume point"
        except TrainingFailed as e:
            status, reason = "failed", str(e)
            run.record["failed_at_step"] = e.step
        except Exception as e:
            traceback.print_exc()
            status, reason = "failed", f"{type(e).__name__}: {e}"
    run.conclude(status, metrics, reason)
    if before_seal is not None:
        before_seal(run)
    run.seal()
    return _report(engine, run)


def _report(engine, run: Run) -> int:
    status, reason = run.record["status"], run.record["reason"]
    if status == "interrupted":
        print(f"run {run.id} interrupted ({reason}); continue it with: python -m trainer resume {run.path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if status == "failed":
        print(f"run {run.id} failed: {reason}", file=sys.stderr)
        return EXIT_FAILED
    key = engine.KEY_METRIC["name"]
    metrics = run.record["metrics"]
    shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if (k.endswith("_loss") or k == key) and v is not None)
    print(f"run {run.id} ok: {shown}", file=sys.stderr)
    print(run.path)
    return EXIT_OK
