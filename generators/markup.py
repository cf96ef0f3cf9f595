"""Escaping and formatting for generated Markdown, and the jinja2 environment that applies them.

Every value a template prints is escaped by default (the environment's `finalize`), so a run
name, tag, note or generated sample containing HTML, Markdown, or Hugo shortcode syntax is shown
literally. Only values wrapped in `Safe` (markup built here from escaped parts) pass through.
Entities are used instead of backslashes because both Hugo's Goldmark and MkDocs' Python-Markdown
decode them, inside tables too. Hugo's typographer rewrites `--`, `---` and `...` in text (inline code
written as HTML included) into dashes and an ellipsis, so those runs are entities too: a command line
copied from a page must still run. Control characters (a NUL, a terminal escape) are shown as their
Unicode pictures (`␀`, `␛`): HTML forbids them in text, and a reader should see them, not lose them.

MkDocs Material prints a page's front matter title and description into HTML without escaping them
(Hugo's templates escape); `theme_text` is for those values.
"""
from __future__ import annotations

import html
import math
import re
import urllib.parse
from datetime import datetime
from pathlib import Path

import jinja2

# Characters that HTML, Markdown, tables or Hugo shortcodes (`{{< >}}`) give a meaning to.
_ENTITIES = {c: f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#!|~$"}
_CONTROLS = {**{chr(c): chr(0x2400 + c) for c in range(32) if chr(c) not in "\t\n\r"}, "\x7f": "\u2421"}
_BLOCK = str.maketrans({**_CONTROLS, **_ENTITIES})
_INLINE = str.maketrans({**_CONTROLS, **_ENTITIES, "\r": " ", "\n": " ", "\t": " "})
_VISIBLE = str.maketrans(_CONTROLS)
# Runs of them, not every hyphen or dot: run ids and numbers stay short and readable in the Markdown.
_TYPOGRAPHY = re.compile(r"-{2,}|\.{3,}")


class Safe(str):
    """Markup already built from escaped parts; printed as is."""


def inline(value) -> Safe:
    """Any value as literal text on one line of Markdown."""
    if isinstance(value, Safe):
        return value
    text = "" if value is None else str(value).translate(_INLINE)
    if "--" in text or "..." in text:
        text = _TYPOGRAPHY.sub(lambda m: m.group(0).replace("-", "&#45;").replace(".", "&#46;"), text)
    return Safe(text)


def block(text: str) -> Safe:
    """Multi-line text shown verbatim in a <pre> block (raw HTML, so shortcodes and Markdown stay inert)."""
    escaped = text.rstrip("\n").translate(_BLOCK)
    return Safe(f'<pre class="verbatim"><code>{escaped}</code></pre>')


def code(value) -> Safe:
    """Inline code; HTML rather than backticks, since entities are not decoded inside a code span."""
    return Safe(f"<code>{inline(value)}</code>")


def url_part(value: str) -> Safe:
    """A path segment for a link target, percent-encoded."""
    return Safe(urllib.parse.quote(str(value), safe=""))


def visible(value) -> str:
    """Plain text with its control characters shown as pictures, for a front matter value Hugo's templates escape."""
    return str(value).translate(_VISIBLE)


def theme_text(value) -> str:
    """Plain text for a front matter value a theme prints into HTML as is (quotes escaped: it may land in an attribute)."""
    return html.escape(visible(value), quote=True)


def number(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.{digits - 1}e}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.{digits}f}"


def duration(seconds) -> str:
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def size(n) -> str:
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def date(iso: str | None) -> str:
    if not iso:
        return "–"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def short(commit: str | None) -> str:
    return commit[:7] if commit else "–"


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept in jinja's per-user temporary folder (keyed by each template's source): a publish that
    adds one run renders a dozen templates, and compiling them again each time was a tenth of its time. A cache
    that cannot be written only costs that time again."""

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _compiled_templates() -> jinja2.BytecodeCache | None:
    try:
        return _CompiledTemplates()
    except (OSError, RuntimeError):  # no private temporary folder to be had (jinja refuses one owned by another user)
        return None


def environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        bytecode_cache=_compiled_templates(),
        autoescape=False,  # `finalize` escapes for Markdown + HTML instead of HTML alone
        finalize=inline,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        block=block, code=code, url=url_part, number=number, duration=duration, size=size, date=date, short=short,
    )
    return env
