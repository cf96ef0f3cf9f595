"""Engine for image classification (`model.type: image`), written only against the public API.

The images are split per class (stratified, seeded by `data.split_seed`) into training, validation and test;
pixels are standardised by the training split's mean and standard deviation per channel. The network is a few
3 x 3 convolutions with ReLU, a 2 x 2 max-pool, an average pool to `model.grid` x `model.grid` cells, and a
classifier MLP, trained with cross-entropy. Training images are shifted by up to `train.shift` pixels each way
(zero padded), the cheapest augmentation that keeps a digit a digit.

Validation runs after every epoch; the test split is scored once, at the end: accuracy per class, the confusion
matrix and every misclassified image (classification.json), with figures of them and of the first layer's filters.

Randomness: the network is initialised from the global seed (the session seeds it before `prepare`); each epoch's
order and each step's shifts are drawn from generators seeded by (seed, epoch) and (seed, step) alone. A checkpoint
therefore needs only the step, the model and the optimiser, and `train(prepared, run, resume=checkpoint)` continues
the exact trajectory.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn import functional as F

from trainer.plugin import (CHECKPOINT, METRICS, CheckpointError, ConfigError, MetricsLog, Progress, Run,
                            TrainingFailed, lr_at, make_optimizer, optimizer_step, save_checkpoint, set_lr, step_boundary)

from . import CLASSIFICATION, ImageExperiment, figures
from . import data as image_data

MISCLASSIFIED_SHOWN = 24


class ConvNet(nn.Module):
    def __init__(self, in_channels: int, channels: list[int], grid: int, hidden: int, classes: int):
        super().__init__()
        layers, width = [], in_channels
        for out in channels:
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.ReLU()]
            width = out
        self.features = nn.Sequential(*layers, nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(grid))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(width * grid * grid, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    @property
    def first_filters(self) -> torch.Tensor:
        return self.features[0].weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    """indices into the images, each sorted"""


@dataclass
class Prepared:
    cfg: ImageExperiment
    model: ConvNet
    data_record: dict
    images: image_data.Images
    split: Split
    inputs: torch.Tensor
    """every image, standardised by the training split's per-channel mean and standard deviation"""


def prepare(cfg: ImageExperiment, source: str) -> Prepared:
    images = image_data.load(cfg.data, source)
    split = stratified_split(images.labels, cfg, source)
    pixels = images.pixels
    mean = pixels[split.train].mean(axis=(0, 2, 3), keepdims=True)
    std = pixels[split.train].std(axis=(0, 2, 3), keepdims=True) + 1e-6
    inputs = torch.from_numpy((pixels - mean) / std)
    model = ConvNet(pixels.shape[1], cfg.model.channels, cfg.model.grid, cfg.model.hidden, len(images.classes))
    record = {**images.record, "classes": images.classes, "image_size": pixels.shape[-1], "channels": pixels.shape[1],
              "split": {"seed": cfg.data.split_seed, "stratified": True, "train": len(split.train), "val": len(split.val),
                        "test": len(split.test)}}
    return Prepared(cfg, model, record, images, split, inputs)


def stratified_split(labels: np.ndarray, cfg: ImageExperiment, source: str) -> Split:
    """Test, then validation, split off every class in proportion (scikit-learn's train_test_split)."""
    d = cfg.data
    everything = np.arange(len(labels))
    try:
        rest, test = train_test_split(everything, test_size=d.test_fraction, stratify=labels, random_state=d.split_seed)
        train, val = train_test_split(rest, test_size=d.val_fraction / (1 - d.test_fraction), stratify=labels[rest],
                                      random_state=d.split_seed)
    except ValueError as e:  # too few images for a class to appear in every split
        raise ConfigError(source, "data.test_fraction", f"cannot split {len(labels)} images in {len(set(labels.tolist()))} "
                          f"classes by class ({e})") from None
    return Split(np.sort(train), np.sort(val), np.sort(test))


# --- randomness that depends on (seed, position) alone --------------------------------------

def _generator(*key: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(key)).generate_state(1)[0]))


@lru_cache(maxsize=2)
def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    return torch.randperm(n, generator=_generator(seed, epoch, 0))


def shifted(batch: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image moved by up to `shift` pixels each way, the uncovered border filled with zeros (the mean)."""
    if shift == 0:
        return batch
    size = batch.shape[-1]
    padded = F.pad(batch, (shift, shift, shift, shift))
    offsets = torch.randint(0, 2 * shift + 1, (len(batch), 2), generator=generator).tolist()
    return torch.stack([padded[i, :, dy: dy + size, dx: dx + size] for i, (dy, dx) in enumerate(offsets)])


# --- the training loop ----------------------------------------------------------------------

def checkpoint_state(step: int, model: nn.Module, optimizer: torch.optim.Optimizer, elapsed_s: float) -> dict:
    """Everything the next step depends on (the data order is a function of the step); `train(..., resume=this)`."""
    return {"engine": "image", "step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "elapsed_s": elapsed_s}


@torch.no_grad()
def evaluate(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """Mean cross-entropy, accuracy and the softmax probabilities of a set of images."""
    logits = model(inputs)
    loss = F.cross_entropy(logits, labels).item()
    return loss, (logits.argmax(1) == labels).double().mean().item(), logits.softmax(1)


def steps_per_epoch(p: Prepared) -> int:
    return math.ceil(len(p.split.train) / p.cfg.train.batch_size)


@dataclass
class _Training:
    """The pieces of one run, put together once; `step` runs one optimisation step and what follows it."""

    p: Prepared
    run: Run
    optimizer: torch.optim.Optimizer
    metrics: MetricsLog
    labels: torch.Tensor
    steps_per_epoch: int
    total: int
    progress: Progress

    def step(self, step: int) -> None:
        cfg, tc = self.p.cfg, self.p.cfg.train
        epoch, position = divmod(step, self.steps_per_epoch)
        order = epoch_order(cfg.seed, epoch, len(self.p.split.train))
        index = torch.from_numpy(self.p.split.train)[order[position * tc.batch_size: (position + 1) * tc.batch_size]]
        lr = lr_at(cfg.optim, step, self.total)
        set_lr(self.optimizer, lr)
        batch = shifted(self.p.inputs[index], tc.shift, _generator(cfg.seed, step, 1))
        loss = F.cross_entropy(self.p.model(batch), self.labels[index])
        if not torch.isfinite(loss):
            self.metrics.flush()
            raise TrainingFailed(f"the training loss became {loss.item()} at step {step + 1}", step + 1)
        optimizer_step(self.optimizer, loss, self.p.model.parameters(), cfg.optim.grad_clip)
        done = step + 1
        row = {"train_loss": loss.item(), "lr": lr, "epoch": epoch + 1}
        if done % self.steps_per_epoch == 0:
            val = torch.from_numpy(self.p.split.val)
            row["val_loss"], row["val_accuracy"], _ = evaluate(self.p.model, self.p.inputs[val], self.labels[val])
        self.metrics.log(done, **row)
        self.progress.update(done, loss=row["train_loss"])
        step_boundary(done, self.total, tc.checkpoint_interval, self.save)

    def save(self, done: int) -> None:
        """metrics.jsonl and the checkpoint together, so the rows on disk always match a resumable state."""
        self.metrics.flush()
        save_checkpoint(self.run.file(CHECKPOINT), checkpoint_state(done, self.p.model, self.optimizer, self.run.elapsed_s()))


def train(p: Prepared, run: Run, resume: dict | None = None) -> dict:
    """Train for cfg.train.epochs epochs (continuing after `resume`'s step if given), test, return the final metrics."""
    cfg = p.cfg
    optimizer = make_optimizer(p.model, cfg.optim)
    per_epoch = steps_per_epoch(p)
    total = cfg.train.epochs * per_epoch
    metrics, start = MetricsLog(run.file(METRICS), planned=total), 0  # planned: the run's status file says step N of M
    if resume is not None:
        start = _restore(resume, p.model, optimizer)
        metrics = MetricsLog.resume(run.file(METRICS), start, planned=total)
    training = _Training(p, run, optimizer, metrics, torch.from_numpy(p.images.labels), per_epoch, total,
                         Progress(total, start, cfg.name, cfg.train.log_interval))
    began = time.perf_counter()
    try:
        for step in range(start, total):
            training.step(step)
    finally:
        training.progress.close()
    steps_per_s = (total - start) / max(time.perf_counter() - began, 1e-9)
    return {**_test(p, metrics.rows, run), "steps": total, "steps_per_s": steps_per_s}


def _restore(state: dict, model: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    if state.get("engine") != "image":
        raise CheckpointError("not an image-classification checkpoint (it has no 'engine': 'image')")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"])


# --- the test split -------------------------------------------------------------------------

def _test(p: Prepared, rows: list[dict], run: Run) -> dict:
    """Score the test split once: classification.json, the figures, and the final metrics."""
    classes, test = p.images.classes, p.split.test
    truth = p.images.labels[test]
    loss, accuracy, probabilities = evaluate(p.model, p.inputs[torch.from_numpy(test)], torch.from_numpy(truth))
    predicted = probabilities.argmax(1).numpy()
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    wrong = np.flatnonzero(predicted != truth)
    mistakes = [{"image": int(test[i]), "true": classes[truth[i]], "predicted": classes[predicted[i]],
                 "confidence": float(probabilities[i, predicted[i]])} for i in wrong]
    per_class = [{"class": name, "images": int(confusion[c].sum()), "correct": int(confusion[c, c]),
                  "accuracy": float(confusion[c, c] / max(confusion[c].sum(), 1)),
                  "mistaken_for": _most_confused(confusion[c], c, classes)} for c, name in enumerate(classes)]
    run.write_json(CLASSIFICATION, {"classes": classes, "split": p.data_record["split"], "test_accuracy": accuracy,
                                    "test_loss": loss, "per_class": per_class, "confusion": confusion.tolist(),
                                    "misclassified": mistakes})
    _figures(p, rows, run, confusion, wrong, predicted, probabilities.numpy())
    last_val = next(r for r in reversed(rows) if "val_accuracy" in r)
    return {"test_accuracy": accuracy, "test_loss": loss, "val_accuracy": last_val["val_accuracy"], "val_loss": last_val["val_loss"],
            "train_loss": rows[-1]["train_loss"], "misclassified": len(wrong), "test_images": len(test),
            "epochs": p.cfg.train.epochs, "params": sum(t.numel() for t in p.model.parameters())}


def _most_confused(row: np.ndarray, own: int, classes: list[str]) -> str | None:
    others = row.copy()
    others[own] = 0
    return classes[int(others.argmax())] if others.any() else None


def _figures(p: Prepared, rows: list[dict], run: Run, confusion: np.ndarray, wrong: np.ndarray, predicted: np.ndarray,
             probabilities: np.ndarray) -> None:
    name, classes, test = p.cfg.name, p.images.classes, p.split.test
    figures.losses(run.file(figures.LOSS), f"{name}: loss", rows)
    run.add_figure(figures.LOSS, "Loss", "Cross-entropy on each training minibatch (shifted images) and on the validation "
                   "split after every epoch.")
    figures.accuracy(run.file(figures.ACCURACY), f"{name}: validation accuracy", rows)
    run.add_figure(figures.ACCURACY, "Validation accuracy", f"Share of the {len(p.split.val)} validation images classified "
                   "correctly after every epoch.")
    figures.confusion(run.file(figures.CONFUSION), f"{name}: confusion matrix (test split)", confusion, classes)
    run.add_figure(figures.CONFUSION, "Confusion matrix", f"How the {len(test)} test images were classified: row by their "
                   "true class, column by the predicted one; the diagonal holds the correct ones.")
    shown = wrong[:MISCLASSIFIED_SHOWN]
    truth = p.images.labels[test]
    figures.misclassified(run.file(figures.MISCLASSIFIED), f"{name}: misclassified test images",
                          p.images.pixels[test[shown]], [(classes[truth[i]], classes[predicted[i]], float(probabilities[i, predicted[i]]))
                                                        for i in shown], len(wrong))
    run.add_figure(figures.MISCLASSIFIED, "Misclassified test images",
                   f"{'The first ' + str(len(shown)) + ' of the ' if len(wrong) > len(shown) else 'All '}{len(wrong)} test images "
                   "the network got wrong, as it saw them (before standardisation), each with its true class, the predicted "
                   "class and the probability the network gave that prediction.")
    weights = p.model.first_filters.detach().numpy()
    figures.filters(run.file(figures.FILTERS), f"{name}: learned first-layer filters", weights)
    run.add_figure(figures.FILTERS, "First-layer filters",
                   f"The {weights.shape[0]} learned 3 x 3 filters of the first convolution, each on its own symmetric colour "
                   "scale (red positive, blue negative weights): the patterns of a few pixels the network first looks for.")
