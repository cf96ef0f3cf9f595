"""What changed between two runs: config key by key, metrics with deltas and a better/worse call.

Shared by the comparison pages and the pull-request report so that both say the same thing about the
same pair of runs, and by `baseline`, the one rule for which run a run is compared with.
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
RELATIVE_SAME = 1e-12


def direction(name: str, key_metric: dict | None) -> str | None:
    """'min' or 'max' when lower or higher is better for this metric, None when neither is."""
    if key_metric and name == key_metric.get("name"):
        return key_metric.get("goal")
    if name in NEUTRAL:
        return None
    if name.endswith(("loss", "perplexity", "_ppl", "_error")):
        return "min"
    if name.endswith(("accuracy", "_acc", "_per_s", "return", "reward")):
        return "max"
    return None


@dataclass(frozen=True)
class MetricDelta:
    name: str
    base: float | None
    head: float | None
    goal: str | None
    is_key: bool = False

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
        """'better', 'worse', 'same', or None (no baseline value, or no direction)."""
        if self.delta is None:
            return None
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
    names = sorted(set(base_metrics) | set(head.metrics), key=lambda n: (n != key.get("name"), n))
    return [MetricDelta(n, _number(base_metrics.get(n)), _number(head.metrics.get(n)), direction(n, key),
                        n == key.get("name")) for n in names]


def key_delta(base: RunView | None, head: RunView) -> MetricDelta:
    key = head.key_metric
    return MetricDelta(key["name"], _number(base.key_value) if base else None, _number(head.key_value), key.get("goal"), True)


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


def previous_ok(run: RunView, runs: list[RunView]) -> RunView | None:
    """The newest finished run of the same experiment that started before `run`."""
    earlier = [r for r in runs if r.experiment == run.experiment and (r.started, r.id) < (run.started, run.id)]
    return latest_ok([r for r in earlier if r.status == "ok"], run.experiment)


def pair_slug(base: RunView, head: RunView) -> str:
    """The comparison page's folder name: both run ids (a safe alphabet, see layout.RUN_ID)."""
    return f"{base.id}--{head.id}"


PAIR_FIGURE = "loss-overlay.png"
"""the file name of a comparison page's figure of both runs' curves (the report shows it inline)"""


# --- the same words everywhere ---------------------------------------------------------------------

MARKS = {"better": "✅ better", "worse": "❌ worse", "same": "= same"}


def delta_text(d: MetricDelta) -> str:
    """'-0.0210 (-0.9%)', or '–' without a baseline value."""
    if d.delta is None:
        return "–"
    if d.delta == 0:
        return "0"
    sign = "+" if d.delta > 0 else "−" if d.delta < 0 else "±"
    text = f"{sign}{markup.number(abs(d.delta))}"
    return text + (f" ({sign}{abs(d.relative) * 100:.1f}%)" if d.relative is not None else "")


def mark(d: MetricDelta) -> str:
    return MARKS.get(d.verdict or "", "–")
