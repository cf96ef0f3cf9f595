"""How much introspection at its default interval adds to training: the same experiment trained
with `introspect.interval=0` and with the experiment's own setting, alternately, in one process.

Reports, per variant, the median over repeats of the training loop's time (the loop times itself;
recorded steps are inside it) and of the whole engine call (loop, final losses, every figure
including introspection's, samples), wall clock and CPU time (the figures drawn in a forked child
included), and the overhead ratios. The budget
is 5% of training time. Run from the repository root: `python benchmarks/introspection_overhead.py`.

The A/B ratios are the measurement; read them on an idle machine. On a busy one, wall clock and
CPU time swing by far more than 5% between runs, so the runs with introspection also time every
call into the recorder (hooks, snapshots, JSON, figures) as a share of the same run's training
time. That share survives load better but reads low under it: load slows torch's two-thread loop
more than the single-threaded figure drawing.
"""
from __future__ import annotations

import argparse
import functools
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer import config, experiments  # noqa: E402
from trainer.runtime import seeding  # noqa: E402
from trainer.introspect.recorder import Introspector  # noqa: E402
from trainer.tracking.run import Run  # noqa: E402

BUDGET = 0.05
LABELS = {"loop": "training loop, wall (s)", "wall": "whole training, wall (s)", "cpu": "whole training, CPU (s)"}


SPENT: dict[str, float] = {}
"""wall seconds spent inside the recorder, per method, since the last reset"""


def time_the_recorder() -> None:
    for name in ("wants", "before_forward", "after_backward", "after_update", "finish", "finished"):
        original = getattr(Introspector, name)

        @functools.wraps(original)
        def timed(self, *args, _original=original, _name=name, **kwargs):
            t0 = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                SPENT[_name] = SPENT.get(_name, 0.0) + time.perf_counter() - t0

        setattr(Introspector, name, timed)


def train_once(path: str, overrides: list[str], root: Path) -> dict:
    cfg = experiments.load(path, overrides)
    seeding.seed_everything(cfg.seed)
    engine = experiments.spec(cfg).load()
    prepared = engine.prepare(cfg, path)
    run = Run.create(root, experiment=cfg.name, config=config.to_dict(cfg), config_sha256=config.config_sha256(cfg),
                     config_yaml=config.dump_yaml(cfg), source=path, overrides=overrides, seeds={}, data={})
    SPENT.clear()
    wall, cpu = time.perf_counter(), cpu_seconds()
    metrics = engine.train(prepared, run, None)
    wall = time.perf_counter() - wall
    return {"loop": metrics["steps"] / metrics["steps_per_s"], "wall": wall, "cpu": cpu_seconds() - cpu,
            "val_loss": metrics["val_loss"], "inside": sum(SPENT.values()) / wall,
            "figures": (SPENT.get("finish", 0.0) + SPENT.get("finished", 0.0)) / wall}


def cpu_seconds() -> float:
    """This process's CPU time and that of its finished children (the figures drawn beside the run)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiments", nargs="*", default=["experiments/names-mlp.yaml", "experiments/names-mlp-manual.yaml",
                                                      "experiments/shakespeare-char-gpt.yaml"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads for every run (train.threads); 0 keeps the experiment's")
    p.add_argument("--steps", type=int, default=0,
                   help="train.steps for a quick look; 0 keeps the experiment's (the budget is judged at full length)")
    args = p.parse_args()
    time_the_recorder()
    worst: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="trainbook-bench-") as tmp:
        for path in args.experiments:
            interval = experiments.load(path).introspect.interval
            common = [f"train.threads={args.threads}"] if args.threads else []
            common += [f"train.steps={args.steps}", f"train.eval_interval={args.steps}"] if args.steps else []
            results = {"off": [], "on": []}
            for _ in range(args.repeats):  # alternate, so a change in machine load hits both sides alike
                for side, extra in (("off", ["introspect.interval=0"]), ("on", [])):
                    results[side].append(train_once(path, common + extra, Path(tmp)))
                    print(f"{path} introspection {side}: {results[side][-1]}", file=sys.stderr)
            med = {side: {k: statistics.median(r[k] for r in rows) for k in ("loop", "wall", "cpu")} for side, rows in results.items()}
            assert results["off"][0]["val_loss"] == results["on"][0]["val_loss"], "introspection changed the training"
            print(f"\n{path} {' '.join(common)}: introspection every {interval} steps, "
                  f"median of {args.repeats} alternating runs each")
            print(f"{'':28}{'off':>10}{'on':>10}{'overhead':>10}")
            for key, label in LABELS.items():
                overhead = med["on"][key] / med["off"][key] - 1
                worst[key] = max(worst.get(key, overhead), overhead)
                print(f"{label:28}{med['off'][key]:10.2f}{med['on'][key]:10.2f}{overhead:10.1%}")
            inside = statistics.median(r["inside"] for r in results["on"])
            figures = statistics.median(r["figures"] for r in results["on"])
            worst["inside"] = max(worst.get("inside", inside), inside)
            print(f"time inside the recorder, share of the same run's whole training: {inside:.1%} "
                  f"(of which JSON and figures at the end {figures:.1%})")
    print(f"\nworst overhead against the {BUDGET:.0%} budget: " + "; ".join(
        f"{LABELS.get(k, 'time inside the recorder').split(' (')[0]} {v:.1%} ({'within' if v < BUDGET else 'OVER'})"
        for k, v in worst.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
