"""A training script of one's own, tracked by `trainer.track()` (`model.type: script`).

No engine trains it: the script does, and `track` writes this config from its arguments. The script's own
settings are kept as given (`params`), so the run page shows them and `reproduce` can tell a changed config.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .common import ExperimentHeader


@dataclass
class ScriptModelConfig:
    type: Literal["script"] = "script"
    """a script of your own trains the model; `trainer.track()` makes it a run"""


@dataclass(kw_only=True)
class ScriptExperiment(ExperimentHeader):
    seed: int | None = None
    """the seed `trainer.track(seed=...)` gave Python, NumPy and (when the script uses it) torch as the block began;
    None when the script seeds itself (its own settings in `params` then say how)"""
    model: ScriptModelConfig = field(default_factory=ScriptModelConfig)
    """no engine: the model is the script's business"""
    params: dict[str, Any] = field(default_factory=dict)
    """the script's own settings, as it passed them to `trainer.track(config=...)`"""
