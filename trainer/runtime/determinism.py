"""The determinism switch (`train.deterministic: true`) and what the record says about determinism.

With the switch on, torch uses deterministic algorithms wherever it has them and raises an error
for an operation that has none (rather than silently running a nondeterministic kernel); cuDNN is
told to pick deterministic kernels and not to benchmark; cuBLAS gets the fixed workspace it needs
for reproducible results. Limits, which docs/audit-trail.md repeats: GPU atomics in operations torch
has no deterministic version of stop the run instead; a CPU run is bit-identical only at the same
torch thread count; other CPUs, GPUs or torch builds may round differently.
"""
from __future__ import annotations

import os

import torch

CUBLAS_WORKSPACE = ":4096:8"
"""what cuBLAS needs for deterministic results (set before the first CUDA call)"""


def apply(on: bool) -> None:
    """Turn deterministic algorithms on or off for this process."""
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    if on != torch.are_deterministic_algorithms_enabled():  # the call imports torch._inductor: ~2 s of start-up for nothing when off
        torch.use_deterministic_algorithms(on)
    torch.backends.cudnn.deterministic = on
    if on:
        torch.backends.cudnn.benchmark = False


def facts(requested: bool, device: str) -> dict:
    """The record's `determinism` section: what was asked for and what torch is actually doing."""
    return {
        "requested": requested,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic) if device.startswith("cuda") else None,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG") if device.startswith("cuda") else None,
        "torch_threads": torch.get_num_threads(),
        "scope": "bit-identical only on the same device kind, torch build and torch thread count",
    }
