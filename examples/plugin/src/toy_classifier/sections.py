"""The engine's own part of a run page: the validation confusion matrix, as Markdown.

Named in the spec by import path (`toy_classifier.sections:confusion`); the site calls it with the run's
reader (trainer.plugin.RunFolder) for every run of this engine, on Hugo and MkDocs alike. Torch-free.
"""
from __future__ import annotations

from trainer.plugin import RunFolder

from .spec import CONFUSION


def confusion(run: RunFolder) -> str | None:
    """A table of true against predicted moon for the validation points, or None when the run has none."""
    found = run.read_json(CONFUSION)
    if not found:
        return None
    (a, b), (c, d) = found["matrix"]
    total = a + b + c + d
    return "\n".join([
        "## Confusion matrix",
        "",
        (f"The {total} validation points after the last step, by the moon they were drawn from and the one the model "
         f"chose: {a + d} right ({(a + d) / total:.1%})."),
        "",
        "| true \\ predicted | moon 0 | moon 1 |",
        "| --- | --- | --- |",
        f"| moon 0 | {a} | {b} |",
        f"| moon 1 | {c} | {d} |",
    ])
