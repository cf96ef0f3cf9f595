"""The engine registry: `model.type` -> EngineSpec. Every command, the config loader and the site ask it.

Adding an engine is one module in this package and one entry in BUILTIN. Torch-free.
"""
from __future__ import annotations

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
               multi_process=True, sections=(layout.GRADCHECK, layout.INTROSPECTION),
               artifacts=(layout.SAMPLES, layout.EMBEDDINGS, layout.GRADCHECK, layout.INTROSPECTION, layout.BEST)),
    EngineSpec("gpt", GPTExperiment, "language-model", VAL_LOSS_PER_TOKEN, "trainer.engines.gpt",
               description="decoder-only GPT (GPT-2 layout) on text, char, GPT-2 or learned BPE tokens",
               multi_process=True, sections=(layout.CHOICES, layout.INTROSPECTION),
               artifacts=(layout.SAMPLES, layout.EMBEDDINGS, layout.CHOICES, layout.CHOICE_SET, layout.TOKENIZER,
                          layout.INTROSPECTION, layout.BEST)),
    EngineSpec("policy", PolicyExperiment, "rl", KeyMetric("eval_return", "max", "eval return", "reward per episode"),
               "trainer.engines.policy_gradient",
               description="REINFORCE with a value baseline in the gymnasium market simulator",
               replay=True, sections=(layout.SCENARIOS,), artifacts=(layout.SCENARIOS, layout.TRACE)),
)}


def names() -> list[str]:
    return list(BUILTIN)


def spec_for(model_type: str) -> EngineSpec | None:
    """The spec registered for `model_type`, or None."""
    return BUILTIN.get(model_type)


def spec_of(data: dict, source: str) -> EngineSpec:
    """The spec an experiment mapping asks for through `model.type`, or a ConfigError naming the choices."""
    model = data.get("model")
    known = ", ".join(map(repr, BUILTIN))
    if not isinstance(model, dict) or "type" not in model:
        raise ConfigError(source, "model.type", f"missing; expected one of {known}")
    kind = model["type"]
    if not isinstance(kind, str) or kind not in BUILTIN:
        raise ConfigError(source, "model.type", f"expected one of {known}, got {kind!r}{did_you_mean(str(kind), names())}")
    return BUILTIN[kind]
