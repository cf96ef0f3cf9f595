"""Training engines. Each engine module offers `prepare(cfg, source)` (load data, build the model;
config and data mistakes surface here, before any run folder exists) and `train(prepared, run)`.
"""
from __future__ import annotations

import importlib

ENGINES = {"mlp": "names_mlp"}
"""model.type -> engine module in this package."""


def for_model(model_type: str):
    return importlib.import_module(f".{ENGINES[model_type]}", __name__)
