"""What the engine is, for Trainbook: its experiment schema and its EngineSpec, the entry point's object.

Torch-free, as a spec module must be: Trainbook imports it to check an experiment file, list the engine in the
guide's configuration reference and build run pages, none of which should wait for torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from trainer.plugin import Count, EngineSpec, ExperimentHeader, Fraction, KeyMetric, LoopConfig, Positive, Range

CONFUSION = "confusion.json"
"""the validation set's confusion matrix, which the page section shows"""


@dataclass
class MoonsData:
    samples: Annotated[int, Range(ge=20, le=100_000)] = 600
    """points generated, half on each moon"""
    noise: Annotated[float, Range(ge=0, le=2)] = 0.2
    """standard deviation of the Gaussian noise added to every point"""
    val_fraction: Annotated[float, Fraction] = 0.25
    """share of the points held out for validation"""
    data_seed: int = 7
    """seed of the points' generator, apart from the training seed, so the data never moves"""


@dataclass
class ClassifierModel:
    type: Literal["toy-classifier"] = "toy-classifier"
    """the engine: the toy-classifier plugin"""
    hidden: Annotated[int, Range(ge=1, le=1024)] = 16
    """units in each of the two tanh layers"""


@dataclass
class ClassifierTrain(LoopConfig):
    steps: Count = 400
    """full-batch gradient steps"""
    lr: Annotated[float, Positive] = 0.1
    """learning rate of plain SGD with momentum 0.9"""
    eval_interval: Count = 50
    """steps between validation accuracy measurements"""


@dataclass(kw_only=True)
class ToyExperiment(ExperimentHeader):
    model: ClassifierModel
    """the classifier"""
    data: MoonsData = field(default_factory=MoonsData)
    """the generated two-moons points"""
    train: ClassifierTrain = field(default_factory=ClassifierTrain)
    """the training loop"""


SPEC = EngineSpec(
    model_type="toy-classifier",
    schema=ToyExperiment,
    kind="classifier",
    key_metric=KeyMetric("val_accuracy", "max", "val accuracy", "fraction of validation points"),
    module="toy_classifier.engine",
    description="a two-layer MLP on generated two-moons points (an engine from another package)",
    resumable=True,
    sections=("toy_classifier.sections:confusion",),
    artifacts=(CONFUSION,),
)
