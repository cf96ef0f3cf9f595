"""The language-model training loop, shared by every model that maps token windows to next-token logits.

An engine hands it an `LMTask` (model, a batch sampler, split evaluators); the loop owns the
optimiser, schedule, metrics, validation, checkpoints, progress and the loss and LR figures.
A task may bring its own backward pass and optimiser (manual backprop) and observers that watch
chosen steps (introspection, gradient checks).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn

from .. import seeding, viz
from ..tracking import checkpoint
from ..tracking.metrics import FILE as METRICS_FILE, MetricsLog
from ..tracking.run import Run
from ..progress import Progress
from .optim import lr_at, make_optimizer, set_lr

Batch = tuple[torch.Tensor, torch.Tensor]
MAX_METRIC_ROWS = 2000  # long runs log interval means, so metrics.jsonl stays small enough to publish


class TrainingFailed(Exception):
    """Training cannot go on (e.g. the loss is no longer finite); the message says where and why."""


class StepObserver:
    """Watches chosen training steps without changing them (introspection, gradient checks).

    On each step it `wants` (1-based), the loop calls `before_forward`, then `after_backward` once
    every `.grad` is in place (before clipping), then `after_update` after the optimiser step;
    `finish` runs once after the last step. Raising TrainingFailed from any of them fails the run
    with that reason.
    """

    def wants(self, step: int, steps: int) -> bool:
        return False

    def before_forward(self, step: int) -> None:
        pass

    def after_backward(self, step: int, batch: Batch, loss: torch.Tensor, lr: float) -> None:
        pass

    def after_update(self, step: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class LMTask:
    model: nn.Module
    train_batch: Callable[[torch.Generator], Batch]
    """one random training batch, drawn from the given generator"""
    split_batches: Callable[[str], Iterable[Batch]]
    """every batch of a named split ('train', 'val', 'test'), for exact split losses"""
    final_splits: tuple[str, ...] = ("train", "val", "test")
    make_optimizer: Callable = make_optimizer
    """(model, OptimConfig) -> optimiser; manual backprop passes its hand-written SGD"""
    backward: Callable[[torch.Tensor], None] = torch.Tensor.backward
    """fills every parameter's .grad from the loss; manual backprop passes its hand-written backward"""
    observers: list[StepObserver] = field(default_factory=list)


@torch.no_grad()
def split_loss(model: nn.Module, batches: Iterable[Batch]) -> float:
    """Mean per-token loss over a whole split, in eval mode (BatchNorm uses its running statistics)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for x, y in batches:
        _, loss = model(x, y)
        total += loss.item() * y.numel()
        count += y.numel()
    model.train(was_training)
    return total / max(count, 1)


def train(cfg, task: LMTask, run: Run) -> dict:
    """Train `task.model` for cfg.train.steps and return the final metrics."""
    model, steps = task.model, cfg.train.steps
    optimizer = task.make_optimizer(model, cfg.optim)
    batches = seeding.generator(cfg.seed + 1)  # its own stream, so evaluation never shifts the batch order
    metrics = MetricsLog(run.file(METRICS_FILE))
    every = math.ceil(steps / MAX_METRIC_ROWS)
    progress = Progress(steps, 0, cfg.name, cfg.train.log_interval)
    window, train_time, init_loss = [], 0.0, None
    model.train()
    for step in range(steps):
        t0 = time.perf_counter()
        lr = lr_at(cfg.optim, step, steps)
        set_lr(optimizer, lr)
        x, y = task.train_batch(batches)
        watching = [o for o in task.observers if o.wants(step + 1, steps)]
        for observer in watching:
            observer.before_forward(step + 1)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        task.backward(loss)
        for observer in watching:  # before clipping: observers see the gradients the backward pass computed
            observer.after_backward(step + 1, (x, y), loss, lr)
        if cfg.optim.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        for observer in watching:
            observer.after_update(step + 1)
        value = loss.item()
        train_time += time.perf_counter() - t0
        if not math.isfinite(value):
            raise TrainingFailed(f"training loss became {value} at step {step + 1}")
        window.append(value)
        init_loss = value if init_loss is None else init_loss
        done = step + 1
        if done % every == 0 or done == steps:
            metrics.log(done, train_loss=sum(window) / len(window), lr=lr)
            window = []
        if done % cfg.train.eval_interval == 0 or done == steps:
            val = split_loss(model, task.split_batches("val"))
            metrics.log(done, val_loss=val)
            progress.write(f"{cfg.name} step {done}: val loss {val:.4f}")
        interval = cfg.train.checkpoint_interval
        if (interval and done % interval == 0) or done == steps:
            metrics.flush()
            checkpoint.save(run.file("checkpoint.pt"), {
                "step": done, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "batch_rng": batches.get_state(), "rng": seeding.capture_rng(),
            })
        progress.update(done, loss=metrics.last("train_loss"), lr=lr)
    progress.close()

    final = {f"{split}_loss": split_loss(model, task.split_batches(split)) for split in task.final_splits}
    viz.loss_figure(metrics.rows, run.file("loss.png"), f"{cfg.name}: loss")
    run.add_figure("loss.png", "Loss", "Training loss (light: per logged step; dark: smoothed) and validation loss, log scale. "
                   "Healthy: both fall and flatten together; a widening gap means overfitting.")
    viz.lr_figure(metrics.rows, run.file("lr.png"))
    run.add_figure("lr.png", "Learning-rate schedule", "The learning rate used at each step (warmup, then the configured decay).")
    for observer in task.observers:
        observer.finish()
    return {
        **final,
        "init_loss": init_loss,
        "steps": steps,
        "params": sum(p.numel() for p in model.parameters()),
        "steps_per_s": steps / max(train_time, 1e-9),
    }
