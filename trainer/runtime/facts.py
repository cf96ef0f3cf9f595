"""What torch knows about where a run executes, for the audit record."""
from __future__ import annotations

import os

import torch


def torch_facts(device: str = "cpu", world_size: int = 1) -> dict:
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") and torch.cuda.is_available() else None
    return {
        "device": device,
        "gpu": gpu,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "world_size": world_size,
        "cuda": torch.version.cuda if gpu else None,
    }
