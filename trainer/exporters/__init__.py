"""Runs in the experiment trackers a team already uses: MLflow and TensorBoard, written by their own clients.

`trainer export --to mlflow URI` and `--to tensorboard DIR` copy a sealed run; `tracking.mirror` in an experiment
logs a run into them while it trains (mirror.py). Both go through one interface per tool (to_mlflow.py,
to_tensorboard.py): a `Sink` opened for one run's record, handed metric rows as they come, and finished with
the sealed run folder (final metrics, status, the record and figures as artifacts, the verification status).
What every tool is told about a run is worked out once, in facts.py. The run folder stays the source of truth:
nothing here writes into it.

A tool's client is imported only when that tool is used (`tool(name)`): MLflow alone takes seconds to import,
which no other command should pay. Torch-free.
"""
from __future__ import annotations

import importlib
from types import ModuleType

TOOLS = {"mlflow": "trainer.exporters.to_mlflow", "tensorboard": "trainer.exporters.to_tensorboard"}
"""tool name -> the module that writes into it (each offers `Sink`, `default_destination`, `describe`)"""


class ExportError(Exception):
    """A tool refused or failed to take a run; the message names the tool, the destination and why."""


def tool(name: str) -> ModuleType:
    """The module that exports into `name` (one of TOOLS), imported now, with its tool's client."""
    return importlib.import_module(TOOLS[name])
