"""Multiple-choice completion in HellaSwag's format: which of four endings does the model find likeliest?

A `.jsonl` file holds one example per line: `ctx` (the context), `endings` (four strings) and
`label` (the index of the true ending); other keys (HellaSwag's `activity_label`, `ind`, ...) are
ignored. The text scored is `ctx + " " + ending`, HellaSwag's convention. Each ending is scored by
the model's cross-entropy on the ending's tokens only (the space before it included), given the context:

- `acc`: the pick is the ending with the lowest *total* loss (highest log-likelihood), which
  favours short endings;
- `acc_norm`: the lowest loss per *token* (length-normalised by this model's tokenizer);
- `acc_char`: the lowest loss per *character* of the ending, which lm-evaluation-harness reports as
  its `acc_norm`; unlike per token it does not depend on the tokenizer, so models with different
  vocabularies compare on it.

Chance is 25%; `summary` gives each accuracy with its 95% Wilson interval (`confidence.py`). A
context longer than the model's window is cut from the left, so the ending always fits (an ending
longer than the window loses its own tail, and is normalised by what was scored of it).
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
from .confidence import LEVEL, wilson

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
    chars: list[int]
    """characters of each ending scored (the space before it not counted, as lm-evaluation-harness counts)"""

    @property
    def pick(self) -> int:
        return min(range(CHOICES), key=lambda i: self.total_loss[i])

    @property
    def pick_norm(self) -> int:
        return min(range(CHOICES), key=lambda i: self.mean_loss[i])

    @property
    def pick_char(self) -> int:
        return min(range(CHOICES), key=lambda i: self.total_loss[i] / max(self.chars[i], 1))


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


Row = tuple[list[int], int, int]
"""tokens, index of the first ending token, characters of the ending scored"""


def _rows(example: Example, encode: Callable[[str], list[int]], decode: Callable[[list[int]], str],
          block_size: int) -> list[Row]:
    """One row per ending, cut to fit the window."""
    context = list(encode(example.context))
    rows = []
    for ending in example.endings:
        whole = list(encode(" " + ending))
        end = whole[: block_size - 1]
        chars = len(ending) if len(end) == len(whole) else len(decode(end)) - 1  # less the space before it
        ctx = context[-(block_size - len(end)):]
        rows.append((ctx + end, len(ctx), chars))
    return rows


@torch.no_grad()
def score(model: nn.Module, encode: Callable[[str], list[int]], decode: Callable[[list[int]], str],
          examples: list[Example], *, block_size: int, autocast: Callable = contextlib.nullcontext) -> tuple[list[Scored], int]:
    """Every example scored, and how many were skipped because their text cannot be encoded
    (e.g. a character a character-level vocabulary lacks) or has an empty context."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rows, owners, skipped = [], [], 0
    for example in examples:
        try:
            made = _rows(example, encode, decode, block_size)
        except ValueError:
            skipped += 1
            continue
        if any(start == 0 for _, start, _ in made):
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
        mine = slice(k * CHOICES, (k + 1) * CHOICES)
        t, c = totals[mine], counts[mine]
        scored.append(Scored(example, t, [a / b for a, b in zip(t, c)], c, [chars for _, _, chars in rows[mine]]))
    return scored, skipped


def _score_rows(model, rows, device, autocast) -> tuple[list[float], list[int]]:
    length = max(len(tokens) for tokens, _, _ in rows)
    idx = torch.zeros(len(rows), length, dtype=torch.long)
    mask = torch.zeros(len(rows), length - 1)
    for r, (tokens, start, _) in enumerate(rows):
        idx[r, :len(tokens)] = torch.tensor(tokens)
        mask[r, start - 1:len(tokens) - 1] = 1  # positions whose next token is an ending token
    idx, mask = idx.to(device), mask.to(device)
    with autocast():
        logits, _ = model(idx)
    losses = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), idx[:, 1:], reduction="none")
    return (losses * mask).sum(dim=1).tolist(), mask.sum(dim=1).long().tolist()


MEASURES = {"acc": "pick", "acc_norm": "pick_norm", "acc_char": "pick_char"}
"""each accuracy and the Scored property that makes its pick"""


def accuracies(scored: list[Scored]) -> dict:
    """Each accuracy, and its Wilson interval at `LEVEL` under "interval" (None for no examples)."""
    n = len(scored)
    right = {name: sum(getattr(s, pick) == s.example.label for s in scored) for name, pick in MEASURES.items()}
    return {**{name: k / n if n else None for name, k in right.items()},
            "interval": {name: list(wilson(k, n)) if n else None for name, k in right.items()}}


def summary(scored: list[Scored], skipped: int) -> dict:
    return {"examples": len(scored), "skipped": skipped, **accuracies(scored), "chance": 1 / CHOICES, "level": LEVEL}


def shown(scored: list[Scored], count: int = 3) -> list[dict]:
    """A few scored examples as plain data, for the run page."""
    return [{**asdict(s.example), "mean_loss": [round(v, 4) for v in s.mean_loss], "tokens": s.tokens,
             "char_loss": [round(t / max(c, 1), 4) for t, c in zip(s.total_loss, s.chars)], "chars": s.chars,
             "pick": s.pick, "pick_norm": s.pick_norm, "pick_char": s.pick_char} for s in scored[:count]]
