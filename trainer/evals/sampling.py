"""Autoregressive sampling from any model that maps a window of token ids to next-token logits."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def generate(model: nn.Module, prompt: list[int], count: int, new_tokens: int, *, block_size: int, vocab_size: int,
             generator: torch.Generator, temperature: float = 1.0, top_k: int = 0) -> list[list[int]]:
    """`count` continuations of `prompt`, `new_tokens` each, sampled together as one batch.

    Only the last `block_size` tokens are fed back (the model's context); logits of padded
    vocabulary rows (ids >= vocab_size) are dropped. Draws come from the CPU `generator`, so a
    seed gives the same samples on any device.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    idx = torch.tensor([prompt] * count, dtype=torch.long, device=device)
    for _ in range(new_tokens):
        logits, _ = model(idx[:, -block_size:])
        logits = logits[:, -1, :vocab_size].float() / temperature
        if top_k and top_k < vocab_size:
            kth = torch.topk(logits, top_k).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = F.softmax(logits, dim=-1).cpu()
        nxt = torch.multinomial(probs, 1, generator=generator).to(device)
        idx = torch.cat([idx, nxt], dim=1)
    model.train(was_training)
    return [row[len(prompt):] for row in idx.tolist()]
