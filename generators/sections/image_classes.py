"""Run-page section: an image-classification run's test split, class by class.

Reads `classification.json`, which the image engine writes (trainer/kinds/image/engine.py); every number is
formatted here, and the template only lays the strings out.
"""
from __future__ import annotations

import sys

from trainer.kinds.image import CLASSIFICATION

from ..markup import Safe
from ..runs import RunView
from ..site import render_section

TEMPLATE = "sections/image_classes.md.j2"


def _row(entry: dict) -> dict:
    return {"name": entry["class"], "images": entry["images"], "correct": entry["correct"],
            "accuracy": f"{entry['accuracy']:.1%}", "confused": entry["mistaken_for"] or "–"}


def build(run: RunView) -> Safe | None:
    data = run.read_json(CLASSIFICATION) if CLASSIFICATION in run.artifacts else None
    if not isinstance(data, dict):
        return None
    try:
        classes = data["per_class"]
        rows = [_row(entry) for entry in classes]
        worst = _row(min(classes, key=lambda entry: entry["accuracy"])) if classes else None
        split, wrong = data["split"], len(data["misclassified"])
        accuracy = f"{data['test_accuracy']:.2%}"
    except (KeyError, TypeError, ValueError) as e:
        print(f"{run.id}: {CLASSIFICATION} is not a classification report ({e}); section skipped", file=sys.stderr)
        return None
    return render_section(TEMPLATE, rows=rows, accuracy=accuracy, wrong=wrong, split=split, worst=worst, file=CLASSIFICATION,
                          published=CLASSIFICATION in {p.name for p in run.published_files})
