"""A decoder-only transformer in GPT-2's layout: the model only (training and sampling live elsewhere).

Token and learned position embeddings, `n_layer` pre-LayerNorm blocks (causal self-attention,
then a GELU MLP, each added to the residual stream), a final LayerNorm, and an output layer that
shares its weights with the token embedding.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..schemas.gpt import GPTModelConfig

INIT_STD = 0.02  # GPT-2's initialisation scale for every weight matrix and embedding


class SelfAttention(nn.Module):
    def __init__(self, cfg: GPTModelConfig):
        super().__init__()
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.proj_dropout = nn.Dropout(cfg.dropout)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values: (B, T, 3C) split into three (B, heads, T, head size) tensors."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        return q, k, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.heads(x)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.proj_dropout(self.proj(y.transpose(1, 2).reshape(B, T, C)))

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights (B, heads, T queries, T keys) that scaled_dot_product_attention applies to the
        values of input `x` (before attention dropout). The fused kernel never materialises them, so this
        computes them again, for introspection: softmax(q k^T / sqrt(head size)) over the keys at or before
        each query."""
        q, k, _ = self.heads(x)
        T = x.shape[1]
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        return scores.masked_fill(future, float("-inf")).softmax(dim=-1)


class MLP(nn.Module):
    def __init__(self, cfg: GPTModelConfig):
        super().__init__()
        self.up = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.act = nn.GELU()  # a module, not F.gelu, so forward hooks (introspection) can find the activations
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.act(self.up(x))))


class Block(nn.Module):
    def __init__(self, cfg: GPTModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = SelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


def padded_vocab(vocab_size: int, multiple: int) -> int:
    return math.ceil(vocab_size / multiple) * multiple


class GPT(nn.Module):
    def __init__(self, cfg: GPTModelConfig, vocab_size: int):
        super().__init__()
        self.cfg, self.vocab_size = cfg, vocab_size
        self.block_size = cfg.block_size
        rows = padded_vocab(vocab_size, cfg.vocab_multiple)  # padded rows are never targets and never sampled
        self.wte = nn.Embedding(rows, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, rows, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one matrix reads tokens in and writes them out
        self.apply(self._init)
        # Each block adds two projections to the residual stream; scaling them by 1/sqrt(2 * n_layer)
        # keeps the stream's variance from growing with depth (GPT-2 paper, section 2.3).
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=INIT_STD / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits (B, T, vocab rows) for every position, and the mean cross-entropy when targets are given."""
        T = idx.shape[1]
        if T > self.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than the context ({self.block_size})")
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1))
        return logits, loss

    def param_count(self, embeddings: bool = True) -> int:
        """Parameters (the tied matrix once); without the position table when `embeddings` is False,
        which is the count that FLOPs scale with."""
        n = sum(p.numel() for p in self.parameters())
        return n if embeddings else n - self.wpe.weight.numel()

    def flops_per_token(self) -> float:
        """Training FLOPs per token (forward + backward): 6 per weight for the matrix multiplies, plus
        attention's scores and weighted sum, 2 x 2 x n_layer x block x n_embd forward, tripled for the
        backward (Kaplan et al. 2020, table 1; PaLM appendix B). Full context assumed."""
        c = self.cfg
        return 6 * self.param_count(embeddings=False) + 12 * c.n_layer * c.block_size * c.n_embd
