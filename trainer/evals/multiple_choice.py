"""Multiple-choice completion in HellaSwag's format: which of four endings does the model find likeliest?

A `.jsonl` file holds one example per line: `ctx` (the context), `endings` (four strings) and
`label` (the index of the true ending); other keys (HellaSwag's `activity_label`, `ind`, ...) are
ignored. The text scored is `ctx + " " + ending`, HellaSwag's convention. Each ending is scored by
the model's cross-entropy on the ending's tokens only, given the context:

- `acc`: the pick is the ending with the lowest *total* loss (highest log-likelihood), which
  favours short endings;
- `acc_norm`: the pick is the ending with the lowest *mean* loss per token (length-normalised).

Chance is 25%. A context longer than the model's window is cut from the left, so the ending
always fits (an ending longer than the window loses its own tail).
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

CHOICES = 4
ROWS_PER_FORWARD = 64  # endings scored per forward pass (16 examples)


@dataclass
class Example:
    context: str
    endings: list[str]
    label: int
    source_id: str = ""


@dataclass
class Scored:
    example: Example
    total_loss: list[float]
    """summed cross-entropy (nats) over each ending's tokens"""
    mean_loss: list[float]
    """the same per token"""
    tokens: list[int]
    """tokens scored in each ending"""

    @property
    def pick(self) -> int:
        return min(range(CHOICES), key=lambda i: self.total_loss[i])

    @property
    def pick_norm(self) -> int:
        return min(range(CHOICES), key=lambda i: self.mean_loss[i])


def _example(obj, where: str, source: str) -> Example:
    if not isinstance(obj, dict):
        raise ConfigError(source, "eval.file", f"{where}: expected a JSON object with ctx, endings and label")
    ctx, endings, label = obj.get("ctx"), obj.get("endings"), obj.get("label")
    if not isinstance(ctx, str):
        raise ConfigError(source, "eval.file", f"{where}: 'ctx' must be a string")
    if not (isinstance(endings, list) and len(endings) == CHOICES and all(isinstance(e, str) for e in endings)):
        raise ConfigError(source, "eval.file", f"{where}: 'endings' must be a list of {CHOICES} strings")
    if isinstance(label, str) and label.isdigit():
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < CHOICES:
        raise ConfigError(source, "eval.file", f"{where}: 'label' must be an integer 0-{CHOICES - 1}, got {label!r}")
    return Example(ctx, endings, label, str(obj.get("source_id", obj.get("ind", ""))))


def read_jsonl(path: Path, source: str, limit: int = 0) -> list[Example]:
    """The examples of a HellaSwag-format file (the first `limit` when it is > 0), or a ConfigError."""
    if not path.is_file():
        raise ConfigError(source, "eval.file", f"file not found: {path}")
    examples = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise ConfigError(source, "eval.file", f"{path} line {number}: not JSON ({e})") from None
            examples.append(_example(obj, f"{path} line {number}", source))
            if limit and len(examples) == limit:
                break
    if not examples:
        raise ConfigError(source, "eval.file", f"{path} holds no examples")
    return examples


def dumps_jsonl(examples: list[Example]) -> str:
    return "".join(json.dumps({"ctx": e.context, "endings": e.endings, "label": e.label, "source_id": e.source_id},
                              ensure_ascii=False) + "\n" for e in examples)


def _rows(example: Example, encode: Callable[[str], list[int]], block_size: int) -> list[tuple[list[int], int]]:
    """(tokens, index of the first ending token) for each ending, cut to fit the window."""
    context = list(encode(example.context))
    rows = []
    for ending in example.endings:
        end = list(encode(" " + ending))[: block_size - 1]
        ctx = context[-(block_size - len(end)):]
        rows.append((ctx + end, len(ctx)))
    return rows


@torch.no_grad()
def score(model: nn.Module, encode: Callable[[str], list[int]], examples: list[Example], *, block_size: int,
          autocast: Callable = contextlib.nullcontext) -> tuple[list[Scored], int]:
    """Every example scored, and how many were skipped because their text cannot be encoded
    (e.g. a character a character-level vocabulary lacks) or has an empty context."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rows, owners, skipped = [], [], 0
    for example in examples:
        try:
            made = _rows(example, encode, block_size)
        except ValueError:
            skipped += 1
            continue
        if any(start == 0 for _, start in made):
            skipped += 1
            continue
        rows += made
        owners.append(example)
    totals, counts = [], []
    for i in range(0, len(rows), ROWS_PER_FORWARD):
        t, c = _score_rows(model, rows[i:i + ROWS_PER_FORWARD], device, autocast)
        totals += t
        counts += c
    model.train(was_training)
    scored = []
    for k, example in enumerate(owners):
        t, c = totals[k * CHOICES:(k + 1) * CHOICES], counts[k * CHOICES:(k + 1) * CHOICES]
        scored.append(Scored(example, t, [a / b for a, b in zip(t, c)], c))
    return scored, skipped


def _score_rows(model, rows, device, autocast) -> tuple[list[float], list[int]]:
    length = max(len(tokens) for tokens, _ in rows)
    idx = torch.zeros(len(rows), length, dtype=torch.long)
    mask = torch.zeros(len(rows), length - 1)
    for r, (tokens, start) in enumerate(rows):
        idx[r, :len(tokens)] = torch.tensor(tokens)
        mask[r, start - 1:len(tokens) - 1] = 1  # positions whose next token is an ending token
    idx, mask = idx.to(device), mask.to(device)
    with autocast():
        logits, _ = model(idx)
    losses = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), idx[:, 1:], reduction="none")
    return (losses * mask).sum(dim=1).tolist(), mask.sum(dim=1).long().tolist()


def summary(scored: list[Scored], skipped: int) -> dict:
    n = len(scored)
    return {
        "examples": n,
        "skipped": skipped,
        "acc": sum(s.pick == s.example.label for s in scored) / n if n else None,
        "acc_norm": sum(s.pick_norm == s.example.label for s in scored) / n if n else None,
        "chance": 1 / CHOICES,
    }


def shown(scored: list[Scored], count: int = 3) -> list[dict]:
    """A few scored examples as plain data, for the run page."""
    return [{**asdict(s.example), "mean_loss": [round(v, 4) for v in s.mean_loss], "tokens": s.tokens,
             "pick": s.pick, "pick_norm": s.pick_norm} for s in scored[:count]]
