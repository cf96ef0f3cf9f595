"""The language-model loop's settings, shared by every engine that trains through trainer/loop/lm.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from ..config import NonNegative, Range
from .common import Count, LoopConfig


@dataclass
class LMSchedule:
    """How long the language-model loop trains and how often it evaluates (declared before LoopConfig's fields)."""

    steps: Count = 1000
    """optimisation steps"""
    batch_size: Count = 32
    """examples per micro-batch in each process (one micro-batch per step unless `tokens_per_step` asks for more)"""
    eval_interval: Count = 500
    """steps between validation-loss evaluations (and at the last step)"""
    eval_batches: Annotated[int, NonNegative] = 0
    """batches of `batch_size` per evaluation; 0 evaluates the whole split"""


@dataclass
class LMTrainConfig(LoopConfig, LMSchedule):
    """The language-model loop's settings: its schedule, the loop basics, then accumulation, device, precision and
    compilation (in that order in the resolved config)."""

    tokens_per_step: Annotated[int, Range(ge=0, le=10**9)] = 0
    """predicted tokens per optimisation step over all processes; gradients are accumulated over as many
    micro-batches as that takes (it must be a multiple of batch_size x tokens per example x processes);
    0 means one micro-batch per process"""
    device: Literal["cpu", "cuda", "mps", "auto"] = "cpu"
    """where to train: cpu (bit-reproducible), cuda, mps, or auto (cuda, then mps, then cpu)"""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """fp32, or mixed precision through torch.autocast: bf16, or fp16 (with a gradient scaler)"""
    compile: bool = False
    """compile the model with torch.compile (slow to start, faster on GPUs)"""
    keep_best: bool = True
    """besides the last checkpoint, keep best.pt: the state with the lowest validation loss"""
    peak_flops: Annotated[float, NonNegative] = 0.0
    """the device's peak FLOP/s per process for model FLOPs utilisation (MFU); 0 looks the GPU up in a
    table of known peaks (CPUs report no MFU)"""
