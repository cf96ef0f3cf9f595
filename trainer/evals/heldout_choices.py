"""A HellaSwag-format set built from held-out text, for corpora (like Shakespeare) that have no benchmark.

Each example takes a line of verse or prose with at least `MIN_WORDS` words from text the model
never trained on, cuts it at the space after its middle word, and asks: given the text up to the
cut (`ctx`, `context_chars` characters), which is the real rest of the line? The three wrong
endings are rests of other lines from elsewhere in the same held-out text, of similar length (so
length alone gives nothing away). `ctx + " " + ending` reproduces the original text exactly for
the true ending, HellaSwag's convention. Everything is drawn from one seeded generator.
"""
from __future__ import annotations

import bisect
import random

from .multiple_choice import CHOICES, Example

MIN_WORDS = 6
MIN_DISTANCE_LINES = 50  # distractors come from at least this far away, so they are not the same speech
LENGTH_TOLERANCE = 0.2  # distractor lengths within +-20% (at least +-3 characters) of the true ending's


def _cuts(text: str, context_chars: int) -> list[tuple[int, str, str]]:
    """(line number, text up to the cut, rest of the line) for every usable line."""
    cuts, offset = [], 0
    for number, line in enumerate(text.splitlines(keepends=True)):
        body = line.rstrip("\n")
        words = body.split(" ")
        if len([w for w in words if w]) >= MIN_WORDS and not body.lstrip().startswith("[") and offset >= context_chars:
            head = " ".join(words[: len(words) // 2])
            rest = " ".join(words[len(words) // 2:])
            if rest.strip():
                cuts.append((number, text[offset - context_chars: offset] + head, rest))
        offset += len(line)
    return cuts


def _distractors(cuts, pool, number: int, ending: str, rng: random.Random, tries: int = 200) -> list[str]:
    """Three distinct rests of lines from `pool` far from line `number`, drawn by rejection (pools are large)."""
    chosen: list[str] = []
    for _ in range(tries if len(pool) >= CHOICES else 0):
        other_number, _, rest = cuts[pool[rng.randrange(len(pool))]]
        if abs(other_number - number) >= MIN_DISTANCE_LINES and rest != ending and rest not in chosen:
            chosen.append(rest)
            if len(chosen) == CHOICES - 1:
                return chosen
    return []


def build(text: str, count: int, seed: int, context_chars: int, split: str = "val") -> list[Example]:
    cuts = _cuts(text, context_chars)
    if len(cuts) < CHOICES:
        return []
    rng = random.Random(seed)
    by_length = sorted(range(len(cuts)), key=lambda i: (len(cuts[i][2]), i))
    lengths = [len(cuts[i][2]) for i in by_length]
    examples = []
    for i in rng.sample(range(len(cuts)), min(count, len(cuts))):
        number, context, ending = cuts[i]
        slack = max(3, int(LENGTH_TOLERANCE * len(ending)))
        lo, hi = bisect.bisect_left(lengths, len(ending) - slack), bisect.bisect_right(lengths, len(ending) + slack)
        distractors = _distractors(cuts, by_length[lo:hi], number, ending, rng) \
            or _distractors(cuts, range(len(cuts)), number, ending, rng)  # rare lengths: any line far enough away
        if not distractors:
            continue
        label = rng.randrange(CHOICES)
        endings = distractors[:label] + [ending] + distractors[label:]
        examples.append(Example(context, endings, label, f"{split}:line {number + 1}"))
    return examples
