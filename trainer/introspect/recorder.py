"""Architectural introspection as a training-loop observer, for any nn.Module.

On the first step, every `interval` steps and on the last step, forward hooks keep the output of
every nonlinearity module (tanh, ReLU, GELU) and of every transformer block (the residual stream
after it), the input of every BatchNorm layer and of every attention layer; after the backward pass
the recorder reads the gradients of those outputs and of every parameter, computes each attention
head's entropy from the kept input (the fused attention kernel never materialises its weights, so
they are computed again, on these steps only), and after the optimiser step it measures each
parameter's update. Hooks exist only during a recorded step, so every other step runs exactly as it
would without introspection. `finish` writes `introspection.json` and the figures into the run folder.

Layers that compute their own backward pass (models/mlp_manual.py) build no autograd graph to
hook; they leave the gradient of their last output in `output_grad`, which is read instead.
"""
from __future__ import annotations

import torch
from torch import nn

from ..loop.lm import Batch, StepObserver
from ..models.gpt import Block, SelfAttention
from ..schemas.common import IntrospectConfig
from ..tracking import layout
from ..tracking.run import Run
from ..figures import parallel
from ..figures import introspection as figures
from .stats import (activation_stats, attention_entropy, batch_moments, batchnorm_stats, gradient_stats, histogram, number, std,
                    uniform_attention_entropy, update_to_data)

ACTIVATION_KINDS = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.GELU: "gelu", Block: figures.RESIDUAL}
"""modules whose output is recorded, by the kind of output it is"""


def activation_kind(module: nn.Module) -> str | None:
    return next((kind for cls, kind in ACTIVATION_KINDS.items() if isinstance(module, cls)), None)


class Introspector(StepObserver):
    def __init__(self, model: nn.Module, cfg: IntrospectConfig, run: Run, uniform_loss: float, title: str):
        self.model, self.cfg, self.run, self.uniform_loss, self.title = model, cfg, run, uniform_loss, title
        modules = dict(model.named_modules())
        self.activations = {name: kind for name, m in modules.items() if (kind := activation_kind(m))}
        self.norms = [name for name, m in modules.items()
                      if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        self.attention = [name for name, m in modules.items() if isinstance(m, SelfAttention)]
        self.window: int | None = None
        """tokens per window of the recorded batches, which sets the entropy of evenly spread attention"""
        self.modules = modules
        self.snapshots: list[dict] = []
        self.histograms: list[dict] = []
        self.channels: dict = {}
        self.steps = 0
        self._handles: list = []
        self._outputs: dict[str, torch.Tensor] = {}
        self._grads: dict[str, torch.Tensor] = {}
        self._norm_inputs: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._attention_inputs: dict[str, torch.Tensor] = {}
        self._before: dict[str, torch.Tensor] = {}

    def wants(self, step: int, steps: int) -> bool:
        self.steps = steps
        return step == 1 or step % self.cfg.interval == 0 or step == steps

    # --- hooks, present only during a recorded step ---------------------------------------------

    def before_forward(self, step: int) -> None:
        self._outputs, self._grads, self._norm_inputs, self._attention_inputs = {}, {}, {}, {}
        for name in self.activations:
            self._handles.append(self.modules[name].register_forward_hook(self._keep_output(name)))
        for name in self.norms:
            self._handles.append(self.modules[name].register_forward_pre_hook(self._keep_norm_input(name)))
        for name in self.attention:
            self._handles.append(self.modules[name].register_forward_pre_hook(self._keep_attention_input(name)))

    def _keep_output(self, name: str):
        def hook(module, inputs, output):
            self._outputs[name] = output.detach()
            if output.requires_grad:
                output.register_hook(lambda grad: self._grads.__setitem__(name, grad))
        return hook

    def _keep_norm_input(self, name: str):
        def hook(module, inputs):  # before the forward updates the running statistics with this batch
            self._norm_inputs[name] = (inputs[0].detach(), module.running_mean.clone(), module.running_var.clone())
        return hook

    def _keep_attention_input(self, name: str):
        def hook(module, inputs):
            self._attention_inputs[name] = inputs[0].detach()
        return hook

    # --- a recorded step ----------------------------------------------------------------------

    def after_backward(self, step: int, batch: Batch, loss: torch.Tensor, lr: float) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        keep_histograms = step == 1 or step == self.steps
        layers, layer_histograms = {}, {}
        for name, kind in self.activations.items():
            output = self._outputs.get(name)
            if output is None:  # not used by this forward pass
                continue
            grad = self._grads.get(name, getattr(self.modules[name], "output_grad", None))
            layers[name] = activation_stats(output, kind, self.cfg.saturation)
            if grad is not None:
                layers[name].update(gradient_stats(grad, output))
            if keep_histograms:
                layer_histograms[name] = {"values": histogram(output, self.cfg.bins),
                                          "grads": histogram(grad, self.cfg.bins) if grad is not None else None}
        params, param_histograms = {}, {}
        for name, p in self.model.named_parameters():
            params[name] = {"data_std": number(std(p))}
            if p.grad is not None:
                params[name].update(gradient_stats(p.grad, p))
                if keep_histograms and p.dim() >= 2:
                    param_histograms[name] = {"grads": histogram(p.grad, self.cfg.bins)}
        norms = {name: batchnorm_stats(*self._norm_inputs[name]) for name in self.norms if name in self._norm_inputs}
        if step == self.steps:
            self.channels = {"step": step, "layers": {name: self._channel_stats(name) for name in norms}}
        self._before = {name: p.detach().clone() for name, p in self.model.named_parameters()}
        self.snapshots.append({"step": step, "lr": number(lr), "loss": number(loss.item()),
                               "layers": layers, "params": params, "batchnorm": norms, "attention": self._entropies()})
        if keep_histograms:
            self.histograms.append({"step": step, "layers": layer_histograms, "params": param_histograms})

    @torch.no_grad()
    def _entropies(self) -> dict[str, list]:
        """Each attention layer's entropy per head on the batch it saw at this step."""
        entropies = {}
        for name, x in self._attention_inputs.items():
            self.window = x.shape[1]
            entropies[name] = attention_entropy(self.modules[name].probabilities(x.float()))
        self._attention_inputs = {}
        return entropies

    def _channel_stats(self, name: str) -> dict:
        x, running_mean, running_var = self._norm_inputs[name]
        mean, var = batch_moments(x)
        return {key: [number(v) for v in values] for key, values in (
            ("running_mean", running_mean), ("batch_mean", mean), ("running_var", running_var), ("batch_var", var))}

    def after_update(self, step: int) -> None:
        params = self.snapshots[-1]["params"]
        for name, p in self.model.named_parameters():
            params[name]["update_to_data"] = update_to_data(self._before[name], p)
        self._before = {}

    # --- resuming ------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"snapshots": self.snapshots, "histograms": self.histograms, "channels": self.channels, "window": self.window}

    def load_state_dict(self, state: dict) -> None:
        self.snapshots, self.histograms, self.channels = state["snapshots"], state["histograms"], state["channels"]
        self.window = state.get("window")

    # --- the end ------------------------------------------------------------------------------

    def report(self) -> dict:
        first = self.snapshots[0]["loss"] if self.snapshots else None
        gap = None if first is None else (first - self.uniform_loss) / self.uniform_loss
        return {
            "interval": self.cfg.interval, "saturation": self.cfg.saturation, "bins": self.cfg.bins,
            "init": {"loss": first, "uniform_loss": number(self.uniform_loss), "tolerance": self.cfg.init_loss_tolerance,
                     "relative_gap": None if gap is None else number(gap),
                     "flagged": gap is not None and abs(gap) > self.cfg.init_loss_tolerance},
            "layers": {name: {"kind": kind, "type": type(self.modules[name]).__name__} for name, kind in self.activations.items()},
            "params": {name: {"shape": list(p.shape)} for name, p in self.model.named_parameters()},
            "batchnorm": {name: {"features": self.modules[name].num_features, "momentum": self.modules[name].momentum}
                          for name in self.norms},
            "attention": {"window": self.window,
                          "uniform_entropy": uniform_attention_entropy(self.window) if self.window else None,
                          "layers": {name: {"heads": self.modules[name].n_head} for name in self.attention}},
            "snapshots": self.snapshots,
            "histograms": self.histograms,
            "batchnorm_channels": self.channels,
        }

    def finish(self) -> None:
        """Write the report, and start drawing its figures beside the run's own (`finished` waits for them)."""
        report = self.report()
        self.run.write_json(layout.INTROSPECTION, report)
        self._drawing = parallel.Drawing(lambda: [name for name, title, draw, _ in figures.FIGURES
                                             if draw(report, self.run.file(name), f"{self.title}: {title.lower()}")])

    def finished(self) -> None:
        drawn = set(self._drawing.result())
        for name, title, _, caption in figures.FIGURES:
            if name in drawn:
                self.run.add_figure(name, title, caption)
