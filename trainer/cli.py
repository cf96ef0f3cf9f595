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
from .tracking import ledger
from .tracking.run import Run, runs_dir

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


def cmd_run(args: argparse.Namespace) -> int:
    cfg = config.load(args.file, args.overrides)
    import torch  # after the config is known good: a typo should not wait for torch to import

    from . import engines, runtime, seeding
    from .engines.lm import TrainingFailed

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    seeding.seed_everything(cfg.seed)
    engine = engines.for_model(cfg.model.type)
    prepared = engine.prepare(cfg, args.file)

    resolved = config.to_dict(cfg)
    run = Run.create(
        runs_dir(args.runs_dir), experiment=cfg.name, config=resolved, config_sha256=config.config_sha256(cfg),
        config_yaml=config.dump_yaml(cfg), source=args.file, overrides=args.overrides,
        seeds=_seeds(resolved), data=prepared.data_record,
    )
    run.record["environment"].update(runtime.torch_facts())
    run.record["kind"] = engine.KIND
    run.record["key_metric"] = engine.KEY_METRIC
    run.save_record()
    print(f"run {run.id} started in {run.path}", file=sys.stderr)
    try:
        metrics = engine.train(prepared, run)
    except KeyboardInterrupt:
        run.finish("interrupted", {}, "interrupted by the user (SIGINT)")
        print(f"run {run.id} interrupted", file=sys.stderr)
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
    shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k.endswith("_loss") or k == engine.KEY_METRIC["name"])
    print(f"run {run.id} ok: {shown}", file=sys.stderr)
    print(run.path)
    return 0


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
