"""What the guide's pages are made of, read cheaply: the text of each docs/ page and the source of every schema the
configuration reference is rendered from. The guide's page keys (generators/guide.py) and a publish's check that
nothing changed (`python -m generators`) hash these instead of rendering the pages, which takes about a second
(the reference reads every docstring with inspect)."""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import typing
from pathlib import Path

from trainer.config import describe
from trainer.engines import registry
from trainer.engines.contract import EngineSpec

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _nested(hint) -> list:
    """The types inside a type hint (`list[RegimeConfig] | None` -> list, RegimeConfig, None)."""
    found = []
    for arg in typing.get_args(hint):
        found += [arg, *_nested(arg)]
    return found


def schema_sources(schema: type) -> list[str]:
    """The sha256 of each source file a schema's reference rows are read from: its own, every schema it nests
    (sections, list items) as config.describe walks them, and config.describe's."""
    files, seen, todo = set(), set(), [schema]
    while todo:
        kind = todo.pop()
        if isinstance(kind, type) and dataclasses.is_dataclass(kind) and kind not in seen:
            seen.add(kind)
            files.add(inspect.getsourcefile(kind))
            todo += [k for hint in typing.get_type_hints(kind).values() for k in (hint, *_nested(hint))]
    files.add(inspect.getsourcefile(describe))
    return [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in sorted(f for f in files if f)]


def reference(specs: dict[str, EngineSpec]) -> list:
    """What the reference page is made of: each engine's spec and its schema's sources."""
    return [[t, s.description, s.kind, s.key_metric.as_record(), s.resumable, s.multi_process, s.replay, s.artifacts,
             schema_sources(s.experiment_schema())] for t, s in specs.items()]


def inputs(docs: Path = DOCS) -> list:
    """What every guide page is made of: each docs/ file's text (hashed) and the reference's sources."""
    texts = [[p.name, hashlib.sha256(p.read_bytes()).hexdigest()] for p in sorted(docs.glob("*.md"))] if docs.is_dir() else []
    return [texts, reference(registry.specs())]
