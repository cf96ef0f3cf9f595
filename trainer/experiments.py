"""Experiment files in, validated configs out: the YAML machinery of `config` with the schema the registry names."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import apply_overrides, build, read_yaml
from .engines import registry


def load(path: str | Path, overrides: list[str] | None = None) -> Any:
    """The validated experiment config of a YAML file with `key=value` overrides applied."""
    path = Path(path)
    data = apply_overrides(read_yaml(path), list(overrides or []))
    return build(registry.spec_of(data, str(path)).experiment_schema(), data, str(path))


def from_dict(data: dict, source: str) -> Any:
    """A config rebuilt from a resolved mapping (e.g. a run's config.yaml)."""
    return build(registry.spec_of(data, source).experiment_schema(), data, source)


def spec(cfg: Any):
    """The engine spec of a loaded config."""
    return registry.spec_for(cfg.model.type, import_path=True)  # a config the person wrote may name its engine by path
