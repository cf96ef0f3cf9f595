"""Training engines. Each engine module offers `prepare(cfg, source)` (load data, build the model;
config and data mistakes surface here, before any run folder exists) and `train(prepared, run)`,
plus `KIND` (the experiment kind shown on the site) and `KEY_METRIC` (name, goal min/max, label).
"""
from __future__ import annotations

import importlib

ENGINES = {"mlp": "names_mlp", "gpt": "gpt", "policy": "policy_gradient"}
"""model.type -> engine module in this package."""


def for_model(model_type: str):
    return importlib.import_module(f".{ENGINES[model_type]}", __name__)
