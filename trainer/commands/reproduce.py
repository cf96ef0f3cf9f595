"""`python -m trainer reproduce RUN`: train a recorded run again from its own record, and say whether it is the same.

The reproduction uses the run's resolved config.yaml (checked against the config sha256 in its
record), so every seed and setting is the original's, and the original's torch thread count unless
the config fixes one. Before training it refuses a run that does not verify against its ledger and
data whose sha256 differs from the recorded one, and it warns about every difference of code (commit,
uncommitted changes) and environment (packages, Python, CPU, device, processes) that could explain
a different result. The reproduction is a new run folder next to the original (or in --runs-dir);
its record gets `reproduction: {of, verdict, ...}` before it is sealed (see reproduction.py), and
the verdict is printed: identical, within tolerance (with the largest deviation), or diverged at
step N. Exit status 1 when it diverged.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import config, experiments
from ..errors import UsageError
from ..tracking import audit, integrity, layout
from ..tracking.files import sha256_file
from . import EXIT_FAILED, EXIT_OK, folders, lineage, session
from .run import ledger_ready, processes_supported


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


def differences(record: dict, cfg) -> list[str]:
    """What differs between the run's code and environment and this one's, each a warning for a person."""
    found = []
    then, now = record.get("code") or {}, audit.code_facts()
    if then.get("commit") != now.get("commit"):
        found.append(f"code commit differs: the run was trained at {then.get('commit')}, this checkout is {now.get('commit')}")
    if then.get("dirty") or now.get("dirty"):
        if then.get("diff_sha256") != now.get("diff_sha256"):
            found.append(f"uncommitted changes differ (the run's diff sha256 {then.get('diff_sha256')}, now {now.get('diff_sha256')})")
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


def command(args: argparse.Namespace) -> int:
    folder = folders.locate(args.run, args.runs_dir)
    record, cfg, config_path, warnings = original(folder)
    root = folders.runs_root(args.runs_dir) if args.runs_dir else folder.parent
    ledger_ready(root)
    spec = experiments.spec(cfg)
    processes_supported(spec, cfg, str(config_path))
    training = session()
    warnings += differences(record, cfg)
    recorded_threads = (record.get("environment") or {}).get("torch_threads")
    world = training.setup(cfg, spec, str(config_path), threads=None if cfg.train.threads else recorded_threads)
    try:
        engine = spec.load()
        prepared = training.prepare(engine, cfg, str(config_path), world)
        lineage.same_data(prepared, record, str(config_path), doing="reproducing")
        if not world.is_main:
            return training.train_other_rank(engine, prepared, world)
        warnings += _runtime_differences(record, world, training.torch.get_num_threads())
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        pending = {"of": folder.name, "folder": str(folder), "original_record_sha256": sha256_file(folder / layout.RECORD),
                   "verdict": None, "differences": warnings, "tolerance": {"rtol": args.rtol, "atol": args.atol}}
        run = training.start_run(root, cfg, spec, prepared, world, source=str(config_path), overrides=[],
                                 extra={"reproduction": pending})
        status = training.train_and_seal(engine, spec, prepared, run, world, before_seal=lineage.seal_hook(run.record))
    finally:
        training.distributed.teardown()
    verdict = (run.record.get("reproduction") or {}).get("verdict")
    return EXIT_FAILED if status == EXIT_OK and verdict == "diverged" else status
