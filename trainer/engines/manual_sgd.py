"""SGD written out, for models trained without autograd or torch.optim (`model.backprop: manual`).

The update is torch.optim.SGD's, operation for operation (L2 weight decay added to the gradient,
momentum buffer started at the first gradient, no dampening, no Nesterov), so a manual run and its
autograd twin take the same steps. It offers the part of the optimiser interface the shared loop
uses: `param_groups` (the loop sets the learning rate there), `zero_grad`, `step`, `state_dict`.
"""
from __future__ import annotations

import torch
from torch import nn

from ..schemas.common import OptimConfig


class ManualSGD:
    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.params = list(params)
        self.param_groups = [{"params": self.params, "lr": lr, "momentum": momentum, "weight_decay": weight_decay}]
        self.momentum_buffers: list[torch.Tensor | None] = [None] * len(self.params)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d_p = p.grad
            if weight_decay:
                d_p = d_p.add(p, alpha=weight_decay)  # gradient of the L2 penalty (weight_decay / 2) * |p|^2
            if momentum:
                buf = self.momentum_buffers[i]
                if buf is None:
                    buf = self.momentum_buffers[i] = d_p.clone()
                else:
                    buf.mul_(momentum).add_(d_p)
                d_p = buf
            p.add_(d_p, alpha=-lr)

    def state_dict(self) -> dict:
        return {"momentum_buffers": list(self.momentum_buffers), "param_groups": [
            {k: v for k, v in g.items() if k != "params"} for g in self.param_groups]}

    def load_state_dict(self, state: dict) -> None:
        self.momentum_buffers = list(state["momentum_buffers"])
        self.param_groups[0].update(state["param_groups"][0])


def make_manual_sgd(model: nn.Module, cfg: OptimConfig) -> ManualSGD:
    """The optimiser factory the shared loop calls for a manual-backprop model."""
    return ManualSGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
