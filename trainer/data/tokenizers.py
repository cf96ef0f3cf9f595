"""Tokenizers for text language models: characters, GPT-2's BPE, or a BPE vocabulary learned here.

All three encode to integer ids and decode back; the BPE ones are `tiktoken.Encoding`s, so
encoding is tiktoken's fast Rust path. Each tokenizer has a sha256 identity (its vocabulary and
pattern) that keys the token-stream cache and goes into the audit record.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np
import tiktoken
from tiktoken_ext.openai_public import r50k_pat_str

from ..errors import ConfigError
from ..schemas.gpt import TextDataConfig
from ..tracking import layout
from ..tracking.files import sha256_bytes
from . import bpe, cache, gpt2_ranks
from .text import TextCorpus

PATTERN = r50k_pat_str
"""GPT-2's pre-tokenization pattern, used for the learned BPE too (so the two are comparable)."""
BPE_VERSION = "trainbook-bpe-1"  # part of the cache key: bump when `bpe.learn` changes what it returns
BPE_FILE = layout.TOKENIZER


class Tokenizer:
    kind: str
    vocab_size: int
    sha256: str

    def encode(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def decode(self, ids) -> str:
        raise NotImplementedError

    def label(self, token: int) -> str:
        """A short printable name of one token, for figures."""
        return printable(self.decode([token]))

    def files(self) -> dict[str, bytes]:
        """Files that define this tokenizer, saved in the run folder."""
        return {}

    def record(self) -> dict:
        return {"kind": self.kind, "vocab_size": self.vocab_size, "sha256": self.sha256}


def printable(text: str) -> str:
    return text.replace("\n", "⏎").replace(" ", "␣").replace("\t", "⇥") or "∅"


class CharTokenizer(Tokenizer):
    kind = "char"

    def __init__(self, chars: list[str]):
        self.chars = chars
        self.vocab_size = len(chars)
        self.sha256 = sha256_bytes(json.dumps(chars, ensure_ascii=False).encode())
        self._points = np.array([ord(c) for c in chars], dtype=np.uint32)  # sorted, because chars are

    def encode(self, text: str) -> np.ndarray:
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.searchsorted(self._points, points)
        known = ids < len(self._points)
        known[known] = self._points[ids[known]] == points[known]
        if not known.all():
            raise ValueError(f"character {chr(points[~known][0])!r} is not in the vocabulary")
        return ids.astype(np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def record(self) -> dict:
        return {**super().record(), "chars": "".join(self.chars)}


class TiktokenTokenizer(Tokenizer):
    def __init__(self, kind: str, encoding: tiktoken.Encoding, sha256: str, source: str, files: dict[str, bytes]):
        self.kind, self.encoding, self.sha256, self.source, self._files = kind, encoding, sha256, source, files
        self.vocab_size = encoding.n_vocab

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self.encoding.encode_ordinary(text), dtype=np.int64)

    def decode(self, ids) -> str:
        return self.encoding.decode([int(i) for i in ids])

    def label(self, token: int) -> str:
        return printable(self.encoding.decode_single_token_bytes(token).decode("utf-8", errors="replace"))

    def files(self) -> dict[str, bytes]:
        return self._files

    def record(self) -> dict:
        return {**super().record(), "source": self.source, "pattern": "GPT-2 (r50k)"}


def gpt2(configured_path: str | None = None) -> TiktokenTokenizer:
    path, found = gpt2_ranks.locate(configured_path)
    ranks = bpe.loads(path.read_bytes(), str(path))
    encoding = tiktoken.Encoding("gpt2", pat_str=PATTERN, mergeable_ranks=ranks,
                                 special_tokens={gpt2_ranks.ENDOFTEXT: gpt2_ranks.ENDOFTEXT_ID})
    return TiktokenTokenizer("gpt2", encoding, gpt2_ranks.SHA256, f"GPT-2 r50k ranks from {found}", {})


def learned_bpe(train_text: str, merges: int) -> TiktokenTokenizer:
    """A BPE vocabulary learned from `train_text`, from the cache when the same text and settings met before."""
    key = sha256_bytes(f"{BPE_VERSION}\n{merges}\n{PATTERN}\n".encode() + train_text.encode("utf-8"))
    path = cache.entry("bpe", f"{key[:32]}.tiktoken")
    if cache.intact(path):
        ranks, how = bpe.loads(path.read_bytes(), str(path)), "cache"
    else:
        ranks, how = bpe.learn(bpe.count_words(train_text, PATTERN), merges), "learned"
        cache.store(path, bpe.dumps(ranks))
    return _bpe(ranks, f"{len(ranks) - 256} merges learned from the training split ({how})")


def _bpe(ranks: dict[bytes, int], source: str) -> TiktokenTokenizer:
    data = bpe.dumps(ranks)
    encoding = tiktoken.Encoding(f"bpe-{len(ranks) - 256}", pat_str=PATTERN, mergeable_ranks=ranks, special_tokens={})
    return TiktokenTokenizer("bpe", encoding, sha256_bytes(data + PATTERN.encode()), source, {BPE_FILE: data})


def from_record(cfg: TextDataConfig, recorded: dict, files: Mapping[str, Path], source: str) -> Tokenizer:
    """The tokenizer a run trained with, rebuilt from its record's `data.tokenizer` (and the run's vocabulary file,
    `files[BPE_FILE]`, for a learned BPE), or a ConfigError when it cannot be, or is not the recorded one."""
    kind = recorded.get("kind")
    if kind == "char":
        tokenizer: Tokenizer = CharTokenizer(list(recorded.get("chars") or ""))
    elif kind == "gpt2":
        try:
            tokenizer = gpt2(cfg.gpt2_ranks)
        except (gpt2_ranks.RanksError, ValueError) as e:
            raise ConfigError(source, "data.gpt2_ranks", str(e)) from None
    elif kind == "bpe" and BPE_FILE in files:
        path = files[BPE_FILE]
        try:
            tokenizer = _bpe(bpe.loads(path.read_bytes(), str(path)), f"the run's {BPE_FILE}")
        except ValueError as e:
            raise ConfigError(source, "data.tokenizer", str(e)) from None
    else:
        what = f"no {BPE_FILE} among its published files" if kind == "bpe" else f"an unknown tokenizer kind {kind!r}"
        raise ConfigError(source, "data.tokenizer", f"cannot be rebuilt: the run has {what}")
    if tokenizer.sha256 != recorded.get("sha256"):
        raise ConfigError(source, "data.tokenizer", f"the rebuilt {kind} tokenizer has sha256 {tokenizer.sha256}, the run "
                          f"recorded {recorded.get('sha256')}: not the vocabulary the model was trained with")
    return tokenizer


def build(cfg: TextDataConfig, corpus: TextCorpus, source: str) -> Tokenizer:
    if cfg.tokenizer == "char":
        return CharTokenizer(sorted(set("".join(corpus.splits.values()))))
    if cfg.tokenizer == "gpt2":
        try:
            return gpt2(cfg.gpt2_ranks)
        except (gpt2_ranks.RanksError, ValueError) as e:
            raise ConfigError(source, "data.gpt2_ranks", str(e)) from None
    return learned_bpe(corpus.splits["train"], cfg.bpe_merges)
