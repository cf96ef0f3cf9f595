"""Optimiser construction and learning-rate schedules shared by every gradient-trained engine.

Torch-free until an optimiser is built or stepped (torch is imported in `make_optimizer` and `optimizer_step`, the
way tracking/checkpoint imports it in save and load): the engine author's kit (trainer/plugin.py) offers these to the kinds and to
other packages' engines, and the spec modules that import the kit must stay light.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..schemas.common import OptimConfig

if TYPE_CHECKING:
    import torch
    from torch import nn


def make_optimizer(model: nn.Module, cfg: OptimConfig, fused: bool = False) -> torch.optim.Optimizer:
    """AdamW with weight decay on matrices only (biases and norm gains are not decayed), or SGD.

    `fused` asks for AdamW's single-kernel update (CPU and CUDA): about 4x cheaper per step than the
    per-tensor loop torch uses by default on a CPU, with the same update up to float rounding."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), fused=fused or None)


def lr_at(cfg: OptimConfig, step: int, total_steps: int) -> float:
    """Learning rate for optimisation step `step` (0-based) of `total_steps`."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "step":
        passed = sum(step >= m * total_steps for m in cfg.milestones)
        return cfg.lr * cfg.gamma**passed
    span = max(1, total_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, parameters, grad_clip: float = 0.0) -> None:
    """One update from `loss`: gradients from zero, their global norm clipped to `grad_clip` when it is above 0
    (OptimConfig.grad_clip), then the optimiser's step."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    optimizer.step()


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
