"""The language-model training loop, shared by every model that maps token windows to next-token logits.

An engine hands it an `LMTask` (model, a way to build batches from example indices, split
evaluators); the loop owns the optimiser, schedule, gradient accumulation, mixed precision,
compilation, data parallelism, metrics, validation, checkpoints (last and best), resumption,
progress, and the loss, learning-rate, gradient-norm and throughput figures. A task may bring its
own backward pass and optimiser (manual backprop) and observers that watch chosen steps
(introspection, gradient checks).

Batches are drawn from one seeded generator that every process advances identically: each step
draws the indices of every micro-batch of every process, and a process builds only its own. So
the data a step sees depends only on the seed and `tokens_per_step`, not on how many processes
share the work, and a checkpoint's generator state is the data loader's exact position.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..figures import training as figures
from ..runtime import devices, distributed, faults, seeding, stopping
from ..errors import ConfigError
from ..engines.contract import TrainingFailed
from ..tracking import checkpoint, layout
from ..tracking.metrics import MetricsLog
from ..tracking.run import Run
from ..runtime.progress import Progress
from .optim import lr_at, make_optimizer, set_lr

Batch = tuple[torch.Tensor, torch.Tensor]
MAX_METRIC_ROWS = 2000  # long runs log interval means, so metrics.jsonl stays small enough to publish
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


class StepObserver:
    """Watches chosen training steps without changing them (introspection, gradient checks).

    On each step it `wants` (1-based), the loop calls `before_forward`, then `after_backward` once
    every `.grad` is in place (accumulated over the step's micro-batches, unscaled, before clipping;
    `batch` is the step's micro-batches joined), then `after_update` after the optimiser step;
    `finish` runs once after the last step. Raising TrainingFailed from any of them fails the run
    with that reason. Observers run in the process that writes the run (rank 0). What an observer
    has gathered so far travels in the checkpoint (`state_dict`), so a resumed run's report covers
    the steps before the interruption too.
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
        """Training is over: write what was gathered (it may go on in the background until `finished`)."""

    def finished(self) -> None:
        """Wait for what `finish` started; the run's artifacts are complete after this."""

    def state_dict(self) -> dict:
        """What this observer has gathered, to continue from a checkpoint: plain dicts, lists, numbers and
        strings, so the checkpoint still loads with `weights_only=True`."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@dataclass
class LMTask:
    model: nn.Module
    examples: int
    """how many distinct training examples (windows, contexts) there are to draw from"""
    train_batch: Callable[[torch.Tensor], Batch]
    """the training batch made of the examples at the given indices (CPU tensors)"""
    split_batches: Callable[[str], Iterable[Batch]]
    """the evaluation batches of a named split ('train', 'val', 'test')"""
    tokens_per_example: int = 1
    """predicted tokens in one example: 1 for a fixed-context model, the block size for a GPT"""
    flops_per_token: float | None = None
    """training FLOPs per token, for model FLOPs utilisation (None: not reported)"""
    final_splits: tuple[str, ...] = ("train", "val", "test")
    make_optimizer: Callable | None = None
    """(model, OptimConfig) -> optimiser, for a model that brings its own (manual backprop's hand-written
    SGD); default: AdamW or SGD from optim.py"""
    backward: Callable[[torch.Tensor], None] = torch.Tensor.backward
    """fills every parameter's .grad from the loss; manual backprop passes its hand-written backward"""
    observers: list[StepObserver] = field(default_factory=list)


def accumulation_steps(cfg, tokens_per_example: int, world_size: int, source: str) -> int:
    """Micro-batches per process per step that make `train.tokens_per_step`, or a ConfigError."""
    micro = cfg.train.batch_size * tokens_per_example * world_size
    wanted = cfg.train.tokens_per_step
    if not wanted:
        return 1
    if wanted % micro:
        raise ConfigError(source, "train.tokens_per_step", f"must be a multiple of batch_size x tokens per example x processes "
                          f"= {cfg.train.batch_size} x {tokens_per_example} x {world_size} = {micro}, got {wanted}")
    return wanted // micro


@torch.no_grad()
def split_loss(model: nn.Module, batches: Iterable[Batch], device: torch.device = torch.device("cpu"),
               autocast: Callable = contextlib.nullcontext) -> float:
    """Mean per-token loss over a split's batches, in eval mode (BatchNorm uses its running statistics)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        with autocast():
            _, loss = model(x, y)
        total += loss.item() * y.numel()
        count += y.numel()
    model.train(was_training)
    return total / max(count, 1)


@dataclass
class StepResult:
    loss: torch.Tensor
    """this process's mean loss over its micro-batches"""
    grad_norm: torch.Tensor
    """global gradient norm before clipping"""


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, micro_batches: list[Batch], *,
               grad_clip: float = 0.0, scaler: torch.amp.GradScaler | None = None,
               autocast: Callable = contextlib.nullcontext, backward: Callable = torch.Tensor.backward,
               after_backward: Callable[[torch.Tensor], None] | None = None) -> StepResult:
    """One optimisation step over `micro_batches`: their gradients accumulated, clipped, applied.

    Each micro-batch's loss is divided by their number, so the accumulated gradient is the
    gradient of the mean loss, as if they had been one batch. Under DDP the gradient all-reduce
    runs only after the last micro-batch (`no_sync` for the others). `after_backward(loss)` sees the
    finished gradients before they are clipped.
    """
    scaler = scaler or torch.amp.GradScaler("cpu", enabled=False)
    optimizer.zero_grad(set_to_none=True)
    n = len(micro_batches)
    for i, (x, y) in enumerate(micro_batches):
        skip_sync = isinstance(model, DistributedDataParallel) and i < n - 1
        with model.no_sync() if skip_sync else contextlib.nullcontext():
            with autocast():
                _, loss = model(x, y)
            backward(scaler.scale(loss / n if n > 1 else loss))  # x / 1 would cost an op and its backward for nothing
        total = loss.detach() if i == 0 else total + loss.detach()
    scaler.unscale_(optimizer)  # clip the true gradient, not the scaled one
    mean_loss = total / n if n > 1 else total
    if after_backward is not None:
        after_backward(mean_loss)
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if grad_clip > 0:
        norm = nn.utils.clip_grad_norm_(params, grad_clip)
    else:
        norm = nn.utils.get_total_norm([p.grad for p in params])
    scaler.step(optimizer)
    scaler.update()
    return StepResult(mean_loss, norm)


@dataclass
class LoopState:
    """Everything the loop carries between steps that a resumed run needs to continue exactly."""

    step: int = 0
    window: dict[str, list] = field(default_factory=lambda: {"loss": [], "grad_norm": [], "seconds": []})
    """per-step values since the last metrics row: loss and gradient norm stay tensors on the device
    until `Loop.settle` reads them all at once (floats after that, and in a checkpoint)"""
    settled: int = 0
    """how many of the window's steps `settle` has read back and checked"""
    init_loss: float | None = None
    best_val: float | None = None
    best_step: int | None = None
    elapsed_s: float = 0.0


class Loop:
    """The pieces of one training run, put together once; `run_steps` then trains."""

    def __init__(self, cfg, task: LMTask, run: Run | None):
        self.cfg, self.task, self.run = cfg, task, run
        self.world = distributed.current()
        self.device = self.world.device
        self.main = self.world.is_main and run is not None
        self.raw = task.model.to(self.device)
        self.optimizer = task.make_optimizer(self.raw, cfg.optim) if task.make_optimizer else \
            make_optimizer(self.raw, cfg.optim, fused=self.device.type in FUSED_ADAMW_DEVICES)
        self.scaler = devices.grad_scaler(cfg.train.precision, self.device)
        self.autocast = lambda: devices.autocast(cfg.train.precision, self.device)
        model = torch.compile(self.raw) if cfg.train.compile else self.raw
        if self.world.distributed:
            model = DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.model = model
        self.accum = accumulation_steps(cfg, task.tokens_per_example, self.world.size, "config")
        self.tokens_per_step = self.accum * self.world.size * cfg.train.batch_size * task.tokens_per_example
        self.batches = seeding.generator(cfg.seed + 1)  # its own stream, so evaluation never shifts the batch order
        self.peak = devices.peak_flops(self.device, cfg.train.precision, cfg.train.peak_flops)
        self.state = LoopState()
        self.metrics = MetricsLog(run.file(layout.METRICS), planned=cfg.train.steps) if self.main else None

    # --- state in and out ---------------------------------------------------------------------

    def checkpoint_state(self, rng: list[dict]) -> dict:
        """The state to continue from; `rng` holds every process's RNG states, by rank."""
        s = self.state
        return {
            "step": s.step, "model": self.raw.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(), "batch_rng": self.batches.get_state(), "rng": rng,
            "world_size": self.world.size, "accumulation": self.accum,
            "observers": [o.state_dict() for o in self.task.observers],
            "loop": {"window": s.window, "init_loss": s.init_loss, "best_val": s.best_val, "best_step": s.best_step,
                     "elapsed_s": self.run.elapsed_s() if self.run else 0.0},
        }

    def restore(self, saved: dict) -> None:
        self.raw.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        if saved.get("scaler"):
            self.scaler.load_state_dict(saved["scaler"])
        self.batches.set_state(saved["batch_rng"])
        rng = saved["rng"]
        seeding.restore_rng(rng[self.world.rank] if self.world.rank < len(rng) else rng[0])
        for observer, gathered in zip(self.task.observers, saved.get("observers", [])):
            observer.load_state_dict(gathered)
        loop = saved["loop"]
        self.state = LoopState(saved["step"], loop["window"], len(loop["window"]["loss"]), loop["init_loss"],
                               loop["best_val"], loop["best_step"], loop["elapsed_s"])
        if self.main:
            self.metrics = MetricsLog.resume(self.run.file(layout.METRICS), saved["step"], planned=self.cfg.train.steps)

    # --- one step -----------------------------------------------------------------------------

    def micro_batches(self) -> list[Batch]:
        """Draw every process's micro-batch indices; build (and move to the device) this process's."""
        size = (self.cfg.train.batch_size,)
        draws = [torch.randint(0, self.task.examples, size, generator=self.batches) for _ in range(self.world.size * self.accum)]
        mine = draws[self.world.rank * self.accum:(self.world.rank + 1) * self.accum]
        pin = self.device.type == "cuda"
        return [tuple(t.pin_memory().to(self.device, non_blocking=True) if pin else t.to(self.device)
                      for t in self.task.train_batch(ix)) for ix in mine]

    def step(self, step: int) -> None:
        cfg = self.cfg
        faults.at_step(step + 1, self.world.rank)
        t0 = time.perf_counter()
        lr = lr_at(cfg.optim, step, cfg.train.steps)
        set_lr(self.optimizer, lr)
        batches = self.micro_batches()
        watching = [o for o in self.task.observers if o.wants(step + 1, cfg.train.steps)] if self.main else []
        for observer in watching:
            observer.before_forward(step + 1)

        def after_backward(loss: torch.Tensor) -> None:
            joined = batches[0] if len(batches) == 1 else tuple(torch.cat(parts) for parts in zip(*batches))
            for observer in watching:
                observer.after_backward(step + 1, joined, loss, lr)

        result = train_step(self.model, self.optimizer, batches, grad_clip=cfg.optim.grad_clip, scaler=self.scaler,
                            autocast=self.autocast, backward=self.task.backward,
                            after_backward=after_backward if watching else None)
        for observer in watching:
            observer.after_update(step + 1)
        s = self.state
        s.step, self.lr = step + 1, lr
        # No .item() here: on a GPU each would wait for the step to finish. The values stay on the
        # device until `settle` reads the whole window back in one transfer.
        s.window["loss"].append(result.loss.detach())
        s.window["grad_norm"].append(result.grad_norm.detach())
        s.window["seconds"].append(time.perf_counter() - t0)

    def settle(self) -> None:
        """Read the window's pending losses and norms back to floats (one wait for the device and, under
        torchrun, one all-reduce for the whole window), and fail the run at the first step whose loss
        is not finite. Every process calls it at the same steps; the time spent waiting here is the
        device finishing queued steps, so it is added to the last step's time."""
        s, w = self.state, self.state.window
        if len(w["loss"]) == s.settled:
            return
        t0 = time.perf_counter()
        losses = self.world.mean(torch.stack(w["loss"][s.settled:]).float()).tolist()
        norms = torch.stack(w["grad_norm"][s.settled:]).float().tolist()
        w["seconds"][-1] += time.perf_counter() - t0
        first_step = s.step - len(w["loss"]) + 1
        for i, loss in enumerate(losses, start=s.settled):
            if not math.isfinite(loss):
                raise TrainingFailed(f"training loss became {loss} at step {first_step + i}", first_step + i)
        w["loss"][s.settled:], w["grad_norm"][s.settled:] = losses, norms
        if s.init_loss is None and first_step == 1:
            s.init_loss = w["loss"][0]
        s.settled = len(w["loss"])

    # --- what happens after a step ------------------------------------------------------------

    def log_row(self) -> None:
        """The window's means as one metrics row (rank 0 writes it; every process empties its window)."""
        w, done = self.state.window, self.state.step
        if self.main:
            seconds = sum(w["seconds"]) / len(w["seconds"])
            tokens_per_s = self.tokens_per_step / max(seconds, 1e-12)
            row = {"train_loss": sum(w["loss"]) / len(w["loss"]), "lr": self.lr,
                   "grad_norm": sum(w["grad_norm"]) / len(w["grad_norm"]), "step_ms": seconds * 1000, "tokens_per_s": tokens_per_s}
            mfu = self.mfu(tokens_per_s)
            if mfu is not None:
                row["mfu"] = mfu
            self.metrics.log(done, **row)
        self.state.window, self.state.settled = {k: [] for k in w}, 0

    def mfu(self, tokens_per_s: float) -> float | None:
        if self.peak is None or self.task.flops_per_token is None:
            return None
        return self.task.flops_per_token * tokens_per_s / (self.peak * self.world.size)

    def evaluate(self, progress: Progress) -> None:
        done = self.state.step
        val = split_loss(self.raw, self.task.split_batches("val"), self.device, self.autocast)
        self.metrics.log(done, val_loss=val)
        progress.write(f"{self.cfg.name} step {done}: val loss {val:.4f}")
        s = self.state
        if s.best_val is None or val < s.best_val:
            s.best_val, s.best_step = val, done
            if self.cfg.train.keep_best:  # for using the best model later; resuming uses the last checkpoint
                checkpoint.save(self.run.file(layout.BEST), self.checkpoint_state([seeding.capture_rng()]))

    def save(self, progress: Progress | None) -> None:
        self.settle()  # a checkpoint holds plain floats, and never a state past a non-finite loss
        state = self.checkpoint_state(self.world.gather(seeding.capture_rng()))  # every process takes part
        if self.main:
            self.metrics.flush()
            checkpoint.save(self.run.file(layout.CHECKPOINT), state)
            progress.write(f"{self.cfg.name} step {self.state.step}: checkpoint saved (resumable from here)")

    def run_steps(self) -> None:
        cfg, steps = self.cfg, self.cfg.train.steps
        every = math.ceil(steps / MAX_METRIC_ROWS)
        progress = Progress(steps, self.state.step, cfg.name, cfg.train.log_interval) if self.main else None
        self.raw.train()
        try:
            for step in range(self.state.step, steps):
                self.step(step)
                self.after_step(step + 1, every, progress)
        except TrainingFailed:
            if self.main:
                self.metrics.flush()  # the curve up to the failure, for the run page
            raise
        finally:
            if progress:
                progress.close()

    def after_step(self, done: int, every: int, progress: Progress | None) -> None:
        """Log, evaluate and checkpoint as scheduled; stop here, checkpointed, if a signal asked to."""
        cfg, last = self.cfg, done == self.cfg.train.steps
        interval = cfg.train.checkpoint_interval
        row, evaluated = done % every == 0 or last, done % cfg.train.eval_interval == 0 or last
        saved = (interval and done % interval == 0) or last
        if row or evaluated or saved:  # the same steps on every process
            self.settle()
        if row:
            self.log_row()
        if self.main and evaluated:
            self.evaluate(progress)
        if saved:
            self.save(progress)
        if progress:
            progress.update(done, loss=self.metrics.last("train_loss"), lr=self.lr)
        signal_name = stopping.requested(self.world) if not last else None
        if signal_name:
            if not saved:
                self.save(progress)
            raise stopping.StopRequested(f"stopped by {signal_name} after step {done}, with a checkpoint there", done)

    # --- the end ------------------------------------------------------------------------------

    def agree(self) -> None:
        """Under torchrun: every process must end with the same parameters (DDP's promise), and the record says so."""
        if not self.world.distributed:
            return
        digest = hashlib.sha256()
        for name, p in self.raw.named_parameters():
            digest.update(name.encode())
            digest.update(p.detach().cpu().contiguous().numpy().tobytes())
        by_rank = self.world.gather(digest.hexdigest())
        if self.main:
            self.run.record["processes"] = {"world_size": self.world.size, "parameters_sha256": by_rank,
                                            "identical": len(set(by_rank)) == 1}
        if len(set(by_rank)) != 1:
            raise TrainingFailed(f"the {self.world.size} processes ended with different parameters "
                                 f"(sha256 by rank: {', '.join(h[:12] for h in by_rank)})", self.state.step)

    def final_metrics(self) -> dict:
        task, rows = self.task, self.metrics.rows
        final = {f"{split}_loss": split_loss(self.raw, task.split_batches(split), self.device, self.autocast)
                 for split in task.final_splits}
        step_ms = statistics.median(r["step_ms"] for r in rows if "step_ms" in r)
        tokens_per_s = self.tokens_per_step * 1000 / step_ms
        out = {
            **final,
            "init_loss": self.state.init_loss,
            "best_val_loss": self.state.best_val,
            "best_step": self.state.best_step,
            "steps": self.cfg.train.steps,
            "params": sum(p.numel() for p in self.raw.parameters()),
            "tokens_per_step": self.tokens_per_step,
            "steps_per_s": 1000 / step_ms,
            "tokens_per_s": tokens_per_s,
        }
        mfu = self.mfu(tokens_per_s)
        if mfu is not None:
            out["mfu"] = mfu
        if self.device.type == "cuda":
            out["peak_memory_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        return out

    def figures(self) -> None:
        run, rows, name = self.run, self.metrics.rows, self.cfg.name
        figures.loss_figure(rows, run.file("loss.png"), f"{name}: loss")
        run.add_figure("loss.png", "Loss", "Training loss (light: per logged step; dark: smoothed) and validation loss, log scale. "
                       "Healthy: both fall and flatten together; a widening gap means overfitting.",
                       series=("train_loss", "val_loss"))
        figures.lr_figure(rows, run.file("lr.png"))
        run.add_figure("lr.png", "Learning-rate schedule", "The learning rate used at each step (warmup, then the configured decay).",
                       series=("lr",))
        figures.grad_norm_figure(rows, run.file("grad_norm.png"), f"{name}: gradient norm", self.cfg.optim.grad_clip)
        run.add_figure("grad_norm.png", "Gradient norm", "Global L2 norm of the gradient before clipping, per logged step. "
                       "Spikes that do not settle, or a steady climb, are signs of instability.", series=("grad_norm",))
        figures.throughput_figure(rows, run.file("throughput.png"), f"{name}: throughput")
        run.add_figure("throughput.png", "Throughput", "Training tokens processed per second at each logged step "
                       "(includes data loading and the optimiser; evaluations are excluded). The first steps include "
                       "warm-up and, with torch.compile, compilation.", series=("tokens_per_s",))


def train(cfg, task: LMTask, run: Run | None, resume: dict | None = None) -> dict:
    """Train `task.model` for cfg.train.steps (from a checkpoint's state when resuming) and return
    the final metrics. `run` is None on every process but rank 0, which alone evaluates and writes."""
    loop = Loop(cfg, task, run)
    if resume is not None:
        loop.restore(resume)
    loop.run_steps()
    loop.agree()
    if not loop.main:
        return {}
    metrics = loop.final_metrics()
    for observer in task.observers:
        observer.finish()
    loop.figures()  # while the observers' figures are drawn on the other core
    for observer in task.observers:
        observer.finished()
    return metrics
