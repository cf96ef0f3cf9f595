"""Training from Python: `run` an experiment file into a new run folder, `resume` an interrupted run, `open_run`.

Each call checks everything that can be refused without torch first (the config, the engine, the runs
folder, the ledger), so a mistake is one UsageError or ConfigError before anything is written and before
torch is imported; then it trains through the session (`session()`, the one gate to torch) and hands back
the sealed run. A run that fails raises RunFailed, one stopped by a signal Interrupted, each after the run is
sealed. Nothing is printed unless `progress=True`; the command line passes True.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from .. import experiments
from ..config import parse_override
from ..engines import registry
from ..engines.contract import EngineSpec
from ..errors import ConfigError, UsageError
from ..runtime import launch
from ..tracking import checkpoint, layout, ledger, metrics, picks
from ..tracking.files import remove_temporaries, sha256_file
from ..tracking.run import Run, RunBusy
from . import folders, lineage
from .results import EXIT_FAILED, EXIT_INTERRUPTED, Interrupted, RunFailed, RunResult, SealFailed

Overrides = Mapping[str, Any] | Sequence[str] | None
"""`{"optim.lr": 0.05}`, or the command line's texts `["optim.lr=0.05"]`"""


def session() -> ModuleType:
    """The training session (api/session.py): the one gate through which the API imports torch."""
    return importlib.import_module(f"{__package__}.session")


def override_texts(overrides: Overrides) -> list[str]:
    """Overrides as the `key=value` texts the record keeps (and `reproduce`, a page's commands, can repeat)."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={_yaml_value(key, value)}" for key, value in overrides.items()]
    if isinstance(overrides, (str, bytes)) or not all(isinstance(o, str) for o in overrides):
        raise UsageError("overrides", "", "expected a mapping of dotted keys to values ({'optim.lr': 0.05}) "
                         "or a list of 'key=value' texts")
    return list(overrides)


def _yaml_value(key: str, value: Any) -> str:
    """`value` as YAML that reads back as the same value (a NumPy scalar counts as the number it holds)."""
    if not isinstance(key, str):
        raise UsageError("overrides", repr(key), "expected a dotted key such as 'optim.lr'")
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError("overrides", key, f"expected a finite number, got {value!r}")
    try:
        text = yaml.safe_dump(value, default_flow_style=True, width=math.inf).strip()
    except yaml.YAMLError:
        raise ConfigError("overrides", key, f"expected a number, text, true/false, null, list or mapping, "
                          f"got {type(value).__name__}") from None
    text = text.removesuffix("...").strip()
    if parse_override(f"{key}={text}")[1] != value:  # e.g. a tuple, which YAML would read back as a list
        raise ConfigError("overrides", key, f"{value!r} does not read back as itself from YAML; pass a plain value")
    return text


def ledger_ready(root: Path) -> None:
    """Refuse before training, not after, when the run could not be written or the ledger could not seal it."""
    folders.writable(root, "the runs folder")
    try:
        ledger.check_appendable(root)
    except ledger.LedgerError as e:
        raise UsageError(str(root / layout.LEDGER), "", str(e).split(": ", 1)[1]) from None


def trainable(spec: EngineSpec, cfg: object, source: str) -> None:
    """Refuse, before torch, an experiment no engine trains here: a tracked script's, or a one-process engine's (or
    setting's) under torchrun, before a process group, a folder or a line: every process refuses alike at once, so
    the one that says so is never stopped first."""
    if spec.tracked:
        raise UsageError(source, "model.type", f"a {spec.model_type!r} run is made by trainer.track() inside your own "
                         "script; run the script (`trainer reproduce` re-runs a recorded one)")
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


def run(experiment: str | Path, overrides: Overrides = None, *, runs_dir: str | Path | None = None,
        progress: bool = False, extra: dict | None = None, listener: metrics.Listener | None = None) -> RunResult | None:
    """Train the experiment file into a new run folder and return it, sealed.

    `overrides` change settings of the file: `{"optim.lr": 0.05, "train.steps": 200}`. `runs_dir` is where the
    run goes (default: $TRAINBOOK_RUNS_DIR, else ./runs). Raises ConfigError for a mistake in the settings
    (nothing written), RunFailed when training fails and Interrupted on a signal (both after sealing the run).
    Under torchrun, rank 0 returns the run and the other processes None. `extra` adds sections to the record and
    `listener` is handed every metrics row as it is logged (a sweep's trial: its tag, and its pruner)."""
    source, texts = str(experiment), override_texts(overrides)
    cfg = experiments.load(experiment, texts)
    spec = experiments.spec(cfg)
    trainable(spec, cfg, source)
    root = folders.runs_root(None if runs_dir is None else str(runs_dir))
    ledger_ready(root)
    training = session()  # torch only now that the config is known good: a typo should not wait for it
    with training.around(progress):
        world = training.setup(cfg, spec, source)
        try:
            engine = registry.load(spec)
            prepared = training.prepare(engine, cfg, source, world)
            if not world.is_main:  # rank > 0 under torchrun: train, write nothing
                return ended(None, training.train_other_rank(engine, prepared, world))
            started = training.start_run(root, cfg, spec, prepared, world, source=source, overrides=texts, extra=extra)
            with metrics.listening(started.file(layout.METRICS), listener) if listener else contextlib.nullcontext():
                return ended(started.path, *training.train_and_seal(engine, prepared, started, world))
        finally:
            training.distributed.teardown()


def ended(folder: Path | None, code: int, error: Exception | None = None) -> RunResult | None:
    """The sealed run, or the exception that says it did not finish (carrying it)."""
    if isinstance(error, SealFailed):  # there is no sealed run to open
        raise RunFailed(None, str(error)) from error
    result = RunResult.open(folder) if folder is not None else None
    reason = result.reason if result else "see rank 0"
    if code == EXIT_INTERRUPTED:
        raise Interrupted(result, reason or "")
    if code == EXIT_FAILED:
        raise RunFailed(result, reason or "") from error
    return result


def open_run(path: str | Path) -> RunResult:
    """The run in folder `path` (e.g. `runs/names-mlp-20260101T120000Z-1a2b3c4`), read without writing anything."""
    return RunResult.open(path)


def _resumable(folder: Path) -> dict:
    record = folders.read_record(folder)
    if record.get("status") == "ok":
        raise UsageError(str(folder / layout.RECORD), "status", "the run already finished (status ok); there is nothing to resume")
    if record.get("status") == "pruned":
        raise UsageError(str(folder / layout.RECORD), "status", "the sweep's pruner stopped this trial on purpose (status "
                         "pruned); there is nothing to resume")
    if record.get("kind") == "sweep":
        raise UsageError(str(folder), "", f"a sweep folder; continue it with: python -m trainer sweep --resume {folder}")
    return record


def _sweep_listener(run: Run) -> metrics.Listener | None:
    """A resumed trial of a sweep reports to the sweep's study again, so its pruner keeps watching it."""
    tag = picks.trial_tag(run.record)
    if tag is None:
        return None
    from ..sweeps import pruning, space  # Optuna: a third of a second at every command's start, for resumed trials only
    folder = run.path.parent / str(tag.get("id"))
    if not (folder / layout.STUDY).is_file():
        return None
    return pruning.reporter(folder, space.load(folder / layout.CONFIG), tag["trial"])


def _last_checkpoint(folder: Path) -> dict | None:
    """The run's last checkpoint, None when it never wrote one, or a UsageError when it cannot be used."""
    path = folder / layout.CHECKPOINT
    if not path.exists():
        return None
    try:
        return checkpoint.load(path)
    except checkpoint.CheckpointError as e:
        raise UsageError(str(path), "", str(e).removeprefix(f"{path}: ")) from None


def _fits(prepared, state: dict | None, path: Path) -> None:
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


def resume(run: str | Path | RunResult, *, progress: bool = False) -> RunResult | None:
    """Continue an interrupted (or crashed) run in its own folder from its last checkpoint; returns it sealed.

    Every check that can refuse happens before the folder is touched: it is a run, it did not finish, its engine
    can resume, its config still loads, its data has the same sha256, and its checkpoint is a Trainbook
    checkpoint of this very model (loaded with `weights_only=True`). A run killed before its first checkpoint
    starts over in its folder, from step 0."""
    folder = run.path if isinstance(run, RunResult) else Path(run)
    record = _resumable(folder)
    folders.writable(folder, "the run folder")
    ledger_ready(folder.parent)
    cfg, config_path = folders.read_config(folder)
    spec, source = experiments.spec(cfg), str(config_path)
    if spec.tracked:
        raise UsageError(str(folder), "", "a tracked script's run is continued by the script, not the trainer; run the "
                         "script again (its checkpoint is the run's checkpoint.pt)")
    if not spec.resumable:
        raise UsageError(str(folder), "", f"the {spec.model_type!r} engine cannot resume a run; train it again instead")
    trainable(spec, cfg, source)
    state = _last_checkpoint(folder)  # a file that is no checkpoint at all is refused before torch is imported
    training = session()
    with training.around(progress):
        world = training.setup(cfg, spec, source)
        try:
            engine = registry.load(spec)
            prepared = training.prepare(engine, cfg, source, world)
            lineage.same_data(prepared, record, source)
            _fits(prepared, state, folder / layout.CHECKPOINT)
            if not world.is_main:
                return ended(None, training.train_other_rank(engine, prepared, world, state))
            continued = _claim(folder)
            step = state["step"] if state else 0
            continued.mark_resumed(step=step, checkpoint_sha256=sha256_file(continued.file(layout.CHECKPOINT)) if state else None,
                                   elapsed_s=checkpoint.elapsed_s(state) if state else 0.0,
                                   facts=training.facts.torch_facts(str(world.device), world.size))
            training.progress.note(f"run {continued.id} resumed at step {step} in {continued.path}"
                                   + ("" if state else " (no checkpoint yet: starting over)"))
            listener = _sweep_listener(continued)
            with metrics.listening(continued.file(layout.METRICS), listener) if listener else contextlib.nullcontext():
                return ended(folder, *training.train_and_seal(engine, prepared, continued, world, resume=state,
                                                              before_seal=lineage.seal_hook(continued.record)))
        finally:
            training.distributed.teardown()


def _claim(folder: Path) -> Run:
    try:
        claimed = Run.open(folder, claim=True)
    except RunBusy as e:
        raise UsageError(str(folder), "", str(e)) from None
    remove_temporaries(folder)
    return claimed
