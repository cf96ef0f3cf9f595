"""What changed between two runs: config key by key, metrics with deltas and a better/worse call.

Shared by the comparison pages, the pull-request report and the site's comparison picker (whose script
applies the same rule to the published records) so that all say the same thing about the same runs, and
by `baseline`, the one rule for which run a run is compared with.

Better or worse is said only where the values are comparable (`comparable`): the key metric's unit, from
the engine contract's record (`key_metric`: unit, comparable_by, across), must be the same, and so must
the record's value at every `comparable_by` path. A loss in nats per token of two different tokenizers is
not comparable, and neither is any other loss of the two runs (they share that unit); the `across` metric
(bits per character) still is, and the pages point to it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from trainer.config import flatten as config_flatten

from . import markup
from .runs import RunView

NEUTRAL = {"init_loss", "uniform_loss", "steps", "params"}
"""metrics that describe the setup rather than the result: shown, never called better or worse"""
LOWER_BETTER = ("loss", "perplexity", "_ppl", "_error", "_bpc")
HIGHER_BETTER = ("accuracy", "_acc", "_per_s", "return", "reward")
"""name endings of metrics where lower, or higher, is better"""
RELATIVE_SAME = 1e-12


def direction(name: str, key_metric: dict | None) -> str | None:
    """'min' or 'max' when lower or higher is better for this metric, None when neither is."""
    if key_metric and name == key_metric.get("name"):
        return key_metric.get("goal")
    if name in NEUTRAL:
        return None
    if name.endswith(LOWER_BETTER):
        return "min"
    if name.endswith(HIGHER_BETTER):
        return "max"
    return None


# --- when two runs' values may be compared ----------------------------------------------------------

LOSS_FAMILY = ("loss", "perplexity", "_ppl")
"""name endings of the metrics measured in the key metric's unit (a language model's losses): with it, they
are comparable or not"""


@dataclass(frozen=True)
class Comparability:
    comparable: bool
    reason: str = ""
    """why not, for a reader: 'different units (nats per token, nats per character)'"""
    across: str | None = None
    """the metric that stays comparable, when both runs report it"""

    def applies_to(self, name: str, key_name: str) -> bool:
        """True when this verdict governs metric `name`: the key metric and the metrics in its unit, not `across`."""
        return name != self.across and (name == key_name or name.endswith(LOSS_FAMILY))


def comparable(base: RunView | None, head: RunView) -> Comparability:
    """May the two runs' key metrics (and the metrics in its unit) be called better or worse than each other?"""
    if base is None:
        return Comparability(True)
    a, b = base.key_metric, head.key_metric
    named = b.get("across") or a.get("across")
    across = named if named and named in base.metrics and named in head.metrics else None
    if a.get("name") != b.get("name"):
        return Comparability(False, f"different key metrics ({a.get('name')}, {b.get('name')})", across)
    if a.get("unit") and b.get("unit") and a.get("unit") != b.get("unit"):
        return Comparability(False, f"different units ({a.get('unit')}, {b.get('unit')})", across)
    for path in sorted(set(a.get("comparable_by") or []) | set(b.get("comparable_by") or [])):
        if base.value_at(path) != head.value_at(path):
            return Comparability(False, f"{path} differs, so {b.get('unit') or 'the unit'} is not the same unit", across)
    return Comparability(True)


@dataclass(frozen=True)
class MetricDelta:
    name: str
    base: float | None
    head: float | None
    goal: str | None
    is_key: bool = False
    comparable: bool = True
    """False when the two values are in different units (see `comparable`): no better or worse is said"""

    @property
    def delta(self) -> float | None:
        if self.base is None or self.head is None:
            return None
        return self.head - self.base

    @property
    def relative(self) -> float | None:
        if self.delta is None or self.base == 0:
            return None
        return self.delta / abs(self.base)

    @property
    def verdict(self) -> str | None:
        """'better', 'worse', 'same', 'incomparable' (different units), or None (no baseline value, or no direction)."""
        if self.delta is None:
            return None
        if not self.comparable:
            return "incomparable"
        if abs(self.delta) <= RELATIVE_SAME * max(abs(self.base), 1e-300):
            return "same"
        if self.goal not in ("min", "max"):
            return None
        return "better" if (self.delta < 0) == (self.goal == "min") else "worse"


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def metric_deltas(base: RunView | None, head: RunView) -> list[MetricDelta]:
    """Every final metric of either run, the key metric first, then by name."""
    key = head.key_metric
    base_metrics = base.metrics if base else {}
    rule = comparable(base, head)
    names = sorted(set(base_metrics) | set(head.metrics), key=lambda n: (n != key.get("name"), n))
    return [MetricDelta(n, _number(base_metrics.get(n)), _number(head.metrics.get(n)), direction(n, key),
                        n == key.get("name"), rule.comparable or not rule.applies_to(n, key.get("name")))
            for n in names]


def key_delta(base: RunView | None, head: RunView) -> MetricDelta:
    key = head.key_metric
    return MetricDelta(key["name"], _number(base.key_value) if base else None, _number(head.key_value), key.get("goal"), True,
                       comparable(base, head).comparable)


def flatten(config: dict) -> dict[str, str]:
    """A resolved config as dotted keys -> values written as JSON, so 1 and "1" never look alike."""
    return {key: json.dumps(value, sort_keys=True, ensure_ascii=False) for key, value in config_flatten(config).items()}


@dataclass(frozen=True)
class ConfigChange:
    key: str
    base: str | None
    """the base run's value as JSON, None when the key is new"""
    head: str | None
    """the head run's value as JSON, None when the key was removed"""


def config_rows(base: RunView | None, head: RunView) -> list[tuple[str, str | None, str | None, bool]]:
    """(key, base value, head value, differs) for every key of either config."""
    a = flatten(base.record.get("config") or {}) if base else {}
    b = flatten(head.record.get("config") or {})
    return [(k, a.get(k), b.get(k), a.get(k) != b.get(k)) for k in sorted(set(a) | set(b))]


def config_changes(base: RunView | None, head: RunView) -> list[ConfigChange]:
    if base is None:
        return []
    return [ConfigChange(k, a, b) for k, a, b, differs in config_rows(base, head) if differs]


def data_hash(run: RunView | None) -> str | None:
    return ((run.record.get("data") or {}).get("sha256")) if run else None


def reproduction(run: RunView) -> str | None:
    """The reproduction verdict on record (written by `trainer reproduce`), None when never checked."""
    found = run.record.get("reproduction")
    return str(found.get("verdict")) if isinstance(found, dict) and found.get("verdict") else None


# --- which run a run is compared with --------------------------------------------------------------

def latest_ok(runs: list[RunView], experiment: str) -> RunView | None:
    """The newest finished run of an experiment (a failed run has no metrics to compare with), else the newest."""
    group = sorted((r for r in runs if r.experiment == experiment), key=lambda r: (r.started, r.id), reverse=True)
    return next((r for r in group if r.status == "ok"), group[0] if group else None)


def previous_ok(group: list[RunView], i: int) -> RunView | None:
    """The newest finished run that started before `group[i]`, in `group`: one experiment's runs, newest first."""
    return next((r for r in group[i + 1:] if r.status == "ok"), None)


def pair_slug(base: RunView, head: RunView) -> str:
    """The comparison page's folder name: both run ids (a safe alphabet, see layout.RUN_ID)."""
    return f"{base.id}--{head.id}"


PAIR_FIGURE = "loss-overlay.png"
"""the file name of a comparison page's figure of both runs' curves (the report shows it inline)"""


def rules() -> dict:
    """`direction` and `comparable` as data, for the site's comparison picker (static/js/compare.js), which applies
    them to the runs a reader picks: one set of rules for every comparison the site makes."""
    return {"format": "trainbook-compare-rules-1", "neutral": sorted(NEUTRAL), "lower_better": list(LOWER_BETTER),
            "higher_better": list(HIGHER_BETTER), "loss_family": list(LOSS_FAMILY), "relative_same": RELATIVE_SAME,
            "marks": MARKS}


# --- the same words everywhere ---------------------------------------------------------------------

MARKS = {"better": "✅ better", "worse": "❌ worse", "same": "= same", "incomparable": "≠ not comparable"}


def delta_text(d: MetricDelta) -> str:
    """'-0.0210 (-0.9%)', or '–' without a baseline value or between values in different units."""
    if d.delta is None or not d.comparable:
        return "–"
    if d.delta == 0:
        return "0"
    sign = "+" if d.delta > 0 else "−" if d.delta < 0 else "±"
    text = f"{sign}{markup.number(abs(d.delta))}"
    return text + (f" ({sign}{abs(d.relative) * 100:.1f}%)" if d.relative is not None else "")


def mark(d: MetricDelta) -> str:
    return MARKS.get(d.verdict or "", "–")
