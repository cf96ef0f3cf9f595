"""HellaSwag-format sets built from held-out text, for corpora (like Shakespeare) that have no benchmark.

Each example cuts a line of held-out text (one with at least `MIN_WORDS` words, not a stage
direction) at a space and asks which of four endings is the real continuation; `ctx + " " + ending`
reproduces the original text exactly for the true ending (HellaSwag's convention); `ctx` is the
`context_chars` characters before the cut. Two tasks (`TASKS`):

- `next-word`: the ending is the one word after a space anywhere inside a line (punctuation attached);
- `line-end`: the ending is the rest of the line after its middle word.

How the four are chosen is what makes the score mean something. All four endings are real endings
of the same task from the same held-out text, with exactly the same number of characters, from lines
at least `MIN_DISTANCE_LINES` apart; the four are drawn first, and only then is one of them chosen at
random to be the true one, whose context the example shows. So which ending is true is independent of
the four endings themselves: a scorer that never reads the context (by length, by how common a word
is, by anything in the endings alone) is right 25% of the time in expectation, and an untrained model
too. Accuracy above that interval is the model using the context.

(The first construction drew the true ending first and its distractors from lengths within ±20% of
it. That put the true ending in the middle of its distractors' lengths, so it was the shortest of the
four in one example in ten instead of one in four; the total-loss score, which favours the shortest
ending, then picked against it and landed three standard errors below chance.)

Everything is drawn from one seeded generator.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterator

from .multiple_choice import CHOICES, Example

MIN_WORDS = 6
MIN_DISTANCE_LINES = 50  # the four endings come from lines this far apart, so never from the same speech
DRAWS_PER_EXAMPLE = 200  # rejection draws for the other three endings; a rare length may find none


@dataclass(frozen=True)
class Cut:
    line: int
    """0-based line number in the held-out text"""
    at: int
    """offset of the cut: the context is the text before it, the ending follows a space there"""
    ending: str


def _lines(text: str, context_chars: int) -> Iterator[tuple[int, int, list[str]]]:
    """(line number, offset, words split at single spaces) of every line that can be cut."""
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True)):
        body = line.rstrip("\n")
        words = body.split(" ")
        if offset >= context_chars and len([w for w in words if w]) >= MIN_WORDS and not body.lstrip().startswith("["):
            yield number, offset, words
        offset += len(line)


def next_word_cuts(text: str, context_chars: int) -> list[Cut]:
    """Every word that follows a space inside a usable line."""
    cuts = []
    for number, offset, words in _lines(text, context_chars):
        at = offset + len(words[0])
        for word in words[1:]:
            if word:
                cuts.append(Cut(number, at, word))
            at += 1 + len(word)
    return cuts


def line_end_cuts(text: str, context_chars: int) -> list[Cut]:
    """The rest of every usable line after its middle word."""
    cuts = []
    for number, offset, words in _lines(text, context_chars):
        head, rest = " ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2:])
        if rest.strip() and not rest.startswith(" "):
            cuts.append(Cut(number, offset + len(head), rest))
    return cuts


@dataclass(frozen=True)
class Task:
    cuts: Callable[[str, int], list[Cut]]
    measures: str
    """what accuracy above chance on this task shows, for the run page"""


TASKS: dict[str, Task] = {
    "next-word": Task(next_word_cuts, "which word comes next: the true next word against three other words of the same "
                      "length from elsewhere in the held-out text. Above chance, the model uses the text before a word "
                      "to predict it, beyond knowing which words are common"),
    "line-end": Task(line_end_cuts, "how a line goes on: the true rest of a line after its middle word against the rests "
                     "of three other lines of the same length. Above chance, the model carries the sense of a line "
                     "across several words; small models trained for a minute do not"),
}


def _four(cuts: list[Cut], pool: list[int], anchor: Cut, rng: random.Random) -> list[Cut] | None:
    """`anchor` and three cuts from `pool` with other endings, all four lines far apart; None if none found."""
    chosen = [anchor]
    for _ in range(DRAWS_PER_EXAMPLE):
        cut = cuts[pool[rng.randrange(len(pool))]]
        if all(cut.ending != c.ending and abs(cut.line - c.line) >= MIN_DISTANCE_LINES for c in chosen):
            chosen.append(cut)
            if len(chosen) == CHOICES:
                return chosen
    return None


def build(text: str, count: int, seed: int, context_chars: int, task: str = "next-word", split: str = "val") -> list[Example]:
    cuts = TASKS[task].cuts(text, context_chars)
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, cut in enumerate(cuts):
        by_length[len(cut.ending)].append(i)
    rng = random.Random(seed)
    examples = []
    for i in rng.sample(range(len(cuts)), len(cuts)):
        if len(examples) == count:
            break
        four = _four(cuts, by_length[len(cuts[i].ending)], cuts[i], rng)
        if four is None:
            continue
        rng.shuffle(four)
        label = rng.randrange(CHOICES)  # drawn after the four, so it tells nothing about them
        true = four[label]
        examples.append(Example(text[true.at - context_chars:true.at], [c.ending for c in four], label,
                                f"{split}:line {true.line + 1}"))
    return examples
