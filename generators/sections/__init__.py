"""Engine-specific sections of a run page (gradient checks, scenario tables, evaluations...).

Each builder takes a `RunView` and returns rendered Markdown (`markup.Safe`) or None when the run
has nothing for it. A builder lives in its own module here and renders its own template; add it
to BUILDERS to place it on every run page, in this order, after the figures.
"""
from __future__ import annotations

from typing import Callable

from ..markup import Safe
from ..runs import RunView
from . import gradcheck, introspection, multiple_choice
from .gates import gates_section
from .published import published_section

Builder = Callable[[RunView], "Safe | None"]

BUILDERS: list[Builder] = [gates_section, published_section, gradcheck.build, introspection.build, multiple_choice.build]


def render_sections(run: RunView) -> list[Safe]:
    return [s for s in (build(run) for build in BUILDERS) if s]


from . import market_scenarios  # noqa: E402  (builders import this module's types)

BUILDERS.append(market_scenarios.build)
