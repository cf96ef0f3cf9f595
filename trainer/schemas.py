"""The experiment schemas: one dataclass tree per model type, each field documented under it.

`model.type` in an experiment file picks the schema. Sections shared by several engines
(optimiser, training loop, sampling) are defined once here and reused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from .config import ConfigError, Fraction, NonNegative, Positive, Range, _did_you_mean

Count = Annotated[int, Range(ge=1, le=10**9)]
"""A positive count with a sane ceiling, so a typo like 1e12 steps is refused at once."""


@dataclass
class OptimConfig:
    name: Literal["sgd", "adamw"] = "adamw"
    """optimiser: plain minibatch SGD (with optional momentum) or AdamW"""
    lr: Annotated[float, Range(gt=0, le=10)] = 3e-3
    """peak learning rate"""
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.0
    """SGD momentum (ignored by AdamW)"""
    weight_decay: Annotated[float, NonNegative] = 0.0
    """decoupled weight decay for AdamW, L2 penalty for SGD"""
    betas: list[Annotated[float, Range(ge=0, lt=1)]] = field(default_factory=lambda: [0.9, 0.99])
    """AdamW's moment decay rates (beta1, beta2)"""
    schedule: Literal["constant", "step", "cosine"] = "cosine"
    """learning-rate schedule after warmup: constant, step decay at `milestones`, or cosine to `min_lr`"""
    warmup_steps: Annotated[int, NonNegative] = 0
    """steps of linear warmup from 0 to `lr`"""
    min_lr: Annotated[float, NonNegative] = 0.0
    """floor of the cosine schedule"""
    milestones: list[Annotated[float, Range(gt=0, lt=1)]] = field(default_factory=lambda: [0.5, 0.75])
    """step schedule: fractions of training at which the learning rate is multiplied by `gamma`"""
    gamma: Annotated[float, Range(gt=0, le=1)] = 0.1
    """step schedule: factor applied at each milestone"""
    grad_clip: Annotated[float, NonNegative] = 0.0
    """clip the global gradient norm to this value; 0 disables clipping"""

    def check(self):
        if len(self.betas) != 2:
            return "betas", f"expected two numbers [beta1, beta2], got {len(self.betas)}"
        if self.min_lr > self.lr:
            return "min_lr", f"must not exceed lr ({self.lr:g}), got {self.min_lr:g}"
        if self.milestones != sorted(self.milestones):
            return "milestones", f"must be increasing, got {self.milestones}"
        return None


@dataclass
class TrainConfig:
    steps: Count = 1000
    """optimisation steps"""
    batch_size: Count = 32
    """examples per step"""
    eval_interval: Count = 500
    """steps between validation-loss evaluations (and at the last step)"""
    eval_batches: Annotated[int, NonNegative] = 0
    """batches of `batch_size` per evaluation; 0 evaluates the whole split"""
    log_interval: Count = 100
    """steps between progress lines when the output is not a terminal"""
    checkpoint_interval: Annotated[int, NonNegative] = 0
    """steps between checkpoints; 0 writes one only at the end"""
    threads: Annotated[int, Range(ge=0, le=1024)] = 0
    """torch CPU threads; 0 keeps torch's default (one per core)"""


@dataclass
class SampleConfig:
    count: Annotated[int, Range(ge=0, le=10_000)] = 20
    """how many samples to draw at the end of training"""
    seed: int = 42
    """seed of the sampling generator, independent of the training seed"""
    temperature: Annotated[float, Range(gt=0, le=100)] = 1.0
    """softmax temperature; below 1 is more conservative"""
    max_length: Annotated[int, Range(ge=1, le=100_000)] = 40
    """longest sample, in tokens"""


@dataclass
class NamesDataConfig:
    dataset: Literal["census-surnames", "census-first-names"] = "census-surnames"
    """word list from the `names` package: US census surnames, or female and male first names"""
    path: str | None = None
    """a UTF-8 file with one word per line to use instead of `dataset`"""
    split: list[Annotated[float, Fraction]] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    """train / validation / test fractions of the words"""
    split_seed: int = 42
    """seed of the word shuffle before splitting, fixed so the split never moves"""
    context: Annotated[int, Range(ge=1, le=64)] = 3
    """characters of context the model sees before predicting the next one"""

    def check(self):
        if len(self.split) != 3 or abs(sum(self.split) - 1) > 1e-6:
            return "split", f"expected three fractions [train, val, test] summing to 1, got {self.split}"
        if min(self.split) <= 0:
            return "split", f"every fraction must be > 0, got {self.split}"
        return None


@dataclass
class MLPModelConfig:
    type: Literal["mlp"] = "mlp"
    """model family; `mlp` is the makemore-style character MLP"""
    n_embd: Annotated[int, Range(ge=1, le=4096)] = 10
    """size of each character's embedding vector"""
    n_hidden: Annotated[int, Range(ge=1, le=65536)] = 200
    """units in the hidden (Linear -> BatchNorm -> tanh) layer"""
    last_layer_scale: Annotated[float, Range(gt=0, le=1)] = 0.1
    """scale of the output layer's initial weights, so the first loss is near -log(1/vocab)"""
    tanh_gain: Annotated[float, Positive] = 5 / 3
    """Kaiming gain of the hidden layer's initial weights (5/3 for tanh)"""
    bn_momentum: Annotated[float, Range(gt=0, le=1)] = 0.001
    """BatchNorm running-statistics momentum"""
    backprop: Literal["autograd", "manual"] = "autograd"
    """how gradients are computed: torch autograd, or the hand-written backward pass of `models/mlp_manual.py` (parameters then updated by hand-written SGD, no torch.optim)"""
    grad_check_interval: Count = 1000
    """manual backprop: steps between comparisons of every hand-computed gradient with autograd's on the same batch (also at the first and the last step)"""
    grad_check_rtol: Annotated[float, Range(ge=0, le=1)] = 1e-4
    """manual backprop: relative tolerance of the gradient check (torch.allclose's rtol); a gradient outside it fails the run"""
    grad_check_atol: Annotated[float, Range(ge=0, le=1)] = 1e-7
    """manual backprop: absolute tolerance of the gradient check (torch.allclose's atol)"""


@dataclass
class IntrospectConfig:
    interval: Annotated[int, NonNegative] = 500
    """steps between snapshots of activation, gradient, update and BatchNorm statistics (also at the first and the last step); 0 turns introspection off"""
    bins: Annotated[int, Range(ge=2, le=1000)] = 50
    """histogram bins for activations and gradients"""
    saturation: Annotated[float, Range(gt=0, lt=1)] = 0.97
    """a tanh unit counts as saturated when |output| exceeds this; dead when saturated for every example of the batch"""
    init_loss_tolerance: Annotated[float, Range(gt=0, le=10)] = 0.1
    """the first loss is flagged when it differs from -log(1/vocab) by more than this fraction of it"""


@dataclass
class MLPExperiment:
    name: str
    """experiment name: names the run folders and the experiment page"""
    model: MLPModelConfig
    """the model"""
    description: str = ""
    """one or two sentences shown at the top of the experiment page"""
    tags: list[str] = field(default_factory=list)
    """free labels for grouping on the site"""
    notes: str = ""
    """anything a reviewer should know about this experiment"""
    seed: int = 1337
    """seed of all training randomness (initialisation, batch order)"""
    data: NamesDataConfig = field(default_factory=NamesDataConfig)
    """the word list"""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """the optimiser and its learning-rate schedule"""
    train: TrainConfig = field(default_factory=TrainConfig)
    """the training loop"""
    sample: SampleConfig = field(default_factory=lambda: SampleConfig(max_length=30))
    """names drawn from the trained model"""
    introspect: IntrospectConfig = field(default_factory=IntrospectConfig)
    """architectural introspection: what the network's layers, gradients and updates look like during training"""

    def check(self):
        if self.model.backprop == "manual" and self.optim.name != "sgd":
            return "optim.name", f"manual backprop updates parameters with hand-written SGD; expected 'sgd', got {self.optim.name!r}"
        return check_name(self.name)


def check_name(name: str):
    """Experiment names become folder names and URLs, so they are kept to a safe alphabet."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", name):
        return "name", f"expected 1-64 lower-case letters, digits and '-' (starting with a letter or digit), got {name!r}"
    return None


SCHEMAS: dict[str, type] = {"mlp": MLPExperiment}
"""model.type -> experiment schema; each engine's schema is registered here."""


def schema_for(data: dict, source: str) -> type:
    model = data.get("model")
    if not isinstance(model, dict) or "type" not in model:
        raise ConfigError(source, "model.type", f"missing; expected one of {', '.join(map(repr, SCHEMAS))}")
    kind = model["type"]
    if kind not in SCHEMAS:
        hint = _did_you_mean(str(kind), list(SCHEMAS))
        raise ConfigError(source, "model.type", f"expected one of {', '.join(map(repr, SCHEMAS))}, got {kind!r}{hint}")
    return SCHEMAS[kind]
