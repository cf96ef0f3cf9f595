"""Where training runs and in what precision: device choice, TF32, autocast, gradient scaling, peak FLOPs."""
from __future__ import annotations

import contextlib

import torch

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

# Dense (no sparsity) peak FLOP/s per GPU from the vendors' data sheets: 16-bit tensor cores, and
# TF32 for float32 matmuls (enabled below). Order matters: the first name found in the device name wins.
PEAK_FLOPS = (
    ("H200", {"16-bit": 989e12, "tf32": 494.5e12}),
    ("H100 PCIe", {"16-bit": 756e12, "tf32": 378e12}),
    ("H100 NVL", {"16-bit": 835e12, "tf32": 417.5e12}),
    ("H100", {"16-bit": 989e12, "tf32": 494.5e12}),  # SXM5 (e.g. "NVIDIA H100 80GB HBM3")
    ("A100", {"16-bit": 312e12, "tf32": 156e12}),
    ("L40S", {"16-bit": 362e12, "tf32": 183e12}),
    ("L4", {"16-bit": 121e12, "tf32": 60e12}),
)


class DeviceError(Exception):
    pass


def resolve(name: str, local_rank: int = 0) -> torch.device:
    """The torch device for a config's `train.device`, or a DeviceError when it is not there."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("cuda was requested but torch sees no CUDA device (torch.cuda.is_available() is False)")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name == "mps":
        if not has_mps:
            raise DeviceError("mps was requested but this torch build or machine has no Metal device")
        return torch.device("mps")
    return torch.device("cpu")


def configure(device: torch.device) -> None:
    """Let float32 matmuls use TF32 tensor cores on CUDA (about 8x the float32 peak, ~1e-3 relative error)."""
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.allow_tf32 = True


def autocast(kind: str, device: torch.device):
    """A context manager running the forward pass in `kind` (fp32 | bf16 | fp16)."""
    if kind == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES[kind])


def grad_scaler(kind: str, device: torch.device) -> torch.amp.GradScaler:
    """Loss scaling for fp16 (whose small range underflows gradients); a no-op otherwise."""
    return torch.amp.GradScaler(device.type, enabled=kind == "fp16")


def peak_flops(device: torch.device, kind: str, configured: float = 0.0) -> float | None:
    """Peak FLOP/s of one device for MFU: the configured value, else a known GPU's, else None."""
    if configured:
        return configured
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for model, peaks in PEAK_FLOPS:
        if model in name:
            return peaks["tf32" if kind == "fp32" else "16-bit"]
    return None
