"""Faults on purpose, for the tests that prove what a failure does to a run (never set outside tests).

`TRAINBOOK_TEST_FAULT=rank=1,step=5` makes the process of rank 1 raise at the start of training step 5,
as a bug or a lost device would: the tests use it to show that a failure on any process fails the run
on every process. Read once per process; unset, it costs one dictionary lookup per step.
"""
from __future__ import annotations

import os

VARIABLE = "TRAINBOOK_TEST_FAULT"


class InjectedFault(RuntimeError):
    """The failure TRAINBOOK_TEST_FAULT asked for."""


def _planned() -> dict[str, int] | None:
    text = os.environ.get(VARIABLE)
    if not text:
        return None
    return {key.strip(): int(value) for key, value in (part.split("=", 1) for part in text.split(","))}


_PLAN = _planned()


def at_step(step: int, rank: int) -> None:
    """Raise here if the plan names this step (1-based) on this rank."""
    if _PLAN is not None and _PLAN.get("step") == step and _PLAN.get("rank", 0) == rank:
        raise InjectedFault(f"fault injected by {VARIABLE} at step {step} on rank {rank}")
