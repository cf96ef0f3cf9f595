"""Token streams: a split's text encoded once and kept on disk as a flat uint16 array.

The cache entry is keyed by the sha256 of the text and of the tokenizer, so any change to either
makes a new entry, and checked against the sha256 of its own bytes before use (cache.intact), so a
damaged one is encoded again; a stream is memory-mapped, not read, so a corpus larger than memory
still works.
"""
from __future__ import annotations

import numpy as np

from ..tracking.files import sha256_bytes
from . import cache
from .tokenizers import Tokenizer

DTYPE = np.uint16
MAX_VOCAB = int(np.iinfo(DTYPE).max) + 1


def load(text: str, tokenizer: Tokenizer) -> np.ndarray:
    """The ids of `text`, from the cache if they were computed before."""
    if tokenizer.vocab_size > MAX_VOCAB:
        raise ValueError(f"a vocabulary of {tokenizer.vocab_size} does not fit {np.dtype(DTYPE).name} token streams")
    key = f"{sha256_bytes(text.encode('utf-8'))[:24]}-{tokenizer.kind}-{tokenizer.sha256[:24]}"
    path = cache.entry("tokens", f"{key}.{np.dtype(DTYPE).name}")
    if not cache.intact(path):
        cache.store(path, tokenizer.encode(text).astype(DTYPE).tobytes())
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=DTYPE)
    return np.memmap(path, dtype=DTYPE, mode="r")
