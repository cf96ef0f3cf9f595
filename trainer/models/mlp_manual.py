"""The character MLP of `mlp.py` with its backward pass written by hand, layer by layer.

Each layer's `backward(dout)` sits right under its `forward`: it takes the gradient of the loss
with respect to the layer's output, puts the gradients of the layer's parameters in their `.grad`,
and returns the gradient with respect to the layer's input. Parameters never require grad, so
autograd records nothing; the training loop updates them with hand-written SGD
(`engines/manual_sgd.py`).

The layers subclass torch's only for their parameter and buffer storage: names and shapes match
`CharMLP` exactly, so the two load each other's state dicts (that is how both start from the same
initialisation, and how the gradient check builds its autograd twin), and introspection recognises
the layers by type. Every forward and backward computation is written out here.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..schemas.mlp import MLPModelConfig
from .mlp import CharMLP

OUTPUTS = {"out": "logits", "act": "h", "norm": "hnorm", "hidden": "hpre", "embedding": "emb"}
"""layer -> name of the tensor it outputs in the forward pass, in backward order (loss to input)"""


class Embedding(nn.Embedding):
    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        self.idx = idx
        return self.weight[idx]

    def backward(self, dout: torch.Tensor) -> None:
        self.output_grad = dout
        # A row of the table receives the sum of the gradients at every position that looked it up.
        flat = dout.reshape(-1, self.embedding_dim)
        self.weight.grad = torch.zeros_like(self.weight).index_add_(0, self.idx.reshape(-1), flat)
        # Indices are not differentiable: nothing flows further back.


class Linear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.x = x
        out = x @ self.weight.T  # weight is [out_features, in_features], as in nn.Linear
        return out if self.bias is None else out + self.bias

    def backward(self, dout: torch.Tensor) -> torch.Tensor:
        self.output_grad = dout
        self.weight.grad = dout.T @ self.x
        if self.bias is not None:
            self.bias.grad = dout.sum(0)  # the bias is broadcast over the batch, so its gradients add up
        return dout @ self.weight


class BatchNorm1d(nn.BatchNorm1d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps) * self.weight + self.bias
        n = x.shape[0]
        mean = x.mean(0)
        centred = x - mean
        var = (centred**2).mean(0)  # normalise with the biased variance, as nn.BatchNorm1d does
        self.inv_std = (var + self.eps) ** -0.5
        self.xhat = centred * self.inv_std
        # Running averages move a fraction `momentum` towards each batch's statistics; the variance
        # one estimates the unbiased variance (Bessel's n / (n - 1)), again as torch does.
        self.running_mean.lerp_(mean, self.momentum)
        self.running_var.lerp_(var * (n / (n - 1)), self.momentum)
        self.num_batches_tracked += 1
        return self.weight * self.xhat + self.bias

    def backward(self, dout: torch.Tensor) -> torch.Tensor:
        self.output_grad = dout
        self.weight.grad = (dout * self.xhat).sum(0)
        self.bias.grad = dout.sum(0)
        # Every example's output depends on every input of the batch through the mean and the
        # variance, so the input gradient has three terms: the direct path, the mean's, the variance's.
        n = dout.shape[0]
        dxhat = dout * self.weight
        return self.inv_std / n * (n * dxhat - dxhat.sum(0) - self.xhat * (dxhat * self.xhat).sum(0))


class Tanh(nn.Tanh):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.out = torch.tanh(x)
        return self.out

    def backward(self, dout: torch.Tensor) -> torch.Tensor:
        self.output_grad = dout
        return (1 - self.out**2) * dout  # tanh'(x) = 1 - tanh(x)^2, from the saved output


class CrossEntropy(nn.Module):
    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.logits, self.targets = logits, targets
        logprobs = logits - logits.logsumexp(1, keepdim=True)  # log-softmax without overflow
        return -logprobs[torch.arange(len(targets)), targets].mean()

    def backward(self) -> torch.Tensor:
        # Softmax, log, pick and mean collapse to one line: (probabilities - one-hot target) / n.
        dlogits = F.softmax(self.logits, dim=1)
        dlogits[torch.arange(len(self.targets)), self.targets] -= 1
        return dlogits / len(self.targets)


class ManualCharMLP(nn.Module):
    def __init__(self, cfg: MLPModelConfig, vocab_size: int, context: int):
        super().__init__()
        self.context = context
        reference = CharMLP(cfg, vocab_size, context)  # draws the initialisation exactly as the autograd model does
        with torch.random.fork_rng(devices=[]):  # torch's layer constructors draw values that are overwritten below
            self.embedding = Embedding(vocab_size, cfg.n_embd)
            self.hidden = Linear(context * cfg.n_embd, cfg.n_hidden, bias=False)
            self.norm = BatchNorm1d(cfg.n_hidden, momentum=cfg.bn_momentum)
            self.act = Tanh()
            self.out = Linear(cfg.n_hidden, vocab_size)
        self.criterion = CrossEntropy()
        self.requires_grad_(False)
        self.load_state_dict(reference.state_dict())

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        emb = self.embedding(idx)
        hpre = self.hidden(emb.view(idx.shape[0], -1))
        hnorm = self.norm(hpre)
        h = self.act(hnorm)
        logits = self.out(h)
        loss = None if targets is None else self.criterion(logits, targets)
        return logits, loss

    def backward(self) -> None:
        """Every parameter's gradient of the last forward's loss, from the loss back to the input."""
        dlogits = self.criterion.backward()
        dh = self.out.backward(dlogits)
        dhnorm = self.act.backward(dh)
        dhpre = self.norm.backward(dhnorm)
        demb = self.hidden.backward(dhpre)
        self.embedding.backward(demb.view(-1, self.context, self.embedding.embedding_dim))

    generate = CharMLP.generate  # sampling only runs the forward pass, so it is the same code
