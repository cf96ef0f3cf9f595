"""Synthetic but valid run folders, many of them, fast: for the site's scale benchmark and browser tests.

Each run looks like one the trainer wrote (record, resolved config, metrics, samples, figures with
their titles) for one of the project's experiment kinds, and is sealed in the ledger through
`trainer.tracking.ledger.append_many`, so `python -m trainer verify` passes on them. Figures are one
small PNG (15 KB), drawn once and copied into every run folder: 10,000 runs do not need 10,000 drawings.
No torch, no training: a folder takes about a millisecond.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from trainer.tracking import ledger
from trainer.tracking.files import sha256_file, write_jsonl, write_text
from trainer.tracking import layout


@dataclass(frozen=True)
class Kind:
    experiment: str
    kind: str
    dataset: str
    tags: tuple[str, ...]
    key_metric: dict
    start: float
    """typical final value of the key metric"""


KINDS = (
    Kind("names-mlp", "language-model", "census-surnames", ("names", "mlp", "makemore"),
         {"name": "val_loss", "goal": "min", "label": "val loss"}, 2.3),
    Kind("shakespeare-char-gpt", "language-model", "tinyshakespeare", ("shakespeare", "gpt"),
         {"name": "val_loss", "goal": "min", "label": "val loss"}, 1.9),
    Kind("names-mlp-manual", "manual-backprop", "census-surnames", ("names", "mlp", "backprop"),
         {"name": "val_loss", "goal": "min", "label": "val loss"}, 2.35),
    Kind("market-pg", "rl", "market-scenarios", ("rl", "market"),
         {"name": "mean_return", "goal": "max", "label": "mean return"}, 0.8),
)


def _png(path: Path, title: str) -> Path:
    """One small, labelled, deterministic figure through the trainer's own helpers."""
    from trainer.figures import style as viz

    fig, ax = viz.figure(title, "step", "loss (nats)")
    fig.set_size_inches(3.2, 2.0)
    xs = list(range(1, 21))
    ax.plot(xs, [2.0 + 1.5 * math.exp(-x / 5) for x in xs], color=viz.TRAIN_COLOR, label="train")
    ax.legend(loc="upper right")
    return viz.save(fig, path)


def _record(kind: Kind, run_id: str, started: datetime, status: str, value: float, rng: random.Random) -> dict:
    duration = round(rng.uniform(5, 400), 3)
    metrics = {} if status != "ok" else {kind.key_metric["name"]: value, "steps": 2000, "params": 12097}
    if status == "ok" and kind.kind != "rl":
        metrics.update(train_loss=value - 0.05, test_loss=value + 0.01)
    config = {"name": kind.experiment, "description": f"Synthetic {kind.kind} runs for the site benchmark.",
              "tags": list(kind.tags), "seed": rng.randrange(10_000), "data": {"dataset": kind.dataset},
              "optim": {"lr": round(rng.choice([0.1, 0.05, 0.03]), 3)}, "train": {"steps": 2000}}
    return {
        "schema": 1, "run_id": run_id, "experiment": kind.experiment, "kind": kind.kind, "status": status,
        "reason": None if status == "ok" else "synthetic: training loss became nan at step 713" if status == "failed"
        else "interrupted by the user (SIGINT)",
        "config": config, "config_sha256": hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest(),
        "source": {"file": f"experiments/{kind.experiment}.yaml", "overrides": [f"optim.lr={config['optim']['lr']}"]},
        "code": {"commit": hashlib.sha1(run_id.encode()).hexdigest(), "dirty": False, "diff_sha256": None},
        "data": {"dataset": kind.dataset, "source": "synthetic", "sha256": "0" * 64},
        "environment": {"python": "3.11.7", "device": "cpu", "gpu": None, "world_size": 1, "cpu": "synthetic", "torch_threads": 2},
        "seeds": {"seed": config["seed"]}, "started_at": started.isoformat(timespec="seconds"),
        "ended_at": (started + timedelta(seconds=duration)).isoformat(timespec="seconds"), "duration_s": duration,
        "resumed_from": None, "trigger": {"by": "local"}, "pid": 1, "metrics": metrics, "key_metric": kind.key_metric,
        "figures": [{"file": "loss.png", "title": "Loss", "caption": "Synthetic training loss per step (a stand-in figure)."}],
        "artifacts": {},
    }


def make_runs(runs_dir: Path, count: int, *, seed: int = 0, start: datetime | None = None,
              kinds: tuple[Kind, ...] = KINDS, failed_every: int = 20) -> list[Path]:
    """`count` sealed runs spread over `kinds`, one hour apart from `start`, oldest first."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    start = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
    figures_dir = runs_dir / ".synthetic-figures"
    figures_dir.mkdir(exist_ok=True)
    figure = figures_dir / "loss.png"
    if not figure.exists():
        _png(figure, "Synthetic loss")
    figure_facts = {"sha256": sha256_file(figure), "bytes": figure.stat().st_size}
    made, seals = [], []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        started = start + timedelta(hours=i)
        run_id = f"{kind.experiment}-{started.strftime('%Y%m%dT%H%M%SZ')}-{hashlib.sha256(f'{seed}-{i}'.encode()).hexdigest()[:7]}"
        status = "failed" if failed_every and i % failed_every == failed_every - 1 else "ok"
        drift = -0.3 * i / max(count, 1) if kind.key_metric["goal"] == "min" else 0.3 * i / max(count, 1)
        value = round(kind.start + drift + rng.gauss(0, 0.03), 6)
        folder = runs_dir / run_id
        folder.mkdir()
        record = _record(kind, run_id, started, status, value, rng)
        write_text(folder / layout.CONFIG, json.dumps(record["config"], indent=1) + "\n")
        name = kind.key_metric["name"] if kind.kind == "rl" else "val_loss"
        rows = [{"step": s, "train_loss": round(value + 2.0 * math.exp(-s / 400), 5)} for s in range(100, 2001, 100)]
        rows += [{"step": s, name: round(value + 1.8 * math.exp(-s / 500) * (-1 if kind.kind == "rl" else 1), 5)}
                 for s in range(400, 2001, 400)]
        write_jsonl(folder / layout.METRICS, rows)
        if kind.kind != "rl":
            write_text(folder / layout.SAMPLES, "".join(f"sample{rng.randrange(1000)}\n" for _ in range(5)))
        # A copy, not a link: runs never share an inode, and the publisher's hash cache relies on that.
        shutil.copyfile(figure, folder / "loss.png")
        artifacts = {p.name: {"sha256": figure_facts["sha256"] if p.name == "loss.png" else sha256_file(p),
                              "bytes": p.stat().st_size} for p in sorted(folder.iterdir())}
        record["artifacts"] = artifacts
        write_text(folder / layout.RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")
        seals.append((run_id, kind.experiment, status))
        made.append(folder)
    ledger.append_many(runs_dir, seals)  # one write: the ledger is rewritten atomically on every append
    return made


def make_long_run(runs_dir: Path, steps: int = 20_000, seed: int = 0) -> Path:
    """One sealed run that logged every one of `steps` steps, written through the trainer's own run-folder API and
    drawn with its own loss, learning-rate, gradient-norm and throughput figures (values made up, no torch):
    the heaviest run page a language model's run makes, for the page-weight benchmark."""
    from trainer.figures import training as figures
    from trainer.tracking.metrics import MetricsLog
    from trainer.tracking.run import Run

    rng = random.Random(seed)
    config = {"name": "long-run", "description": f"A language model that logged each of {steps:,} steps.", "tags": ["long"],
              "seed": seed, "data": {"dataset": "synthetic"}, "train": {"steps": steps}}
    text = json.dumps(config, indent=1) + "\n"
    run = Run.create(runs_dir, experiment="long-run", config=config, config_sha256=hashlib.sha256(text.encode()).hexdigest(),
                     config_yaml=text, source="synthetic", overrides=[], seeds={"seed": seed},
                     data={"dataset": "synthetic", "source": "synthetic", "sha256": "0" * 64},
                     extra={"kind": "language-model", "key_metric": dict(KINDS[1].key_metric, unit="nats per token")})
    log = MetricsLog(run.file(layout.METRICS), planned=steps)
    for step in range(1, steps + 1):
        loss = 1.6 + 2.0 * math.exp(-step / (steps / 8)) + rng.gauss(0, 0.05)
        log.log(step, train_loss=loss, lr=0.01 * min(1.0, step / 200), grad_norm=abs(rng.gauss(1.0, 0.3)),
                step_ms=8 + rng.random(), tokens_per_s=4000 + 100 * rng.random())
        if step % 500 == 0:
            log.log(step, val_loss=loss + 0.05)
    log.close()
    rows = log.rows
    figures.loss_figure(rows, run.file("loss.png"), "long-run: loss")
    run.add_figure("loss.png", "Loss", "Training and validation loss per step, log scale.", series=("train_loss", "val_loss"))
    figures.lr_figure(rows, run.file("lr.png"))
    run.add_figure("lr.png", "Learning-rate schedule", "The learning rate at each step.", series=("lr",))
    figures.grad_norm_figure(rows, run.file("grad_norm.png"), "long-run: gradient norm")
    run.add_figure("grad_norm.png", "Gradient norm", "Global L2 norm of the gradient before clipping.", series=("grad_norm",))
    figures.throughput_figure(rows, run.file("throughput.png"), "long-run: throughput")
    run.add_figure("throughput.png", "Throughput", "Training tokens per second.", series=("tokens_per_s",))
    run.conclude("ok", {"val_loss": rows[-1]["val_loss"], "train_loss": rows[-2]["train_loss"], "steps": steps})
    run.seal()
    run.release()
    return run.path
