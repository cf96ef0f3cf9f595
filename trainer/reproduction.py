"""Is a reproduction the same run? Metrics step by step, final metrics, and artifacts, compared.

The verdict is *identical* (every metric and every artifact bit for bit), *within tolerance* (every
metric within `rtol`/`atol` of the original; the largest deviation is named), or *diverged* (the
first step and metric outside tolerance, or an artifact that differs although every metric
matches). Timing is left out of every comparison as `tracking/timing.py` declares: timing columns
and metrics, figures of throughput, and the elapsed time inside checkpoints (which are compared
tensor by tensor instead of byte by byte).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import experiments
from .config import to_dict
from .errors import ConfigError
from .tracking import timing
from .tracking import layout

RTOL, ATOL = 1e-4, 1e-7
"""default tolerance: agreement to float32 rounding, accumulated over a short run"""
IDENTICAL, WITHIN, DIVERGED = "identical", "within tolerance", "diverged"


@dataclass
class Deviation:
    step: int | str
    """the step of the metrics row, or 'final' for the record's final metrics"""
    key: str
    original: object
    reproduced: object

    @property
    def size(self) -> tuple[float, float]:
        """(absolute, relative) difference of two numbers; (inf, inf) for anything else that differs."""
        a, b = self.original, self.reproduced
        if not _is_number(a) or not _is_number(b):
            return math.inf, math.inf
        diff = abs(a - b)
        return diff, diff / abs(a) if a else (0.0 if diff == 0 else math.inf)

    def as_record(self) -> dict:
        absolute, relative = self.size
        return {"step": self.step, "key": self.key, "original": self.original, "reproduced": self.reproduced,
                "abs": absolute if math.isfinite(absolute) else None, "rel": relative if math.isfinite(relative) else None}

    def text(self) -> str:
        where = "in the final metrics" if self.step == "final" else f"at step {self.step}"
        return f"{self.key} {where}: {self.original!r} in the original, {self.reproduced!r} in the reproduction"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class Comparison:
    rtol: float = RTOL
    atol: float = ATOL
    rows: int = 0
    finals: int = 0
    first_outside: Deviation | None = None
    largest: Deviation | None = None
    artifacts_compared: list[str] = field(default_factory=list)
    artifacts_differing: list[str] = field(default_factory=list)

    def values(self, step, a: dict, b: dict) -> None:
        """Compare two mappings of metric values recorded at the same step."""
        for key in sorted(set(a) | set(b)):
            missing = object()
            x, y = a.get(key, missing), b.get(key, missing)
            if x is missing or y is missing:
                self._outside(Deviation(step, key, None if x is missing else x, None if y is missing else y))
            elif x != y:
                deviation = Deviation(step, key, x, y)
                if not self._close(deviation):
                    self._outside(deviation)
                elif self.largest is None or deviation.size[1] > self.largest.size[1]:
                    self.largest = deviation

    def _close(self, deviation: Deviation) -> bool:
        absolute, _ = deviation.size
        return math.isfinite(absolute) and absolute <= self.atol + self.rtol * abs(deviation.original)

    def _outside(self, deviation: Deviation) -> None:
        if self.first_outside is None:
            self.first_outside = deviation

    @property
    def verdict(self) -> str:
        if self.first_outside is not None or (self.largest is None and self.artifacts_differing):
            return DIVERGED
        return IDENTICAL if self.largest is None else WITHIN

    def summary(self) -> str:
        if self.first_outside is not None:
            d = self.first_outside
            head = "diverged in the final metrics" if d.step == "final" else f"diverged at step {d.step}"
            return f"{head}: {d.text()}"
        if self.verdict == DIVERGED:
            return f"diverged: every metric matches, but {', '.join(self.artifacts_differing)} differ(s) from the original"
        counted = f"{self.rows} metric rows, {self.finals} final metrics and {len(self.artifacts_compared)} artifacts"
        if self.verdict == IDENTICAL:
            return f"identical: {counted} match bit for bit"
        d = self.largest
        return (f"within tolerance (rtol {self.rtol:g}, atol {self.atol:g}): largest deviation {d.text()} "
                f"(relative {d.size[1]:.2g})")


def compare_metrics(original: Path, reproduced: Path, comparison: Comparison) -> None:
    """Step by step, without timing columns; a missing or extra row diverges at its step."""
    rows_a = [timing.model_values(r) for r in layout.read_metrics(original / layout.METRICS)]
    rows_b = [timing.model_values(r) for r in layout.read_metrics(reproduced / layout.METRICS)]
    for a, b in zip(rows_a, rows_b):
        if a.get("step") != b.get("step"):
            comparison._outside(Deviation(a.get("step"), "step", a.get("step"), b.get("step")))
            break
        comparison.values(a["step"], a, b)
        comparison.rows += 1
    if len(rows_a) != len(rows_b):
        longer = rows_a if len(rows_a) > len(rows_b) else rows_b
        extra = longer[min(len(rows_a), len(rows_b))]
        comparison._outside(Deviation(extra.get("step"), "row", "present" if longer is rows_a else "absent",
                                      "present" if longer is rows_b else "absent"))


def compare_artifacts(original: Path, reproduced: Path, a: dict, b: dict, comparison: Comparison) -> None:
    """Artifacts by sha256; checkpoints by content without their timing; timing-only files not at all."""
    for name in sorted(set(a) | set(b)):
        if name in timing.FILES and name not in timing.CONTENT_COMPARED or name == layout.METRICS:
            continue
        if name.endswith(layout.MODEL_KINDS) and name not in a:
            continue  # exported from the model the checkpoints hold; a run from before weights were exported has none
        comparison.artifacts_compared.append(name)
        if name not in a or name not in b:
            comparison.artifacts_differing.append(name)
        elif name in timing.CONTENT_COMPARED:
            if checkpoint_difference(original / name, reproduced / name) is not None:
                comparison.artifacts_differing.append(name)
        elif name == layout.CONFIG:
            if _settings(original / name) != _settings(reproduced / name):
                comparison.artifacts_differing.append(name)
        elif a[name].get("sha256") != b[name].get("sha256"):
            comparison.artifacts_differing.append(name)


def _settings(path: Path) -> dict:
    """A resolved config's settings, key by key, every default of today's schema filled in: the same run configured
    by a schema that orders its keys differently, or that lacked a section whose default changes nothing trained
    (code from before a change of layout), is the same configuration."""
    settings = yaml.safe_load(path.read_text())
    if not isinstance(settings, dict):
        return settings
    try:
        return to_dict(experiments.from_dict(settings, str(path)))
    except ConfigError:  # not a config today's schemas read: compared as written
        return settings


def checkpoint_difference(a: Path, b: Path) -> str | None:
    """The first dotted key where two checkpoints' states differ (timing keys ignored), or None."""
    import torch

    return _state_difference(torch.load(a, map_location="cpu", weights_only=True),
                             torch.load(b, map_location="cpu", weights_only=True), "")


def _state_difference(x, y, path: str) -> str | None:
    import torch

    if path in timing.CHECKPOINT_KEYS:
        return None
    if isinstance(x, dict) and isinstance(y, dict):
        if set(x) != set(y):
            return path or "(keys)"
        return next((d for k in sorted(x, key=str) if (d := _state_difference(x[k], y[k], f"{path}.{k}".lstrip("."))) is not None), None)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        if len(x) != len(y):
            return path
        return next((d for i, (p, q) in enumerate(zip(x, y)) if (d := _state_difference(p, q, f"{path}[{i}]")) is not None), None)
    if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
        return None if x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y) else path
    return None if type(x) is type(y) and x == y else path


def compare(original: Path, reproduced: Path, original_record: dict, reproduced_record: dict,
            rtol: float = RTOL, atol: float = ATOL) -> Comparison:
    comparison = Comparison(rtol, atol)
    compare_metrics(original, reproduced, comparison)
    finals_a = timing.model_values(original_record.get("metrics") or {})
    finals_b = timing.model_values(reproduced_record.get("metrics") or {})
    comparison.values("final", finals_a, finals_b)
    comparison.finals = len(set(finals_a) | set(finals_b))
    compare_artifacts(original, reproduced, original_record.get("artifacts") or {}, reproduced_record.get("artifacts") or {},
                      comparison)
    return comparison


def as_record(comparison: Comparison) -> dict:
    """The verdict and its evidence, for the reproduction's record (`reproduction` section)."""
    return {
        "verdict": comparison.verdict,
        "summary": comparison.summary(),
        "compared": {"metric_rows": comparison.rows, "final_metrics": comparison.finals,
                     "artifacts": comparison.artifacts_compared},
        "diverged_at": comparison.first_outside.as_record() if comparison.first_outside else None,
        "largest_deviation": comparison.largest.as_record() if comparison.largest else None,
        "artifacts_differing": comparison.artifacts_differing,
        "tolerance": {"rtol": comparison.rtol, "atol": comparison.atol},
        "excluded": {"metrics": sorted(timing.METRICS), "files": {n: why for n, why in timing.FILES.items()
                                                                  if n not in timing.CONTENT_COMPARED}},
    }
