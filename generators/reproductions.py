"""Which runs reproduce which, and the run page's "Reproduction" section on both sides.

`python -m trainer reproduce` writes `reproduction: {of, verdict, summary, ...}` into the new
run's record only; the original's record is sealed and never changes. So the original learns of
its reproductions here, from the records of the runs that name it, and its page key includes them
(an incremental publish rewrites the original's page when a reproduction appears).
"""
from __future__ import annotations

from dataclasses import dataclass

from .runs import RunView

VERDICT_MARK = {"identical": "✅ identical", "within tolerance": "☑️ within tolerance", "diverged": "❌ diverged"}


def of(run: RunView) -> dict | None:
    """The run's own `reproduction` section when it is a reproduction with a verdict, else None."""
    found = run.reproduction
    return found if found and found.get("of") and found.get("verdict") else None


def index(runs: list[RunView]) -> dict[str, list[RunView]]:
    """original run id -> the runs that reproduce it, newest first (as `runs` is ordered)."""
    found: dict[str, list[RunView]] = {}
    for run in runs:
        section = of(run)
        if section:
            found.setdefault(str(section["of"]), []).append(run)
    return found


@dataclass
class Verdict:
    run_id: str
    """the other run: the original on a reproduction's page, a reproduction on the original's"""
    linked: bool
    """whether the other run is on this site (it may have been removed from runs/)"""
    mark: str
    summary: str


def _verdict(section: dict, other: str, linked: bool) -> Verdict:
    verdict = str(section.get("verdict"))
    return Verdict(other, linked, VERDICT_MARK.get(verdict, verdict), str(section.get("summary") or verdict))


def fingerprint(run: RunView, reproductions: dict[str, list[RunView]], ids: set[str]) -> list:
    """What the section depends on beyond the run itself: its reproductions, and whether its original is on the site."""
    section = of(run)
    return [[(r.id, r.record_sha256) for r in reproductions.get(run.id, [])], section and str(section["of"]) in ids]


def facts(run: RunView, reproductions: dict[str, list[RunView]], ids: set[str]) -> dict:
    """What the run page's "Reproduction" section shows: this run's own verdict (if it is a reproduction)
    and those of the runs that reproduce it."""
    own = of(run) or {}
    return {
        "reproduces": _verdict(own, str(own["of"]), str(own["of"]) in ids) if own else None,
        "reproduced_by": [_verdict(of(r), r.id, True) for r in reproductions.get(run.id, [])],
        "differences": [str(d) for d in own.get("differences") or []],
        "excluded": sorted((own.get("excluded") or {}).get("metrics") or []),
        "tolerance": own.get("tolerance") or {},
        "compared": own.get("compared") or {},
    }
