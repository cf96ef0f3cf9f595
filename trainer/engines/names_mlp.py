"""Engine for the makemore-style character MLP on a word list (`model.type: mlp`).

`model.backprop: manual` trains the same network through its hand-written backward pass and SGD,
with a gradient check against autograd; everything else (data, loop, figures, samples) is shared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..figures import training as figures
from ..runtime import distributed, seeding
from ..data import words
from ..introspect.recorder import Introspector
from ..models.mlp import CharMLP
from ..models.mlp_manual import OUTPUTS, ManualCharMLP
from ..schemas.mlp import MLPExperiment
from ..tracking import layout
from ..tracking.run import Run
from ..loop import lm
from .gradcheck import GradientCheck
from .manual_sgd import make_manual_sgd

EVAL_CHUNK = 8192  # examples per forward pass when scoring a whole split


@dataclass
class Prepared:
    cfg: MLPExperiment
    data: words.WordData
    model: CharMLP | ManualCharMLP

    @property
    def data_record(self) -> dict:
        return self.data.record


def prepare(cfg: MLPExperiment, source: str) -> Prepared:
    world = distributed.current()
    if cfg.model.backprop == "manual" and world.distributed:
        raise ConfigError(source, "model.backprop", f"the hand-written backward pass trains in one process (DDP averages "
                          f"autograd's gradients); this launch has {world.size}: use backprop: autograd, or no torchrun")
    lm.accumulation_steps(cfg, 1, world.size, source)
    data = words.load(cfg.data, source)
    model_class = ManualCharMLP if cfg.model.backprop == "manual" else CharMLP
    return Prepared(cfg, data, model_class(cfg.model, data.vocab_size, cfg.data.context))


def _task(p: Prepared, run: Run | None) -> lm.LMTask:
    X, Y = p.data.examples["train"]

    def train_batch(ix: torch.Tensor):
        return X[ix], Y[ix]

    def split_batches(split: str):
        xs, ys = p.data.examples[split]
        return [(xs[i:i + EVAL_CHUNK], ys[i:i + EVAL_CHUNK]) for i in range(0, len(ys), EVAL_CHUNK)]

    task = lm.LMTask(p.model, len(Y), train_batch, split_batches)
    if p.cfg.model.backprop == "manual":
        task.make_optimizer = make_manual_sgd
        task.backward = lambda loss: p.model.backward()  # the model kept what its last forward needs
        if run is not None:  # observers write into the run: rank 0 only
            task.observers.append(_gradient_check(p, run))
    if p.cfg.introspect.interval and run is not None:
        task.observers.append(Introspector(p.model, p.cfg.introspect, run, math.log(p.data.vocab_size), p.cfg.name))
    return task


def _gradient_check(p: Prepared, run: Run) -> GradientCheck:
    m = p.cfg.model
    with torch.random.fork_rng(devices=[]):  # the twin's own initialisation is overwritten before every check
        twin = CharMLP(m, p.data.vocab_size, p.cfg.data.context)
    return GradientCheck(p.model, twin, OUTPUTS, run, m.grad_check_interval, m.grad_check_rtol, m.grad_check_atol)


def train(p: Prepared, run: Run | None, resume: dict | None = None) -> dict:
    cfg = p.cfg
    metrics = lm.train(cfg, _task(p, run), run, resume)
    if run is None:  # not rank 0: nothing to write
        return metrics
    metrics["uniform_loss"] = math.log(p.data.vocab_size)

    p.model.cpu()  # sampling and the embedding figure run on the CPU, wherever training ran
    gen = seeding.generator(cfg.sample.seed)
    samples = p.model.generate(cfg.sample.count, cfg.sample.max_length, cfg.sample.temperature, gen)
    run.write_text(layout.SAMPLES, "".join(p.data.decode(s) + "\n" for s in samples))

    weights = p.model.embedding.weight.detach().numpy()
    run.write_json(layout.EMBEDDINGS, {
        "labels": p.data.chars,
        "vectors": [[round(float(v), 6) for v in row] for row in weights],
        "note": "character embeddings after training; label '.' is the word boundary",
    })
    figures.embedding_figure(weights, p.data.chars, run.file("embeddings.png"), f"{cfg.name}: character embeddings")
    run.add_figure("embeddings.png", "Character embeddings", "Each character's learned embedding projected to two dimensions "
                   "('.' is the word boundary). Characters the model treats alike sit close together, e.g. the vowels.")
    return metrics
