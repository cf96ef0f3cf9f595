"""Colours a reader can read: WCAG contrast of every text colour of the stylesheet on the backgrounds it is used on."""
from __future__ import annotations

import re

from tests.conftest import REPO

CSS = REPO / "static" / "css" / "content.css"
PAIRS = {
    ("--tb-text", "--tb-bg"), ("--tb-text", "--tb-panel"), ("--tb-muted", "--tb-bg"), ("--tb-muted", "--tb-panel"),
    ("--tb-link", "--tb-bg"), ("--tb-link", "--tb-panel"), ("--tb-ok", "--tb-ok-bg"), ("--tb-bad", "--tb-bad-bg"),
    ("--tb-warn", "--tb-warn-bg"), ("--tb-current", "--tb-current-bg"), ("--tb-text", "--tb-bad-bg"),
}
"""(text colour, background) as the stylesheets combine them; AA for body text asks for 4.5:1"""


def colours() -> dict[str, str]:
    root = re.search(r":root\s*\{([^}]*)\}", CSS.read_text()).group(1)
    return dict(re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{6})\s*;", root))


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_wcag_reference_values():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54  # the lightest grey that passes AA on white


def test_every_text_colour_has_at_least_4_5_to_1_contrast_on_its_background():
    palette = colours()
    weak = {(fg, bg): round(contrast(palette[fg], palette[bg]), 2) for fg, bg in PAIRS if contrast(palette[fg], palette[bg]) < 4.5}
    assert weak == {}


def test_every_colour_of_the_palette_is_checked_in_some_pair():
    used = {name for pair in PAIRS for name in pair}
    assert set(colours()) - {"--tb-rule"} <= used  # --tb-rule draws lines, not text
    assert len(colours()) >= 12
