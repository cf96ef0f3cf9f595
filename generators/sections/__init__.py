"""Sections of a run page besides its figures: quality gates, engine-specific tables and evaluations.

Each builder takes a `RunView` and returns rendered Markdown (`markup.Safe`) or None when the run has
nothing for it; it lives in its own module here and renders its own template. SECTIONS names every one.
A run page shows, after its figures, the COMMON sections, then those its engine's spec declares
(`EngineSpec.sections`, in the spec's order). A run of a model type no registered engine knows (a plugin's,
or one from before the registry) shows the common sections and each section whose artifact its record lists,
so it still shows what it has. A new section is a module here, an entry in SECTIONS, and its name in the
specs of the engines that write its artifact (trainer/engines/registry.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from trainer.engines import registry
from trainer.kinds.forecast import FORECASTS
from trainer.kinds.image import CLASSIFICATION
from trainer.tracking import layout

from ..markup import Safe
from ..runs import RunView
from . import (behaviour, forecast, gates, gradcheck, image_classes, introspection, market_scenarios, model,
               multiple_choice, published)


@dataclass(frozen=True)
class Section:
    build: Callable[[RunView], Safe | None]
    artifact: str | None = None
    """the run-folder file it shows (a layout name); None for a section every run page has"""


SECTIONS: dict[str, Section] = {
    "gates": Section(gates.build),
    "published": Section(published.build),
    "model": Section(model.build),
    "gradcheck": Section(gradcheck.build, layout.GRADCHECK),
    "introspection": Section(introspection.build, layout.INTROSPECTION),
    "multiple_choice": Section(multiple_choice.build, layout.CHOICES),
    "behaviour": Section(behaviour.build, layout.BEHAVIOUR),
    "market_scenarios": Section(market_scenarios.build, layout.SCENARIOS),
    "forecast": Section(forecast.build, FORECASTS),
    "image_classes": Section(image_classes.build, CLASSIFICATION),
}
COMMON = ("gates", "model", "published")
"""on every run page, first"""


def names_for(run: RunView) -> list[str]:
    """The sections a run's page shows, in order (each may still find nothing to show)."""
    spec = registry.spec_for(run.model_type)
    if spec is not None:  # a name these generators do not have (a newer plugin's) is left out, not an error
        return [*COMMON, *(name for name in spec.sections if name in SECTIONS)]
    return [*COMMON, *(name for name, s in SECTIONS.items() if s.artifact and s.artifact in run.artifacts)]


def render_sections(run: RunView) -> list[Safe]:
    return [s for s in (SECTIONS[name].build(run) for name in names_for(run)) if s]
