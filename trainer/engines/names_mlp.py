"""Engine for the makemore-style character MLP on a word list (`model.type: mlp`).

`model.backprop: manual` trains the same network through its hand-written backward pass and SGD,
with a gradient check against autograd; everything else (data, loop, figures, samples) is shared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch

from ..errors import ConfigError, UsageError
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
from .contract import SampleRequest
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


def _model(cfg: MLPExperiment, vocab_size: int) -> CharMLP | ManualCharMLP:
    model_class = ManualCharMLP if cfg.model.backprop == "manual" else CharMLP
    return model_class(cfg.model, vocab_size, cfg.data.context)


def prepare(cfg: MLPExperiment, source: str) -> Prepared:
    world = distributed.current()
    lm.accumulation_steps(cfg, 1, world.size, source)
    data = words.load(cfg.data, source)
    return Prepared(cfg, data, _model(cfg, data.vocab_size))


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
    texts = _words(p.model, p.data.chars, cfg.sample, [])
    run.write_text(layout.SAMPLES, "".join(text + "\n" for text in texts))

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


def _words(model: CharMLP | ManualCharMLP, chars: list[str], s, prefix: list[int]) -> list[str]:
    """`s.count` words drawn as the `sample` settings (or a SampleRequest) say, each starting with `prefix`."""
    drawn = model.generate(s.count, s.max_length, s.temperature, seeding.generator(s.seed), prefix)
    return ["".join(chars[i] for i in word) for word in drawn]


# --- a trained run's model: `trainer sample` -------------------------------------------------------------

@dataclass
class Trained:
    cfg: MLPExperiment
    model: CharMLP | ManualCharMLP
    chars: list[str]


def load_trained(cfg: MLPExperiment, record: dict, files: Mapping[str, Path], state: dict, device: str) -> Trained:
    """The run's MLP with its weights, and its vocabulary as the record lists it (sampling runs on the CPU)."""
    if device not in ("cpu", "auto"):
        raise UsageError("--device", "", f"an mlp samples one character at a time on the CPU; leave --device out (got {device!r})")
    chars = list((record.get("data") or {}).get("chars") or "")
    if not chars:
        raise ConfigError(layout.RECORD, "data.chars",
                          "the record does not list the run's vocabulary (trained before Trainbook recorded it); train it again")
    model = _model(cfg, len(chars))
    model.load_state_dict(state)
    return Trained(cfg, model, chars)


def sample(trained: Trained, request: SampleRequest) -> list[str]:
    """Words from the model; a prompt is the start every word shares."""
    if request.top_k:
        raise UsageError("--top-k", "", "the mlp engine samples from the whole distribution; leave --top-k out")
    s = request.over(trained.cfg.sample)
    index = {c: i for i, c in enumerate(trained.chars)}
    unknown = [c for c in s.prompt or "" if c not in index or index[c] == 0]
    if unknown:
        raise UsageError("--prompt", "", f"{s.prompt!r}: {unknown[0]!r} is not a letter of this run's vocabulary "
                         f"({''.join(trained.chars[1:])})")
    return _words(trained.model, trained.chars, s, [index[c] for c in s.prompt or ""])
