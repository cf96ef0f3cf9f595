"""Sections several engines share: the experiment header, the optimiser, the loop basics, sampling, introspection."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from .. import gates as gate_rules
from ..config import NonNegative, Range

Count = Annotated[int, Range(ge=1, le=10**9)]
"""A positive count with a sane ceiling, so a typo like 1e12 steps is refused at once."""
SHA256 = re.compile(r"[0-9a-f]{64}")
DOWNLOAD_SCHEMES = ("http://", "https://", "file://")


def check_download(url: str | None, sha256: str | None):
    """The mistake in a data section's `url` and `sha256` pair as (key, message), or None: a download needs the
    sha256 it must have, so a changed file is refused rather than trained on."""
    if url is not None and not sha256:
        return "sha256", "required with url: the sha256 of the expected download, so a changed file is refused"
    if url is not None and not url.startswith(DOWNLOAD_SCHEMES):
        return "url", f"expected an http://, https:// or file:// address, got {url!r}"
    if sha256 is not None and not SHA256.fullmatch(sha256):
        return "sha256", f"expected 64 lower-case hex digits, got {sha256!r}"
    return None


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
class LoopConfig:
    """What every training loop has, whatever it trains: logging, checkpoints, threads, determinism.

    A loop's own settings come first in its resolved config (see LMTrainConfig, PolicyTrainConfig): the
    field order is part of the config's sha256, which every recorded run's config.yaml is checked against."""

    log_interval: Count = 100
    """steps between progress lines when the output is not a terminal"""
    checkpoint_interval: Annotated[int, NonNegative] = 0
    """steps between checkpoints; 0 writes one only at the end"""
    threads: Annotated[int, Range(ge=0, le=1024)] = 0
    """torch CPU threads; 0 keeps torch's default (one per core)"""
    deterministic: bool = False
    """use only deterministic algorithms (torch.use_deterministic_algorithms, deterministic cuDNN, a fixed cuBLAS
    workspace); an operation without one stops the run. The record says whether it was on. CPU runs are
    bit-identical without it, at the same thread count"""


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
class IntrospectConfig:
    interval: Annotated[int, NonNegative] = 500
    """steps between snapshots of activation, gradient, update, BatchNorm and attention statistics (also at the first and the last step); 0 turns introspection off"""
    bins: Annotated[int, Range(ge=2, le=1000)] = 50
    """histogram bins for activations and gradients"""
    saturation: Annotated[float, Range(gt=0, lt=1)] = 0.97
    """a tanh unit counts as saturated when |output| exceeds this; dead when saturated for every example of the batch"""
    init_loss_tolerance: Annotated[float, Range(gt=0, le=10)] = 0.1
    """the first loss is flagged when it differs from -log(1/vocab) by more than this fraction of it"""


MIRRORS = ("mlflow", "tensorboard")
"""the tools a run can be mirrored into while it trains (trainer/exporters/)"""
TRACKING_URI = re.compile(r"(?:sqlite|file|https?|databricks)://|[^:]*$")
"""an MLflow tracking URI the mirror accepts: a database, a folder (a file store), a server, or a bare path"""


@dataclass
class TrackingConfig:
    """What leaves the run folder besides the site's pages: the model files the site offers, and live mirrors into the
    experiment trackers a team already uses. None of it changes what is trained."""

    weights_max_mib: Annotated[float, Range(gt=0, le=1024)] = 8.0
    """largest model file (weights only, or a learned vocabulary), in MiB, that a finished run exports for its page: the
    page offers it for download and the published history keeps it. A bigger model keeps only its checkpoints; raise
    this to publish it"""
    mirror: list[Literal["mlflow", "tensorboard"]] = field(default_factory=list)
    """log the run into these tools while it trains: the flattened config, every metric row with its step, tags, then
    the sealed record, figures and verification status (`python -m trainer export` does the same for a finished run)"""
    mlflow_uri: str = ""
    """MLflow tracking URI for `mirror: [mlflow]`: sqlite:///mlflow.db, a folder (MLflow's file store) or a server's
    address; empty: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db. Credentials go in MLflow's environment variables"""
    tensorboard_dir: str = ""
    """TensorBoard log folder for `mirror: [tensorboard]`, one subfolder per experiment and run; empty:
    $TRAINBOOK_TENSORBOARD_DIR, else ./tensorboard"""

    def check(self):
        if len(set(self.mirror)) != len(self.mirror):
            return "mirror", f"names a tool twice: {self.mirror}"
        if self.mlflow_uri and not TRACKING_URI.match(self.mlflow_uri):
            return "mlflow_uri", (f"expected sqlite:///..., file:///..., http(s)://... or a folder, got {self.mlflow_uri!r}")
        return None


@dataclass(kw_only=True)
class ExperimentHeader:
    """What every experiment file has, whatever it trains."""

    name: str
    """experiment name: names the run folders and the experiment page"""
    description: str = ""
    """one or two sentences shown at the top of the experiment page"""
    tags: list[str] = field(default_factory=list)
    """free labels for grouping on the site"""
    notes: str = ""
    """anything a reviewer should know about this experiment"""
    seed: int = 1337
    """seed of all training randomness (initialisation, batch order, sampled actions)"""
    gates: dict[str, str] = field(default_factory=dict)
    """quality gates a run must pass, e.g. {val_loss: "<= 2.35", reproduce: identical}; checked by `make gate`"""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """the model files published with the run, and mirrors into MLflow or TensorBoard"""

    def check(self):
        return check_name(self.name) or gate_rules.check(self.gates)


def check_name(name: str):
    """Experiment names become folder names and URLs, so they are kept to a safe alphabet."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", name):
        return "name", f"expected 1-64 lower-case letters, digits and '-' (starting with a letter or digit), got {name!r}"
    return None
