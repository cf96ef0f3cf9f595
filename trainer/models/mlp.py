"""The makemore-style character MLP: embed a window of characters, one BatchNorm'd tanh layer, logits.

Initialisation follows the makemore lectures: the hidden layer is Kaiming-scaled with tanh's gain
so pre-activations start near unit variance (no saturation), and the output layer starts small so
the first loss is close to -log(1/vocab) instead of confidently wrong.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..schemas.mlp import MLPModelConfig


class CharMLP(nn.Module):
    def __init__(self, cfg: MLPModelConfig, vocab_size: int, context: int):
        super().__init__()
        self.context = context
        self.embedding = nn.Embedding(vocab_size, cfg.n_embd)
        self.hidden = nn.Linear(context * cfg.n_embd, cfg.n_hidden, bias=False)  # BatchNorm's shift replaces the bias
        self.norm = nn.BatchNorm1d(cfg.n_hidden, momentum=cfg.bn_momentum)
        self.act = nn.Tanh()  # a module rather than torch.tanh, so hooks (gradient check, introspection) see its output
        self.out = nn.Linear(cfg.n_hidden, vocab_size)
        with torch.no_grad():
            nn.init.normal_(self.embedding.weight)
            nn.init.normal_(self.hidden.weight, std=cfg.tanh_gain / (context * cfg.n_embd) ** 0.5)
            nn.init.normal_(self.out.weight, std=cfg.last_layer_scale / cfg.n_hidden**0.5)
            nn.init.zeros_(self.out.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        emb = self.embedding(idx).view(idx.shape[0], -1)
        h = self.act(self.norm(self.hidden(emb)))
        logits = self.out(h)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss

    @torch.no_grad()
    def generate(self, count: int, max_length: int, temperature: float, generator: torch.Generator,
                 prefix: list[int] = ()) -> list[list[int]]:
        """`count` words as lists of token ids, each ending before the boundary token (id 0); each starts with `prefix`
        and goes on for at most `max_length` more characters."""
        was_training = self.training
        self.eval()
        words = []
        for _ in range(count):
            window, word = ([0] * self.context + list(prefix))[-self.context:], list(prefix)
            for _ in range(max_length):
                logits, _ = self(torch.tensor([window]))
                ix = torch.multinomial(F.softmax(logits / temperature, dim=-1), 1, generator=generator).item()
                if ix == 0:
                    break
                word.append(ix)
                window = window[1:] + [ix]
            words.append(word)
        self.train(was_training)
        return words
