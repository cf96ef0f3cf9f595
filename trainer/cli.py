"""`python -m trainer`: the command line. Each command lives in its own module in `trainer/commands/`.

Exit status: 0 success; 1 a run that failed, a verification or reproduction that found a difference,
a failed gate, or a write the system refused (a full disk, an I/O error); 2 a mistake in the command,
the config, the data or a run folder (nothing is written); 130 interrupted.
"""
from __future__ import annotations

import argparse
import math

from . import credentials
from .commands import (EXIT_USAGE, evaluate, export, gate, guarded, loading, replay, reproduce, resume, run, sample, sweep,
                       trial, verify)
from .runtime import launch


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (`error: ...`) and exit status 2, like every other input mistake."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"error: {credentials.redact(message)} (see: {self.prog} --help)\n")


def _number(text: str, kind: type, accept, wanted: str):
    """`text` as a `kind` that `accept`s it, else an argparse error saying what is `wanted` (the type first, then its range)."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted.replace('finite ', '')}, got {text!r}") from None
    if not accept(value):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    return value


def tolerance(text: str) -> float:
    """A tolerance for comparing runs: a finite number >= 0 (a negative one would make every run differ)."""
    return _number(text, float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def count(text: str) -> int:
    """A count: a whole number >= 1."""
    return _number(text, int, lambda v: v >= 1, "a whole number >= 1")


def positive(text: str) -> float:
    """A finite number > 0 (a temperature)."""
    return _number(text, float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m trainer", description="Run YAML-defined experiments and audit their records.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runs = argparse.ArgumentParser(add_help=False)
    runs.add_argument("--runs-dir", help="folder of runs and the ledger (default: $TRAINBOOK_RUNS_DIR or ./runs)")

    c = sub.add_parser("run", parents=[runs], help="train experiments, one after the other in this process unless --jobs; "
                       "prints each run folder on a line of its own")
    c.add_argument("file", help="experiment YAML file")
    c.add_argument("overrides", nargs="*", metavar="key=value | FILE",
                   help="config overrides for the file before them, e.g. optim.lr=0.05; further experiment files (.yaml), "
                        "each followed by its own overrides")
    c.add_argument("--keep-going", action="store_true", help="train the other experiments after one fails (not after an "
                   "interrupted one); exit 1 at the end, naming the failures")
    c.add_argument("--jobs", type=count, default=1, metavar="N",
                   help="train N experiments at a time, each in a worker process with 1/N of the cores as its torch "
                        "threads (default 1: one after the other in this process)")
    c.set_defaults(func=run.command)

    c = sub.add_parser("resume", help="continue an interrupted run from its last checkpoint, in its folder")
    c.add_argument("run", help="the run folder, e.g. runs/<run id>")
    c.set_defaults(func=resume.command)

    c = sub.add_parser("reproduce", parents=[runs], help="train a recorded run again into a new folder and compare the two")
    c.add_argument("run", help="the run folder (or a run id under the runs folder); the new run goes next to it unless --runs-dir")
    c.add_argument("--rtol", type=tolerance, default=1e-4, help="relative tolerance for 'within tolerance' (default: 1e-4)")
    c.add_argument("--atol", type=tolerance, default=1e-7, help="absolute tolerance for 'within tolerance' (default: 1e-7)")
    c.set_defaults(func=reproduce.command)

    c = sub.add_parser("verify", parents=[runs], help="check the ledger chain and every run's record and artifacts")
    c.set_defaults(func=verify.command)

    c = sub.add_parser("replay", parents=[runs], help="replay a run's evaluation scenarios and compare with its traces")
    c.add_argument("run", help="run folder (or run id under the runs folder)")
    c.add_argument("--scenario", action="append", metavar="NAME", help="scenario to replay (repeatable; default: all)")
    c.set_defaults(func=replay.command)

    c = sub.add_parser("sweep", parents=[runs], help="search an experiment's settings (a sweep file); every trial is a sealed run")
    c.add_argument("file", nargs="?", help="sweep YAML file (see experiments/sweeps/)")
    c.add_argument("--resume", metavar="SWEEP", help="continue a stopped or killed sweep from its folder")
    c.add_argument("--workers", type=count, help="trials at once (default: the file's workers, else 1)")
    c.add_argument("--backend", choices=("local", "ray"), default="local", help="where trials run (default: local processes)")
    c.add_argument("--address", help="with --backend ray: the Ray cluster's head, e.g. 127.0.0.1:6379")
    c.set_defaults(func=sweep.command)

    c = sub.add_parser("trial", help="train one trial of a sweep (what a sweep's workers run)")
    c.add_argument("sweep", help="the sweep's folder")
    c.add_argument("number", type=int, help="the trial's number in the sweep's study")
    c.add_argument("--threads", type=count, help="torch threads for this trial (the sweep's share per worker)")
    c.set_defaults(func=trial.command)

    c = sub.add_parser("gate", parents=[runs], help="check the latest run of each experiment against its declared gates")
    c.add_argument("files", nargs="+", metavar="file", help="experiment YAML files whose gates to check")
    c.set_defaults(func=gate.command)

    c = sub.add_parser("sample", parents=[runs], help="generate text from a trained run's verified weights")
    loading.add_arguments(c)
    c.add_argument("--prompt", help="text the samples continue (default: the run's sample.prompt)")
    c.add_argument("--count", type=count, help="how many samples (default: the run's sample.count)")
    c.add_argument("--max-tokens", type=count, help="tokens (characters for an mlp) to generate (default: the run's sample.max_length)")
    c.add_argument("--temperature", type=positive, help="softmax temperature (default: the run's sample.temperature)")
    c.add_argument("--top-k", type=count, help="sample among the k likeliest tokens only (default: the run's sample.top_k)")
    c.add_argument("--seed", type=int, help="seed of the sampling generator (default: the run's sample.seed)")
    c.set_defaults(func=sample.command)

    c = sub.add_parser("eval", parents=[runs], help="score a trained run's model on a HellaSwag-format multiple-choice file")
    loading.add_arguments(c)
    c.add_argument("--file", required=True, help="a .jsonl with ctx, endings and label per line, e.g. hellaswag_val.jsonl")
    c.add_argument("--examples", type=count, default=0, help="score only the first N examples (default: all)")
    c.add_argument("--out", help="also write the result as JSON to this file")
    c.set_defaults(func=evaluate.command)

    c = sub.add_parser("export", parents=[runs], help="copy sealed runs into MLflow or TensorBoard")
    c.add_argument("runs", nargs="*", metavar="RUN", help="run folders or run ids (default: every sealed run of the runs folder)")
    c.add_argument("--to", nargs=2, required=True, metavar=("TOOL", "WHERE"),
                   help="mlflow and a tracking URI (sqlite:///mlflow.db, a folder, http://...), or tensorboard and a log folder")
    c.add_argument("--replace", action="store_true", help="export again a run that is there already (its old copy is removed)")
    c.set_defaults(func=export.command)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    launch.die_with_launcher()
    return guarded(lambda: args.func(args))
