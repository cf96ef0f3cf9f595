"""The engine registry: `model.type` -> EngineSpec. Every command, the config loader and the site ask it.

Adding an engine is one module in this package and one entry in BUILTIN. The kinds in KINDS are built in
but come through the door other packages' engines use: a spec found by its import path, written only
against the public API (`trainer.plugin`). Torch-free: a spec module imports no engine.
"""
from __future__ import annotations

import functools
import importlib

from ..config import did_you_mean
from ..errors import ConfigError
from ..schemas.gpt import GPTExperiment
from ..schemas.mlp import MLPExperiment
from ..schemas.policy import PolicyExperiment
from ..tracking import layout
from .contract import EngineSpec, KeyMetric

VAL_LOSS_PER_TOKEN = KeyMetric("val_loss", "min", "val loss", "nats per token", ("data.tokenizer.sha256",), across="val_bpc")
VAL_LOSS_PER_CHARACTER = KeyMetric("val_loss", "min", "val loss", "nats per character")

BUILTIN: dict[str, EngineSpec] = {spec.model_type: spec for spec in (
    EngineSpec("mlp", MLPExperiment, "language-model", VAL_LOSS_PER_CHARACTER, "trainer.engines.names_mlp",
               description="makemore-style character MLP with BatchNorm (autograd, or a hand-written backward pass)",
               multi_process=True, one_process_settings=(("model.backprop", "manual"),), generates=True,
               sections=("gradcheck", "introspection"),
               artifacts=(layout.SAMPLES, layout.EMBEDDINGS, layout.GRADCHECK, layout.INTROSPECTION, layout.BEST)),
    EngineSpec("gpt", GPTExperiment, "language-model", VAL_LOSS_PER_TOKEN, "trainer.engines.gpt",
               description="decoder-only GPT (GPT-2 layout) on text, char, GPT-2 or learned BPE tokens",
               multi_process=True, generates=True, scores_choices=True, sections=("multiple_choice",),
               artifacts=(layout.SAMPLES, layout.EMBEDDINGS, layout.CHOICES, layout.CHOICE_SET, layout.TOKENIZER, layout.BEST)),
    EngineSpec("policy", PolicyExperiment, "rl", KeyMetric("eval_return", "max", "eval return", "reward per episode"),
               "trainer.engines.policy_gradient",
               description="REINFORCE with a value baseline in the gymnasium market simulator",
               replay=True, sections=("behaviour", "market_scenarios"),
               artifacts=(layout.SCENARIOS, layout.BEHAVIOUR, layout.TRACE)),
)}


KINDS: tuple[str, ...] = ("trainer.kinds.forecast:SPEC", "trainer.kinds.image:SPEC")
"""built-in kinds registered by the import path of their spec ("package.module:NAME")"""


def _load_spec(path: str) -> EngineSpec:
    module, _, name = path.partition(":")
    spec = getattr(importlib.import_module(module), name)
    if not isinstance(spec, EngineSpec):
        raise TypeError(f"{path} is not an EngineSpec")
    return spec


@functools.cache
def specs() -> dict[str, EngineSpec]:
    """Every engine this installation knows, by model type: the built-in ones first."""
    found = dict(BUILTIN)
    for path in KINDS:
        spec = _load_spec(path)
        found[spec.model_type] = spec
    return found


def names() -> list[str]:
    return list(specs())


def spec_for(model_type: str) -> EngineSpec | None:
    """The spec registered for `model_type`, or None."""
    return specs().get(model_type)


def spec_of(data: dict, source: str) -> EngineSpec:
    """The spec an experiment mapping asks for through `model.type`, or a ConfigError naming the choices."""
    model = data.get("model")
    known = ", ".join(map(repr, names()))
    if not isinstance(model, dict) or "type" not in model:
        raise ConfigError(source, "model.type", f"missing; expected one of {known}")
    kind = model["type"]
    if not isinstance(kind, str) or spec_for(kind) is None:
        raise ConfigError(source, "model.type", f"expected one of {known}, got {kind!r}{did_you_mean(str(kind), names())}")
    return spec_for(kind)
