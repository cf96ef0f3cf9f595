"""The makemore-style character MLP on a word list (`model.type: mlp`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from ..config import Fraction, Positive, Range
from .common import Count, ExperimentHeader, IntrospectConfig, OptimConfig, SampleConfig
from .lm import LMTrainConfig


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


@dataclass(kw_only=True)
class MLPExperiment(ExperimentHeader):
    model: MLPModelConfig
    """the model"""
    data: NamesDataConfig = field(default_factory=NamesDataConfig)
    """the word list"""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """the optimiser and its learning-rate schedule"""
    train: LMTrainConfig = field(default_factory=LMTrainConfig)
    """the training loop"""
    sample: SampleConfig = field(default_factory=lambda: SampleConfig(max_length=30))
    """names drawn from the trained model"""
    introspect: IntrospectConfig = field(default_factory=IntrospectConfig)
    """architectural introspection: what the network's layers, gradients and updates look like during training"""

    def check(self):
        if self.model.backprop == "manual" and self.optim.name != "sgd":
            return "optim.name", f"manual backprop updates parameters with hand-written SGD; expected 'sgd', got {self.optim.name!r}"
        return super().check()
