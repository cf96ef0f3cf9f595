"""`python -m trainer resume RUN`: continue an unfinished run in its own folder, from its last checkpoint.

Every check that can refuse happens before the folder is touched: the folder is a run, it did not
finish, its engine can resume, its config still loads, its data has the same sha256, and its
checkpoint is a Trainbook checkpoint of this very model (loaded with `weights_only=True`, so a
pickled payload is refused, never run). A run killed before its first checkpoint starts over in its
folder, from step 0.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import experiments
from ..errors import UsageError
from ..tracking import checkpoint, layout
from ..tracking.files import remove_temporaries, sha256_file
from ..tracking.run import Run, RunBusy
from . import folders, lineage, session
from .run import processes_supported


def resumable(folder: Path) -> dict:
    record = folders.read_record(folder)
    if record.get("status") == "ok":
        raise UsageError(str(folder / layout.RECORD), "status", "the run already finished (status ok); there is nothing to resume")
    return record


def load_checkpoint(folder: Path) -> dict | None:
    """The run's last checkpoint, None when it never wrote one, or a UsageError when it cannot be used."""
    path = folder / layout.CHECKPOINT
    if not path.exists():
        return None
    try:
        return checkpoint.load(path)
    except checkpoint.CheckpointError as e:
        raise UsageError(str(path), "", str(e).removeprefix(f"{path}: ")) from None


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
        raise UsageError(str(path), "", f"was written by another model, not this run's ({detail})") from None


def command(args: argparse.Namespace) -> int:
    folder = Path(args.run)
    record = resumable(folder)
    cfg, config_path = folders.read_config(folder)
    spec = experiments.spec(cfg)
    if not spec.resumable:
        raise UsageError(str(folder), "", f"the {spec.model_type!r} engine cannot resume a run; train it again instead")
    processes_supported(spec, cfg, str(config_path))
    state = load_checkpoint(folder)  # a file that is no checkpoint at all is refused before torch is imported
    training = session()
    world = training.setup(cfg, spec, str(config_path))
    try:
        engine = spec.load()
        prepared = training.prepare(engine, cfg, str(config_path), world)
        lineage.same_data(prepared, record, str(config_path))
        fits(prepared, state, folder / layout.CHECKPOINT)
        if not world.is_main:
            return training.train_other_rank(engine, prepared, world, state)
        try:
            run = Run.open(folder, claim=True)
        except RunBusy as e:
            raise UsageError(str(folder), "", str(e)) from None
        remove_temporaries(folder)
        step = state["step"] if state else 0
        run.mark_resumed(step=step, checkpoint_sha256=sha256_file(run.file(layout.CHECKPOINT)) if state else None,
                         elapsed_s=checkpoint.elapsed_s(state) if state else 0.0,
                         facts=training.facts.torch_facts(str(world.device), world.size))
        print(f"run {run.id} resumed at step {step} in {run.path}" + ("" if state else " (no checkpoint yet: starting over)"),
              file=sys.stderr)
        return training.train_and_seal(engine, spec, prepared, run, world, resume=state,
                                       before_seal=lineage.seal_hook(run.record))
    finally:
        training.distributed.teardown()
