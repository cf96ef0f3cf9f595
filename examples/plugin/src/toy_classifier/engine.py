"""The engine's module: `prepare` builds the data and the model, `train` trains, checkpoints and resumes.

Trainbook's session calls these after it has seeded everything from the experiment's `seed`, and seals the
run whatever happens: this module only trains and writes its artifacts through `run`. Full-batch SGD on
generated points, so a checkpoint (model, optimiser, step) is the whole state and a resumed run continues
the exact trajectory.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainer.figures import style
from trainer.plugin import (
    CHECKPOINT,
    METRICS,
    MetricsLog,
    Progress,
    Run,
    TrainingFailed,
    save_checkpoint,
    sha256_bytes,
    step_boundary,
)

from .spec import CONFUSION, ToyExperiment


@dataclass
class Prepared:
    cfg: ToyExperiment
    model: nn.Module
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    data_record: dict


def moons(samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half-circles of points with Gaussian noise, shuffled: (points, labels)."""
    rng = np.random.default_rng(seed)
    half = samples // 2
    angles = rng.uniform(0, math.pi, size=samples)
    upper = np.stack([np.cos(angles[:half]), np.sin(angles[:half])], axis=1)
    lower = np.stack([1 - np.cos(angles[half:]), 0.5 - np.sin(angles[half:])], axis=1)
    points = np.concatenate([upper, lower]) + rng.normal(0, noise, size=(samples, 2))
    labels = np.concatenate([np.zeros(half), np.ones(samples - half)])
    order = rng.permutation(samples)
    return points[order].astype(np.float32), labels[order].astype(np.int64)


def prepare(cfg: ToyExperiment, source: str) -> Prepared:
    d = cfg.data
    points, labels = moons(d.samples, d.noise, d.data_seed)
    cut = int(len(points) * (1 - d.val_fraction))
    x, y = torch.from_numpy(points), torch.from_numpy(labels)
    model = nn.Sequential(nn.Linear(2, cfg.model.hidden), nn.Tanh(), nn.Linear(cfg.model.hidden, cfg.model.hidden), nn.Tanh(),
                          nn.Linear(cfg.model.hidden, 2))
    record = {"dataset": "two-moons (generated)", "source": f"two-moons generator, seed {d.data_seed}, noise {d.noise:g}",
              "sha256": sha256_bytes(points.tobytes() + labels.tobytes()),
              "splits": {"train": cut, "val": len(points) - cut}}
    return Prepared(cfg, model, x[:cut], y[:cut], x[cut:], y[cut:], record)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def train(p: Prepared, run: Run, resume: dict | None = None) -> dict:
    tc = p.cfg.train
    optimizer = torch.optim.SGD(p.model.parameters(), lr=tc.lr, momentum=0.9)
    start = 0
    log = MetricsLog(run.file(METRICS))
    if resume is not None:
        p.model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        start = resume["step"]
        log = MetricsLog.resume(run.file(METRICS), start)
    progress = Progress(tc.steps, start, p.cfg.name, tc.log_interval)

    def save(step: int) -> None:
        save_checkpoint(run.file(CHECKPOINT), {"step": step, "model": p.model.state_dict(), "optimizer": optimizer.state_dict()})
        log.flush()  # metrics.jsonl always matches a state the run can resume from

    for step in range(start + 1, tc.steps + 1):
        loss = nn.functional.cross_entropy(p.model(p.train_x), p.train_y)
        if not math.isfinite(loss.item()):
            raise TrainingFailed(f"the training loss is {loss.item()} at step {step}; lower train.lr", step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        row = {"train_loss": loss.item()}
        if step % tc.eval_interval == 0 or step == tc.steps:
            with torch.no_grad():
                row["val_loss"] = nn.functional.cross_entropy(p.model(p.val_x), p.val_y).item()
            row["val_accuracy"] = accuracy(p.model, p.val_x, p.val_y)
        log.log(step, **row)
        progress.update(step, loss=row["train_loss"])
        # saves on the checkpoint cadence and after the last step; on Ctrl-C or SIGTERM saves here and raises
        # StopRequested, so the run is sealed interrupted and `trainer resume` continues from this step
        step_boundary(step, tc.steps, tc.checkpoint_interval, save)
    progress.close()
    return finish(p, run, log)


def finish(p: Prepared, run: Run, log: MetricsLog) -> dict:
    """The figures, the confusion matrix and the final metrics of a run that trained every step."""
    with torch.no_grad():
        predicted = p.model(p.val_x).argmax(1)
    matrix = [[int(((p.val_y == t) & (predicted == q)).sum()) for q in (0, 1)] for t in (0, 1)]
    run.write_json(CONFUSION, {"matrix": matrix, "rows": "true moon", "columns": "predicted moon"})
    boundary_figure(p, run)
    loss_figure(log.rows, run)
    return {"train_loss": log.last("train_loss"), "val_loss": log.last("val_loss"), "val_accuracy": log.last("val_accuracy"),
            "train_accuracy": accuracy(p.model, p.train_x, p.train_y), "steps": p.cfg.train.steps}


def boundary_figure(p: Prepared, run: Run) -> None:
    fig, ax = style.figure(f"{p.cfg.name}: decision boundary", "x₁", "x₂")
    xs, ys = np.meshgrid(np.linspace(-1.6, 2.6, 160), np.linspace(-1.2, 1.7, 120))
    grid = torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32))
    with torch.no_grad():
        chance = torch.softmax(p.model(grid), dim=1)[:, 1].reshape(xs.shape).numpy()
    ax.contourf(xs, ys, chance, levels=20, cmap="RdBu_r", alpha=0.35)
    for label, color in ((0, style.TRAIN_COLOR), (1, style.VAL_COLOR)):
        chosen = p.val_y.numpy() == label
        ax.scatter(p.val_x[chosen, 0], p.val_x[chosen, 1], s=12, color=color, label=f"moon {label} (validation)")
    ax.legend(loc="upper right")
    style.save(fig, run.file("boundary.png"))
    run.add_figure("boundary.png", "Decision boundary", "The model's probability of moon 1 over the plane (red: moon 1, "
                   "blue: moon 0) with the validation points on top; the boundary is where the colours meet.")


def loss_figure(rows: list[dict], run: Run) -> None:
    fig, ax = style.figure("Loss", "step", "cross-entropy loss (nats)")
    for key, color in (("train_loss", style.TRAIN_COLOR), ("val_loss", style.VAL_COLOR)):
        steps, values = style.series(rows, key)
        ax.plot(steps, values, color=color, linewidth=1.5, label=key.replace("_", " "))
    ax.legend(loc="upper right")
    style.save(fig, run.file("loss.png"))
    run.add_figure("loss.png", "Loss", "Training loss at every step and validation loss at every evaluation.")

