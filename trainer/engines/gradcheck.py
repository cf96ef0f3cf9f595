"""Hand-written gradients against autograd's, tensor by tensor, on the same batch.

`compare` is the comparison helper: for one tensor, is the hand-computed gradient bit-for-bit
autograd's (exact), within tolerance (close, as torch.allclose), and how far apart at worst.
`GradientCheck` applies it to every gradient of a manual-backprop model at chosen steps, writes
`gradcheck.json` into the run folder, and fails the run naming the first tensor, walking back from
the loss, that disagrees: that is where the backward pass goes wrong.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..tracking import layout
from ..tracking.run import Run
from ..loop.lm import Batch, StepObserver
from .contract import TrainingFailed


def compare(name: str, manual: torch.Tensor | None, reference: torch.Tensor, rtol: float, atol: float) -> dict:
    """One row of the gradient-check table."""
    row = {"tensor": name, "shape": list(reference.shape), "exact": False, "close": False, "max_abs_diff": None}
    if manual is None:
        return {**row, "problem": "not computed by the manual backward pass"}
    if manual.shape != reference.shape:  # refuse before broadcasting could hide the mistake
        return {**row, "problem": f"shape {list(manual.shape)}, autograd's is {list(reference.shape)}"}
    worst = (manual - reference).abs().max().item() if reference.numel() else 0.0
    if not math.isfinite(worst):
        return {**row, "problem": "not finite"}
    return {**row, "exact": torch.equal(manual, reference),
            "close": torch.allclose(manual, reference, rtol=rtol, atol=atol), "max_abs_diff": worst}


def manual_gradients(model: nn.Module, outputs: dict[str, str]) -> dict[str, torch.Tensor | None]:
    """What the model's own backward pass left: parameter `.grad`s and each layer's `output_grad`."""
    grads = {name: p.grad for name, p in model.named_parameters()}
    grads.update({tensor: getattr(model.get_submodule(layer), "output_grad", None) for layer, tensor in outputs.items()})
    return grads


def autograd_gradients(model: nn.Module, outputs: dict[str, str], batch: Batch) -> tuple[float, dict[str, torch.Tensor]]:
    """The loss and autograd's gradients of every parameter and of each listed layer's output."""
    kept: dict[str, torch.Tensor] = {}

    def keep(tensor: str):
        def hook(module, inputs, output):
            output.retain_grad()
            kept[tensor] = output
        return hook

    handles = [model.get_submodule(layer).register_forward_hook(keep(tensor)) for layer, tensor in outputs.items()]
    try:
        model.zero_grad(set_to_none=True)
        _, loss = model(*batch)
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    grads = {name: p.grad for name, p in model.named_parameters()}
    grads.update({tensor: output.grad for tensor, output in kept.items()})
    return loss.item(), grads


def backward_order(model: nn.Module, outputs: dict[str, str]) -> list[str]:
    """Tensor names as the backward pass reaches them: each layer's output, then its parameters."""
    names = []
    for layer, tensor in outputs.items():
        names.append(tensor)
        names += [f"{layer}.{p}" for p, _ in model.get_submodule(layer).named_parameters()]
    return names


class GradientCheck(StepObserver):
    """Compares a manual-backprop model's gradients with an autograd twin's at chosen steps.

    `reference` has the same parameter names (it loads the model's state before each check);
    `outputs` maps layer names to the names of the tensors they output, in backward order.
    """

    def __init__(self, model: nn.Module, reference: nn.Module, outputs: dict[str, str], run: Run,
                 interval: int, rtol: float, atol: float):
        self.model, self.reference, self.outputs, self.run = model, reference, outputs, run
        self.interval, self.rtol, self.atol = interval, rtol, atol
        self.checks: list[dict] = []

    def wants(self, step: int, steps: int) -> bool:
        return step == 1 or step % self.interval == 0 or step == steps

    def after_backward(self, step: int, batch: Batch, loss: torch.Tensor, lr: float) -> None:
        self.reference.load_state_dict(self.model.state_dict())
        reference_loss, expected = autograd_gradients(self.reference, self.outputs, batch)
        got = manual_gradients(self.model, self.outputs)
        rows = [compare(name, got.get(name), expected[name], self.rtol, self.atol)
                for name in backward_order(self.model, self.outputs)]
        bad = [row for row in rows if not row["close"]]
        self.checks.append({"step": step, "loss": loss.item(), "autograd_loss": reference_loss, "ok": not bad, "tensors": rows})
        if bad:
            self.finish()
            raise TrainingFailed(self.reason(step, bad))

    def reason(self, step: int, bad: list[dict]) -> str:
        first = bad[0]
        why = first.get("problem") or (f"max abs diff {first['max_abs_diff']:.3g} exceeds atol {self.atol:g} "
                                       f"+ rtol {self.rtol:g} x |autograd|")
        more = f"; {len(bad) - 1} tensor(s) further back disagree too" if len(bad) > 1 else ""
        return f"gradient check failed at step {step}: {first['tensor']} differs from autograd ({why}){more}"

    def state_dict(self) -> dict:
        return {"checks": self.checks}

    def load_state_dict(self, state: dict) -> None:
        self.checks = state["checks"]

    def finish(self) -> None:
        self.run.write_json(layout.GRADCHECK, {
            "rtol": self.rtol, "atol": self.atol, "interval": self.interval,
            "ok": all(c["ok"] for c in self.checks), "checks": self.checks,
        })
