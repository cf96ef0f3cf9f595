"""`reproduce`: train a recorded run again from its own record, and say whether it is the same run.

An engine's run is trained again from its resolved config.yaml (checked against the config sha256 in its
record), so every seed and setting is the original's, and at the original's torch thread count unless the
config fixes one; a tracked script's run is re-run by its recorded command line (`rerun.py`). Before training,
a run that does not verify against its ledger is refused, and so is data whose sha256 differs from the
recorded one; every difference of code (commit, uncommitted changes, the engine's package) and environment
(packages, Python, CPU, device, processes) that could explain a different result is kept as a warning. The
reproduction is a new run folder next to the original (or in `runs_dir`); its record gets
`reproduction: {of, verdict, summary, differences, ...}` before it is sealed (see trainer/reproduction.py).
"""
from __future__ import annotations

import math
from pathlib import Path

from .. import config, experiments, reproduction
from ..engines import registry
from ..errors import UsageError
from ..tracking import audit, integrity, layout, picks
from ..tracking.files import sha256_file
from . import folders, lineage, rerun
from .results import RunResult
from .runs import ended, ledger_ready, session, trainable


def _verified(folder: Path) -> str | None:
    """Refuse an original that no longer matches its ledger; returns a warning when no ledger seals it."""
    entries, _ = integrity.parse(folder.parent)
    entry = next((e for e in reversed(entries) if e["run"] == folder.name), None)
    if entry is None:
        return f"run {folder.name} is not sealed in {folder.parent / layout.LEDGER}; its record cannot be verified"
    problems = integrity.check_run(folder, entry)
    if problems:
        raise UsageError(str(folder), "", f"does not verify ({'; '.join(problems)}); reproducing a changed record proves nothing")
    return None


def original(folder: Path) -> tuple[dict, object, Path, list[str]]:
    """The original's record, config and config path, and warnings; a UsageError when it cannot be reproduced."""
    record = folders.read_record(folder)
    if record.get("status") != "ok":
        raise UsageError(str(folder / layout.RECORD), "status", f"the run {record.get('status')}; only a finished run (ok) "
                         "can be reproduced")
    cfg, config_path = folders.read_config(folder)
    # The file's own bytes, not the config rebuilt from them: config.yaml is what config_sha256 hashed when the
    # run started, whatever order the schema of this checkout gives the fields.
    if sha256_file(config_path) != record.get("config_sha256"):
        raise UsageError(str(config_path), "", f"differs from the config sha256 in {layout.RECORD} (edited after the run?)")
    warning = _verified(folder)
    return record, cfg, config_path, [warning] if warning else []


def differences(record: dict, cfg, code_now: dict | None = None) -> list[str]:
    """What differs between the run's code and environment and this one's, each a warning for a person.
    `code_now`: the code facts to compare with (default: this checkout's; a tracked script's own checkout's)."""
    found = []
    then, now = record.get("code") or {}, code_now or audit.code_facts()
    if then.get("commit") != now.get("commit"):
        found.append(f"code commit differs: the run was trained at {then.get('commit')}, this checkout is {now.get('commit')}")
    if then.get("dirty") or now.get("dirty"):
        if then.get("diff_sha256") != now.get("diff_sha256"):
            found.append(f"uncommitted changes differ (the run's diff sha256 {then.get('diff_sha256')}, now {now.get('diff_sha256')})")
    found += _engine_differences(record.get("engine") or {}, experiments.spec(cfg))
    env, here = record.get("environment") or {}, audit.environment_facts()
    for name, version in sorted((env.get("packages") or {}).items()):
        if here["packages"].get(name) != version:
            found.append(f"package {name} differs: the run had {version}, this environment has {here['packages'].get(name)}")
    for key in ("python", "cpu", "machine"):
        if env.get(key) != here.get(key):
            found.append(f"{key} differs: the run had {env.get(key)!r}, this machine has {here.get(key)!r}")
    if config.seeds(config.to_dict(cfg)) != record.get("seeds"):
        found.append(f"the seeds in {layout.CONFIG} differ from the seeds in {layout.RECORD}")
    return found


def _engine_differences(then: dict, spec) -> list[str]:
    """A plugin engine's package, version or source that is not the one the run was trained with."""
    if not then or then.get("found_by") == "built-in":
        return []
    now, found = registry.engine_record(spec), []
    for key, what in (("package", "package"), ("version", "version"), ("source_sha256", "source sha256")):
        if then.get(key) != now.get(key):
            found.append(f"the engine's {what} differs: the run was trained by {then.get(key)}, this one by {now.get(key)}")
    return found


def _runtime_differences(record: dict, world, threads: int) -> list[str]:
    env, found = record.get("environment") or {}, []
    if env.get("device", "cpu") != str(world.device):
        found.append(f"device differs: the run trained on {env.get('device')}, this one on {world.device}")
    if (env.get("world_size") or 1) != world.size:
        found.append(f"processes differ: the run had {env.get('world_size')}, this one has {world.size}")
    if env.get("torch_threads") and env["torch_threads"] != threads:
        found.append(f"torch threads differ: the run used {env['torch_threads']}, this one {threads} "
                     "(CPU arithmetic is bit-identical only at the same thread count)")
    return found


def reproduce(run: str | Path | RunResult, *, runs_dir: str | Path | None = None, rtol: float = reproduction.RTOL,
              atol: float = reproduction.ATOL, progress: bool = False) -> RunResult | None:
    """Train a finished run again into a new folder and return the reproduction, whose `verdict` is identical,
    within tolerance (every metric within `rtol`/`atol`) or diverged, and whose `reproduction["differences"]`
    lists what differs in code and environment.

    `run` is a run folder (or a run id under the runs folder); the new run goes next to it unless `runs_dir`.
    A diverged reproduction is returned, not raised; one whose training fails raises RunFailed."""
    folder = run.path if isinstance(run, RunResult) else folders.locate(str(run), None if runs_dir is None else str(runs_dir))
    for tolerance in (rtol, atol):
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not math.isfinite(tolerance) or tolerance < 0:
            raise UsageError("reproduce", "rtol/atol", f"expected a finite number >= 0, got {tolerance!r}")
    record, cfg, config_path, warnings = original(folder)
    root = folders.runs_root(str(runs_dir)) if runs_dir is not None else folder.parent
    ledger_ready(root)
    spec = experiments.spec(cfg)
    pending = {"of": folder.name, "folder": str(folder), "original_record_sha256": sha256_file(folder / layout.RECORD),
               "verdict": None, "differences": warnings, "tolerance": {"rtol": rtol, "atol": atol}}
    trial = picks.trial_tag(record)
    if trial is not None:  # a variant of its experiment, as the trial was
        pending["trial_of"] = trial.get("id")
    if spec.tracked:
        cwd = rerun.runnable(record, folder)
        warnings += differences(record, cfg, rerun.code_now(record, cwd))
        return rerun.reproduce_script(record, cwd, root, pending, progress)
    trainable(spec, cfg, str(config_path))
    return _retrain(folder, record, cfg, spec, str(config_path), root, pending, progress)


def _retrain(folder: Path, record: dict, cfg, spec, source: str, root: Path, pending: dict, progress: bool) -> RunResult | None:
    training = session()
    warnings = pending["differences"]
    warnings += differences(record, cfg)
    recorded_threads = (record.get("environment") or {}).get("torch_threads")
    with training.around(progress):
        world = training.setup(cfg, spec, source, threads=None if cfg.train.threads else recorded_threads)
        try:
            engine = registry.load(spec)
            prepared = training.prepare(engine, cfg, source, world)
            lineage.same_data(prepared, record, source, doing="reproducing")
            if not world.is_main:
                return ended(None, training.train_other_rank(engine, prepared, world))
            warnings += _runtime_differences(record, world, training.torch.get_num_threads())
            for warning in warnings:
                training.progress.note(f"warning: {warning}")
            started = training.start_run(root, cfg, spec, prepared, world, source=source, overrides=[],
                                         extra={"reproduction": pending})
            return ended(started.path, *training.train_and_seal(engine, prepared, started, world,
                                                                before_seal=lineage.seal_hook(started.record)))
        finally:
            training.distributed.teardown()
