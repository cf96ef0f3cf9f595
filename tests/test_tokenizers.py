"""Tokenizers round-trip, GPT-2's ranks give GPT-2's ids, learned BPE matches a naive reference, streams are cached."""
from __future__ import annotations

import io
import tarfile
from collections import Counter

import numpy as np
import pytest

from trainer.data import bpe, cache, gpt2_ranks, streams, tokenizers

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 3


def test_char_tokenizer_round_trips_and_refuses_unknown_characters():
    tok = tokenizers.CharTokenizer(sorted(set(TEXT)))
    ids = tok.encode(TEXT)
    assert ids.dtype == np.int64 and ids.max() < tok.vocab_size
    assert tok.decode(ids) == TEXT
    with pytest.raises(ValueError, match="'é' is not in the vocabulary"):
        tok.encode("café")


def test_gpt2_ranks_give_gpt2_token_ids():
    tok = tokenizers.gpt2()  # from .cache/gpt2.tiktoken, which `make setup` extracts from openai-whisper's sdist
    assert tok.vocab_size == 50257
    assert tok.encode("hello world").tolist() == [31373, 995]
    assert tok.encode(" the").tolist() == [262]
    line = "O Romeo, Romeo! wherefore art thou Romeo?\n"
    assert tok.decode(tok.encode(line)) == line


def test_gpt2_ranks_with_the_wrong_hash_are_refused(tmp_path):
    fake = tmp_path / "gpt2.tiktoken"
    fake.write_bytes(b"aGVsbG8= 0\n")
    with pytest.raises(gpt2_ranks.RanksError, match="has sha256 .*GPT-2's r50k ranks have"):
        gpt2_ranks.locate(str(fake))


def test_ranks_are_extracted_from_a_whisper_sdist_only_when_they_verify(tmp_path):
    archive = tmp_path / "openai_whisper-0.tar.gz"
    data = b"not the ranks\n"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("openai_whisper-0/whisper/assets/gpt2.tiktoken")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(gpt2_ranks.RanksError, match="expected 306cd27f"):
        gpt2_ranks.install_from_sdist(archive, tmp_path / "out.tiktoken")
    assert not (tmp_path / "out.tiktoken").exists()


def naive_bpe(word_counts: Counter, merges: int) -> dict[bytes, int]:
    """The textbook algorithm: recount every pair after every merge. Slow, obviously right."""
    ids = {bytes([b]): b for b in range(256)}
    vocab = [bytes([b]) for b in range(256)]
    words = {tuple(w): c for w, c in word_counts.items()}
    learned = 0
    while learned < merges:
        pairs = Counter()
        for w, c in words.items():
            for p in zip(w, w[1:]):
                pairs[p] += c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < 2:
            break
        token = vocab[best[0]] + vocab[best[1]]
        if token not in ids:
            ids[token] = len(vocab)
            vocab.append(token)
            learned += 1
        new_id = ids[token]
        merged = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + c
        words = merged
    return ids


def test_incremental_bpe_learns_exactly_the_merges_of_the_naive_algorithm():
    text = TEXT + "the cat sat on the mat; the rat ate the hat. " * 7 + "thethe tatata abab abababab "
    counts = bpe.count_words(text, tokenizers.PATTERN)
    assert bpe.learn(counts, 60) == naive_bpe(counts, 60)


def test_learned_bpe_is_a_tiktoken_encoding_that_round_trips_any_text(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    tok = tokenizers.learned_bpe(TEXT * 5, merges=40)
    assert tok.vocab_size == 256 + 40
    assert len(tok.encode(TEXT)) < len(TEXT.encode()) / 2  # it compresses what it learned from
    for text in (TEXT, "unseen words, ünïcödé and emoji 🎭\n"):
        assert tok.decode(tok.encode(text)) == text
    again = tokenizers.learned_bpe(TEXT * 5, merges=40)
    assert "(cache)" in again.source and again.sha256 == tok.sha256
    assert bpe.loads(tok.files()[tokenizers.BPE_FILE], "saved") == tok.encoding._mergeable_ranks


def test_token_streams_are_cached_per_text_and_tokenizer(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    chars = tokenizers.CharTokenizer(sorted(set(TEXT)))
    first = streams.load(TEXT, chars)
    assert first.dtype == np.uint16 and chars.decode(first) == TEXT
    assert len(list((tmp_path / "tokens").glob("*.uint16"))) == 1
    other = tokenizers.CharTokenizer(sorted(set(TEXT + "#")))
    streams.load(TEXT, chars)
    streams.load(TEXT, other)
    streams.load(TEXT[:-1], chars)
    assert len(list((tmp_path / "tokens").glob("*.uint16"))) == 3
