"""Sections of a run page besides its figures: quality gates, engine-specific tables and evaluations.

Each builder takes a `RunView` and returns rendered Markdown (`markup.Safe`) or None when the run has
nothing for it; it lives in its own module here and renders its own template. SECTIONS names every one.
A run page shows, after its figures, the COMMON sections, then those its engine's spec declares
(`EngineSpec.sections`, in the spec's order). A run of a model type no registered engine knows (a plugin
no longer installed, or one from before the registry) shows the common sections and each section whose
artifact its record lists, so it still shows what it has. A new section is a module here, an entry in SECTIONS,
and its name in the specs of the engines that write its artifact (trainer/engines/registry.py).

An engine from another package names its own sections by import path, "package.module:function": a torch-free
function that takes the run's reader (`trainer.plugin.RunFolder`) and returns Markdown or None. `plugin_section`
imports it on first use; a builder that imports torch, does not exist, or raises is shown on the page as a
note naming the package, never a crash of the publish, and its Markdown cannot run Hugo shortcodes.
"""
from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

from trainer.engines import registry
from trainer.kinds.forecast import FORECASTS
from trainer.kinds.image import CLASSIFICATION
from trainer.tracking import layout

from ..markup import Safe, inline
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


def is_plugin_section(name: str) -> bool:
    """A section named by the import path of its builder ("package.module:function")."""
    return ":" in name


def names_for(run: RunView) -> list[str]:
    """The sections a run's page shows, in order (each may still find nothing to show)."""
    spec = registry.spec_for(run.model_type)
    if spec is not None:  # a name these generators do not have (a newer engine's) is left out, not an error
        return [*COMMON, *(name for name in spec.sections if name in SECTIONS or is_plugin_section(name))]
    return [*COMMON, *(name for name, s in SECTIONS.items() if s.artifact and s.artifact in run.artifacts)]


def section_for(name: str, run: RunView) -> Section:
    return plugin_section(name, registry.origin(registry.spec_for(run.model_type)).label()) if is_plugin_section(name) \
        else SECTIONS[name]


@functools.cache
def plugin_section(path: str, package: str) -> Section:
    """The Section of a builder named by import path, ready to call on a RunView."""
    try:
        function = _builder(path)
    except Exception as e:  # noqa: BLE001 - a plugin's module may raise anything; the page says what
        problem = f"cannot be imported ({type(e).__name__}: {e})"
        return Section(lambda run: _note(package, path, problem))

    def build(run: RunView) -> Safe | None:
        try:
            text = function(run.contents)
        except Exception as e:  # noqa: BLE001
            print(f"{run.id}: the section {path} of {package} failed: {type(e).__name__}: {e}", file=sys.stderr)
            return _note(package, path, f"failed on this run ({type(e).__name__}: {e})")
        if text is None:
            return None
        if not isinstance(text, str):
            return _note(package, path, f"returned a {type(text).__name__}, not Markdown text")
        return Safe(text.replace("{{<", "{{&lt;").replace("{{%", "{{&#37;"))  # a plugin's Markdown never runs a shortcode

    return Section(build)


def _builder(path: str) -> Callable:
    module, _, name = path.partition(":")
    had_torch = "torch" in sys.modules
    function = getattr(importlib.import_module(module), name)
    if not had_torch and "torch" in sys.modules:
        raise ImportError(f"{module} imports torch; a page section must be torch-free (the site never imports torch)")
    if not callable(function):
        raise TypeError(f"{path} is a {type(function).__name__}, not a function")
    return function


def _note(package: str, path: str, problem: str) -> Safe:
    return Safe(f"> **A section of {inline(package)} is missing:** {inline(path)} {inline(problem)}.\n")


def fingerprint(run: RunView) -> list:
    """What the page's plugin sections depend on besides the run: the package and source of their builders."""
    spec = registry.spec_for(run.model_type)
    if spec is None or not any(is_plugin_section(name) for name in spec.sections):
        return []
    found = registry.origin(spec)
    return [found.package, found.version, registry.source_sha256(spec.module or spec.model_type)]


def render_sections(run: RunView) -> list[Safe]:
    return [s for s in (section_for(name, run).build(run) for name in names_for(run)) if s]
