"""Better or worse only between comparable values: a char-level and a BPE GPT run, really trained, compared by the
rule every comparison uses (generators/diff.py): no mark on their losses per token, a mark on bits per character."""
from __future__ import annotations

import json

from generators import compare, describe, diff
from generators.runs import load_runs


def test_char_and_bpe_gpt_losses_are_not_compared_but_their_bits_per_character_are(gpt_pair):
    runs = {r.id: r for r in load_runs(gpt_pair["char"].parent)}
    char, bpe = runs[gpt_pair["char"].name], runs[gpt_pair["bpe"].name]

    rule = diff.comparable(char, bpe)
    deltas = {d.name: d for d in diff.metric_deltas(char, bpe)}

    assert not rule.comparable and "data.tokenizer.sha256" in rule.reason and rule.across == "val_bpc"
    assert {deltas[n].verdict for n in ("val_loss", "train_loss", "best_val_loss")} == {"incomparable"}
    assert deltas["val_bpc"].verdict in ("better", "worse")
    assert diff.mark(deltas["val_loss"]) == "≠ not comparable" and diff.delta_text(deltas["val_loss"]) == "–"
    assert diff.key_delta(char, bpe).verdict == "incomparable" and describe.improvement(bpe, char) is None


def test_a_comparison_page_of_the_two_says_why_and_points_to_bits_per_character(gpt_pair):
    runs = {r.id: r for r in load_runs(gpt_pair["char"].parent)}
    char, bpe = runs[gpt_pair["char"].name], runs[gpt_pair["bpe"].name]

    rows = {r["name"]: r for r in compare.metric_rows(char, bpe)}
    note = compare.comparability_note(char, bpe)

    assert rows["val_loss (key metric)"]["mark"] == "≠ not comparable"
    assert rows["val_bpc (comparable across units)"]["mark"] in (diff.MARKS["better"], diff.MARKS["worse"])
    assert "not comparable" in note and "val_bpc" in note


def test_two_runs_with_one_tokenizer_are_compared_as_before(gpt_pair):
    (char,) = [r for r in load_runs(gpt_pair["char"].parent) if r.id == gpt_pair["char"].name]
    record = json.loads(json.dumps(char.record))
    record["metrics"]["val_loss"] += 0.5
    worse = type(char)(id=char.id + "x", folder=char.folder, record=record)

    assert diff.comparable(char, worse).comparable and diff.key_delta(char, worse).verdict == "worse"
