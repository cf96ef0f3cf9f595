"""The HellaSwag-format evaluation: scores checked by hand, file format errors, the held-out set builder."""
from __future__ import annotations

import json
from math import log

import pytest
import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.evals import heldout_choices, multiple_choice as mc

VOCAB = [" ", "a", "b", "c"]
PROBS = [0.4, 0.3, 0.2, 0.1]


class Unigram(nn.Module):
    """Predicts the same distribution everywhere, so each token's loss is -log p(token): easy to check by hand."""

    block_size = 16

    def __init__(self):
        super().__init__()
        self.logp = nn.Parameter(torch.log(torch.tensor(PROBS)), requires_grad=False)

    def forward(self, idx, targets=None):
        return self.logp.expand(*idx.shape, -1), None


def encode(s: str) -> list[int]:
    return [VOCAB.index(c) for c in s]


def test_scores_and_accuracies_match_a_hand_computed_case():
    examples = [
        mc.Example("ab", ["b", "aaaa", "c", "cc"], label=1),  # the likeliest per token is long: only acc_norm gets it
        mc.Example("c", ["a", "c", "b", "ba"], label=0),  # both get it
    ]
    scored, skipped = mc.score(Unigram(), encode, examples, block_size=16)
    space, a, b, c = (-log(p) for p in PROBS)  # each ending is scored as " " + ending
    first = scored[0]
    assert first.tokens == [2, 5, 2, 3]
    assert first.total_loss == pytest.approx([space + b, space + 4 * a, space + c, space + 2 * c], abs=1e-5)
    assert first.mean_loss == pytest.approx([(space + b) / 2, (space + 4 * a) / 5, (space + c) / 2, (space + 2 * c) / 3], abs=1e-5)
    assert (first.pick, first.pick_norm) == (0, 1)
    assert (scored[1].pick, scored[1].pick_norm) == (0, 0)
    assert mc.summary(scored, skipped) == {"examples": 2, "skipped": 0, "acc": 0.5, "acc_norm": 1.0, "chance": 0.25}


def test_long_endings_are_cut_to_fit_the_window_keeping_context():
    model = Unigram()
    scored, _ = mc.score(model, encode, [mc.Example("abcabc", ["aaaaaaa", "b", "c", "a"], 0)], block_size=4)
    assert scored[0].tokens == [3, 2, 2, 2]  # " aaaaaaa" keeps 3 tokens after 1 of context; the rest keep all


def test_examples_that_cannot_be_encoded_are_skipped_and_counted():
    examples = [mc.Example("ab", ["a", "b", "c", "é"], 0), mc.Example("ab", ["a", "b", "c", "a"], 0)]
    scored, skipped = mc.score(Unigram(), encode, examples, block_size=16)
    assert len(scored) == 1 and skipped == 1


def test_hellaswag_files_are_read_and_mistakes_name_the_line(tmp_path):
    path = tmp_path / "hellaswag_val.jsonl"
    good = {"ind": 24, "activity_label": "Roof shingle removal", "ctx": "A man is sitting on a roof. he",
            "endings": ["is using wrap.", "is ripping level tiles off.", "is holding a rubik's cube.", "starts pulling up roofing."],
            "label": 3, "split": "val"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "label": "2"}) + "\n")
    examples = mc.read_jsonl(path, "exp.yaml")
    assert [e.label for e in examples] == [3, 2] and examples[0].context == good["ctx"]
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "endings": ["one", "two"]}) + "\n")
    with pytest.raises(ConfigError, match=r"hellaswag_val.jsonl line 2: 'endings' must be a list of 4 strings"):
        mc.read_jsonl(path, "exp.yaml")
    with pytest.raises(ConfigError, match="file not found"):
        mc.read_jsonl(tmp_path / "missing.jsonl", "exp.yaml")


def test_built_examples_reproduce_the_held_out_text_and_hide_the_answer():
    lines = [f"Line {i} of the play has quite a few words in it, number {i * 7}.\n" for i in range(400)]
    text = "".join(lines)
    examples = heldout_choices.build(text, 30, seed=1, context_chars=100)
    again = heldout_choices.build(text, 30, seed=1, context_chars=100)
    assert len(examples) == 30 and examples == again
    for e in examples:
        true = e.context + " " + e.endings[e.label]
        assert true in text and len(e.context) > 100
        assert len(set(e.endings)) == 4 and all(e.context + " " + x not in text for i, x in enumerate(e.endings) if i != e.label)
    assert len({e.label for e in examples}) > 1
