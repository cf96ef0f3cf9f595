"""Statistics of a network's activations, gradients, updates and BatchNorm estimates.

Plain functions of tensors, so each can be checked against numbers worked out by hand. Standard
deviations are the sample (n - 1) kind, torch's default. Every value comes back as a JSON-ready
float rounded to six significant digits, or None where it is undefined (e.g. the ratio to a
parameter whose values are all equal, like a bias still at zero).
"""
from __future__ import annotations

import math

import torch

SIGNIFICANT = 6


def number(value) -> float | None:
    value = float(value)
    return float(f"{value:.{SIGNIFICANT}g}") if math.isfinite(value) else None


def ratio(numerator: float, denominator: float) -> float | None:
    return number(numerator / denominator) if denominator > 0 else None


def std(t: torch.Tensor) -> float:
    return t.float().std().item() if t.numel() > 1 else 0.0


def units(t: torch.Tensor) -> torch.Tensor:
    """An activation tensor as [examples, units]: every leading dimension (batch, time) is an example."""
    return t.detach().reshape(-1, t.shape[-1])


def activation_stats(output: torch.Tensor, kind: str, saturation: float) -> dict:
    """Mean and spread of a nonlinearity's output, and how much of it has stopped passing gradient.

    tanh: a value is saturated when |value| > `saturation`; a unit is dead when it is saturated for
    every example (its gradient is ~0 for the whole batch). relu: a unit is dead when it outputs 0
    for every example; "saturated" does not apply. Other kinds report mean and std only.
    """
    x = units(output).float()
    stats = {"mean": number(x.mean()), "std": number(std(x)), "saturated": None, "dead": None}
    if kind == "tanh":
        flat = x.abs() > saturation
        stats.update(saturated=number(flat.float().mean()), dead=number(flat.all(0).float().mean()))
    elif kind == "relu":
        stats["dead"] = number((x <= 0).all(0).float().mean())
    return stats


def gradient_stats(grad: torch.Tensor, data: torch.Tensor) -> dict:
    """Mean and std of a gradient, and its std relative to the std of the values it belongs to."""
    g = grad.detach().float()
    return {"grad_mean": number(g.mean()), "grad_std": number(std(g)), "grad_to_data": ratio(std(g), std(data))}


def update_to_data(before: torch.Tensor, after: torch.Tensor) -> float | None:
    """log10(std(update) / std(parameter)): about -3 is the customary healthy rate of change.

    Measured from the parameter itself, so it is exactly lr * grad for plain SGD and the real step
    for momentum or AdamW.
    """
    change = std(after.detach() - before)
    scale = std(before)
    if change <= 0 or scale <= 0:
        return None
    return number(math.log10(change / scale))


def histogram(t: torch.Tensor, bins: int) -> dict:
    """Counts of `bins` equal-width bins between the tensor's min and max."""
    x = t.detach().float().flatten()
    low, high = x.min().item(), x.max().item()
    if high <= low:  # a constant tensor still gets a visible bar
        low, high = low - 0.5, high + 0.5
    counts = torch.histc(x, bins=bins, min=low, max=high)
    edges = torch.linspace(low, high, bins + 1)
    return {"edges": [number(e) for e in edges], "counts": [int(c) for c in counts]}


def batch_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and unbiased variance of a BatchNorm input ([N, C] or [N, C, L])."""
    channels = x.detach().float().movedim(1, -1).reshape(-1, x.shape[1])
    return channels.mean(0), channels.var(0)


def batchnorm_stats(x: torch.Tensor, running_mean: torch.Tensor, running_var: torch.Tensor) -> dict:
    """How well the running statistics (used at evaluation) estimate this batch's statistics.

    mean_offset: mean over channels of |running mean - batch mean| / batch std; a batch of n
    examples alone gives about sqrt(2 / (pi n)) (`mean_offset_noise`). var_ratio: median over
    channels of running var / batch var; 1 is a perfect estimate.
    """
    mean, var = batch_moments(x)
    n = x.numel() // x.shape[1]
    offset = ((running_mean.float() - mean).abs() / var.sqrt()).mean()
    return {"mean_offset": number(offset), "mean_offset_noise": number(math.sqrt(2 / (math.pi * n))),
            "var_ratio": number((running_var.float() / var).quantile(0.5))}


def attention_entropy(probabilities: torch.Tensor) -> list[float | None]:
    """Mean entropy (nats) of each head's attention over the keys, from weights (batch, heads, queries, keys):
    0 when every query attends to a single token, `uniform_attention_entropy` when it spreads evenly."""
    p = probabilities.detach().float()
    return [number(h) for h in torch.special.entr(p).sum(-1).mean(dim=(0, 2))]


def uniform_attention_entropy(length: int) -> float | None:
    """The mean entropy of causal attention spread evenly over the visible keys: query t sees t + 1 of them
    (log(t + 1) nats), averaged over the `length` queries of a window."""
    return number(sum(math.log(t + 1) for t in range(length)) / length)
