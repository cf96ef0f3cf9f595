"""The note on the page of a run restored from the published history: what was verified, what is not published."""
from __future__ import annotations

from .. import markup
from ..history import carried_files
from ..markup import Safe
from ..runs import RunView
from ..site import render_section


def build(run: RunView) -> Safe | None:
    if not run.from_history:
        return None
    artifacts, kept = run.artifacts, carried_files(run.record)
    left_out = [{"name": n, "size": markup.size(f.get("bytes"))} for n, f in sorted(artifacts.items()) if n not in kept]
    return render_section("sections/published.md.j2", carried=len(artifacts) - len(left_out) - len(run.stored),
                          left_out=left_out, stored=len(run.stored))
