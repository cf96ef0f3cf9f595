"""`python -m trainer resume RUN`: continue an unfinished run in its own folder, from its last checkpoint.

Every check that can refuse happens before the folder is touched: the folder is a run, it did not
finish, its config still loads, its data has the same sha256, and its checkpoint is a Trainbook
checkpoint of this very model (loaded with `weights_only=True`, so a pickled payload is refused,
never run). A run killed before its first checkpoint starts over in its folder, from step 0.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import ConfigError
from ..tracking.files import remove_temporaries, sha256_file
from ..tracking.run import Run, RunBusy
from . import folders, reproduce, training


def resumable(folder: Path) -> dict:
    record = folders.read_record(folder)
    if record.get("status") == "ok":
        raise ConfigError(str(folder / "run.json"), "status", "the run already finished (status ok); there is nothing to resume")
    return record


def same_data(prepared, record: dict, source: str, doing: str = "resuming") -> None:
    """Refuse (before training) when the data is not the data the run was trained on."""
    now, then = prepared.data_record, record.get("data") or {}
    for key in ("sha256", "tokenizer"):
        a, b = now.get(key), then.get(key)
        a, b = (a.get("sha256"), b.get("sha256")) if isinstance(a, dict) and isinstance(b, dict) else (a, b)
        if a != b:
            raise ConfigError(source, f"data.{key}", f"differs from the run's (now {a}, recorded {b}); "
                              f"{doing} on other data would not continue the same run")


def load_checkpoint(folder: Path) -> dict | None:
    """The run's last checkpoint, None when it never wrote one, or a ConfigError when it cannot be used."""
    from ..tracking import checkpoint

    path = folder / checkpoint.LAST
    if not path.exists():
        return None
    try:
        return checkpoint.load(path)
    except checkpoint.CheckpointError as e:
        raise ConfigError(str(path), "", str(e).removeprefix(f"{path}: ")) from None


def fits(prepared, state: dict | None, path: Path) -> None:
    """Refuse a checkpoint of another model (another engine, size or vocabulary) before the folder is touched."""
    if state is None:
        return
    try:
        prepared.model.load_state_dict(state["model"])
    except (KeyError, TypeError, RuntimeError, ValueError) as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
        detail = lines[1] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else lines[0]  # skip torch's header
        detail = detail if len(detail) <= 200 else detail[:200] + "..."
        raise ConfigError(str(path), "", f"was written by another model, not this run's ({detail})") from None


def command(args: argparse.Namespace) -> int:
    folder = Path(args.run)
    record = resumable(folder)
    cfg, config_path = folders.read_config(folder)
    state = load_checkpoint(folder)  # a file that is no checkpoint at all is refused before torch is imported
    from .. import distributed, engines
    from ..tracking import checkpoint

    engine = engines.for_model(cfg.model.type)
    world = training.setup(cfg, str(config_path))
    try:
        prepared = training.prepare(engine, cfg, str(config_path), world)
        same_data(prepared, record, str(config_path))
        fits(prepared, state, folder / checkpoint.LAST)
        if not world.is_main:
            return training.train_other_rank(engine, prepared, state)
        try:
            run = Run.open(folder, claim=True)
        except RunBusy as e:
            raise ConfigError(str(folder), "", str(e)) from None
        remove_temporaries(folder)
        return _continue(engine, prepared, run, state, world)
    finally:
        distributed.teardown()


def _continue(engine, prepared, run: Run, state: dict | None, world) -> int:
    from .. import runtime
    from ..tracking import checkpoint

    step = state["step"] if state else 0
    run.mark_resumed(step=step, checkpoint_sha256=sha256_file(run.file(checkpoint.LAST)) if state else None,
                     elapsed_s=checkpoint.elapsed_s(state) if state else 0.0,
                     facts=runtime.torch_facts(str(world.device), world.size))
    print(f"run {run.id} resumed at step {step} in {run.path}" + ("" if state else " (no checkpoint yet: starting over)"),
          file=sys.stderr)
    return training.train_and_seal(engine, prepared, run, resume=state, before_seal=reproduce.seal_hook(run.record))
