"""`python -m trainer`: run experiments and verify the ledger.

Exit status: 0 success; 1 a run that failed or a verification that found problems;
2 a mistake in the command, the config or the data (nothing is written); 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from . import config
from .config import ConfigError
from .tracking import ledger
from .tracking.files import sha256_file
from .tracking.run import Run, RunBusy, runs_dir

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _seeds(tree: dict, prefix: str = "") -> dict:
    """Every seed in a resolved config, by dotted key, so the record lists them in one place."""
    found = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            found.update(_seeds(value, f"{prefix}{key}."))
        elif key == "seed" or key.endswith("_seed"):
            found[f"{prefix}{key}"] = value
    return found


def _setup(cfg, source: str):
    """Threads, the process group under torchrun, and this process's device; a missing device is a config mistake."""
    import torch

    from . import devices, distributed

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    try:
        return distributed.setup(getattr(cfg.train, "device", "cpu"))
    except devices.DeviceError as e:
        raise ConfigError(source, "train.device", str(e)) from None


def _prepare(engine, cfg, source: str, world):
    from . import seeding

    seeding.seed_everything(cfg.seed)
    prepared = engine.prepare(cfg, source)
    if world.distributed:
        seeding.seed_rank(cfg.seed, world.rank)
    return prepared


def _train(engine, prepared, run: Run, resume: dict | None = None) -> int:
    """Train, then seal the run with how it ended; returns the exit status."""
    from .engines.lm import TrainingFailed

    try:
        metrics = engine.train(prepared, run, resume) if resume is not None else engine.train(prepared, run)
    except KeyboardInterrupt:
        run.finish("interrupted", {}, "interrupted by the user (SIGINT)")
        print(f"run {run.id} interrupted; continue it with: python -m trainer resume {run.path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TrainingFailed as e:
        run.finish("failed", {}, str(e))
        print(f"run {run.id} failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:
        traceback.print_exc()
        run.finish("failed", {}, f"{type(e).__name__}: {e}")
        return EXIT_FAILED
    run.finish("ok", metrics)
    key = engine.KEY_METRIC["name"]
    shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if (k.endswith("_loss") or k == key) and v is not None)
    print(f"run {run.id} ok: {shown}", file=sys.stderr)
    print(run.path)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    cfg = config.load(args.file, args.overrides)
    # torch is imported only after the config is known good: a typo should not wait for it
    from . import distributed, engines, runtime

    world = _setup(cfg, args.file)
    try:
        engine = engines.for_model(cfg.model.type)
        prepared = _prepare(engine, cfg, args.file, world)
        if not world.is_main:  # rank > 0 under torchrun: train, write nothing
            engine.train(prepared, None)
            return 0
        resolved = config.to_dict(cfg)
        run = Run.create(
            runs_dir(args.runs_dir), experiment=cfg.name, config=resolved, config_sha256=config.config_sha256(cfg),
            config_yaml=config.dump_yaml(cfg), source=args.file, overrides=args.overrides,
            seeds=_seeds(resolved), data=prepared.data_record,
        )
        run.record["environment"].update(runtime.torch_facts(str(world.device), world.size))
        run.record["kind"] = engine.KIND
        run.record["key_metric"] = engine.KEY_METRIC
        run.save_record()
        print(f"run {run.id} started in {run.path}", file=sys.stderr)
        return _train(engine, prepared, run)
    finally:
        distributed.teardown()


def _resumable(folder: Path) -> tuple[dict, Path]:
    """The record and config file of an unfinished run folder, or a ConfigError saying why not."""
    record_path, config_path = folder / ledger.RECORD, folder / "config.yaml"
    if not record_path.is_file() or not config_path.is_file():
        raise ConfigError(str(folder), "", "not a run folder (expected run.json and config.yaml in it)")
    try:
        record = json.loads(record_path.read_text())
    except ValueError as e:
        raise ConfigError(str(record_path), "", f"not valid JSON: {e}") from None
    if record.get("status") == "ok":
        raise ConfigError(str(record_path), "status", "the run already finished (status ok); there is nothing to resume")
    return record, config_path


def _same_data(prepared, record: dict, source: str) -> None:
    now, then = prepared.data_record, record.get("data") or {}
    for key in ("sha256", "tokenizer"):
        a, b = now.get(key), then.get(key)
        a, b = (a.get("sha256"), b.get("sha256")) if isinstance(a, dict) and isinstance(b, dict) else (a, b)
        if a != b:
            raise ConfigError(source, f"data.{key}", f"differs from the run's (now {a}, recorded {b}); "
                              "resuming on other data would not continue the same run")


def cmd_resume(args: argparse.Namespace) -> int:
    folder = Path(args.run)
    record, config_path = _resumable(folder)
    cfg = config.from_dict(config.read_yaml(config_path), str(config_path))
    from . import distributed, engines, runtime
    from .tracking import checkpoint

    engine = engines.for_model(cfg.model.type)
    if not getattr(engine, "RESUMABLE", False):
        raise ConfigError(str(config_path), "model.type", f"{cfg.model.type!r} runs cannot be resumed")
    world = _setup(cfg, str(config_path))
    try:
        try:
            state = checkpoint.load(folder / checkpoint.LAST)
        except checkpoint.CheckpointError as e:
            raise ConfigError(str(folder / checkpoint.LAST), "", str(e).removeprefix(f"{folder / checkpoint.LAST}: ")) from None
        prepared = _prepare(engine, cfg, str(config_path), world)
        _same_data(prepared, record, str(config_path))
        if not world.is_main:
            engine.train(prepared, None, state)
            return 0
        try:
            run = Run.open(folder, claim=True)
        except RunBusy as e:
            raise ConfigError(str(folder), "", str(e)) from None
        run.mark_resumed(step=state["step"], checkpoint_sha256=sha256_file(folder / checkpoint.LAST),
                         elapsed_s=state["loop"]["elapsed_s"], facts=runtime.torch_facts(str(world.device), world.size))
        print(f"run {run.id} resumed at step {state['step']} in {run.path}", file=sys.stderr)
        return _train(engine, prepared, run, resume=state)
    finally:
        distributed.teardown()


def cmd_verify(args: argparse.Namespace) -> int:
    root = runs_dir(args.runs_dir)
    checks, chain = ledger.verify(root)
    for problem in chain:
        print(f"LEDGER  {problem}")
    for check in checks:
        print(f"{'ok    ' if check.ok else 'FAILED'}  {check.run}" + ("" if check.ok else ": " + "; ".join(check.problems)))
    bad = len(chain) + sum(not c.ok for c in checks)
    print(f"{len(checks)} runs checked in {root}: {'all verified' if not bad else f'{bad} problem(s)'}", file=sys.stderr)
    return EXIT_FAILED if bad else 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a run's evaluation scenarios from its folder and compare them with the recorded traces."""
    path = Path(args.run)
    run_dir = path if path.is_dir() or "/" in args.run else runs_dir(args.runs_dir) / args.run
    try:
        record = json.loads((run_dir / ledger.RECORD).read_text())
        model_type = record["config"]["model"]["type"]
    except (OSError, ValueError, KeyError, TypeError):
        raise config.ConfigError(str(run_dir), "", "not a run folder (no readable run.json with a config)") from None
    from . import engines
    from .tracking.checkpoint import CheckpointError

    engine = engines.for_model(model_type) if model_type in engines.ENGINES else None
    if not hasattr(engine, "replay"):
        raise config.ConfigError(str(run_dir), "", f"a {record.get('kind') or model_type} run has no scenarios to replay")
    try:
        outcomes = engine.replay(run_dir, args.scenario)
    except CheckpointError as e:
        raise config.ConfigError(str(run_dir), "checkpoint.pt", str(e)) from None
    for name, difference in outcomes:
        print(f"match     {name}: replayed trace is bit-identical to the recorded one" if difference is None
              else f"MISMATCH  {name}: first difference at {difference}")
    bad = sum(d is not None for _, d in outcomes)
    print(f"{len(outcomes)} scenario(s) replayed from {run_dir}: {'all match' if not bad else f'{bad} mismatch(es)'}", file=sys.stderr)
    return EXIT_FAILED if bad else 0
def cmd_gate(args: argparse.Namespace) -> int:
    """Judge the latest run of each experiment against the gates its file declares; exit 1 on any failure."""
    from . import gates

    root, failed = runs_dir(args.runs_dir), 0
    configs = [(file, config.load(file)) for file in args.files]  # every file checked before any verdict
    for file, cfg in configs:
        declared = getattr(cfg, "gates", None) or {}
        if not declared:
            print(f"{cfg.name}: no gates declared in {file}")
            continue
        run_id, record, problems = gates.latest_run(root, cfg.name)
        for problem in problems:
            print(f"FAIL  {cfg.name}: {problem}")
        failed += bool(problems)
        if record is None:
            continue
        for v in gates.judge_all(declared, record):
            print(f"{v.word:4}  {cfg.name}  {v.gate}  (got {v.actual}){'' if v.passed else ': ' + v.reason}  [{run_id}]")
            failed += not v.passed
    print(f"gates: {'all passed' if not failed else f'{failed} failed'} ({len(args.files)} experiment file(s), runs in {root})",
          file=sys.stderr)
    return EXIT_FAILED if failed else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer", description="Run YAML-defined experiments and audit their records.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runs = argparse.ArgumentParser(add_help=False)
    runs.add_argument("--runs-dir", help="folder of runs and the ledger (default: $TRAINBOOK_RUNS_DIR or ./runs)")

    run = sub.add_parser("run", parents=[runs], help="train one experiment; prints the run folder last")
    run.add_argument("file", help="experiment YAML file")
    run.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. optim.lr=0.05")
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser("resume", help="continue an interrupted run from its last checkpoint, in its folder")
    resume.add_argument("run", help="the run folder, e.g. runs/<run id>")
    resume.set_defaults(func=cmd_resume)

    verify = sub.add_parser("verify", parents=[runs], help="check the ledger chain and every run's record and artifacts")
    verify.set_defaults(func=cmd_verify)

    replay = sub.add_parser("replay", parents=[runs], help="replay a run's evaluation scenarios and compare with its traces")
    replay.add_argument("run", help="run folder (or run id under the runs folder)")
    replay.add_argument("--scenario", action="append", metavar="NAME", help="scenario to replay (repeatable; default: all)")
    replay.set_defaults(func=cmd_replay)
    gate = sub.add_parser("gate", parents=[runs], help="check the latest run of each experiment against its declared gates")
    gate.add_argument("files", nargs="+", metavar="file", help="experiment YAML files whose gates to check")
    gate.set_defaults(func=cmd_gate)
    return p



def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except config.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
