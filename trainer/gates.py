"""Quality gates: policy as code, judged by this one module everywhere.

An experiment file may declare `gates: {val_loss: "<= 2.35", steps_per_s: ">= 500", reproduce: identical}`.
A metric gate compares one of the run's final metrics with a number; the `reproduce` gate asks for the
reproduction verdict a `reproduce` run records (`identical`, or `within tolerance`, which also accepts
identical). `python -m trainer gate`, the pull-request report and the run pages all call `judge_all`, so
they can never disagree. Torch-free: the generators import it.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass


COMPARISONS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}
METRIC = re.compile(r"[a-z][a-z0-9_]{0,63}")
RULE = re.compile(r"\s*(<=|>=|==|<|>)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*")
REPRODUCE = "reproduce"
REPRODUCE_LEVELS = {"identical": ("identical",), "within tolerance": ("identical", "within tolerance")}
"""what each `reproduce:` level accepts, strictest first"""
EXAMPLE = '"<= 2.35" (or >=, <, >, == and a number)'


class GateSyntaxError(ValueError):
    """A gate that cannot be read; the message says what would be accepted."""


@dataclass(frozen=True)
class Gate:
    name: str
    """the metric (a key of the run's final metrics) or `reproduce`"""
    comparison: str
    """one of COMPARISONS, or the reproduction level for `reproduce`"""
    threshold: float | None = None

    @property
    def rule(self) -> str:
        return self.comparison if self.threshold is None else f"{self.comparison} {self.threshold:g}"

    def __str__(self) -> str:
        return f"{self.name} {self.rule}"


@dataclass(frozen=True)
class Verdict:
    gate: Gate
    passed: bool
    actual: str
    """the run's value as text ('2.3104', 'identical', 'not measured')"""
    reason: str = ""
    """why it failed, for a person; empty when it passed"""

    @property
    def word(self) -> str:
        return "pass" if self.passed else "FAIL"


def _level(text: str) -> str:
    return " ".join(str(text).lower().replace("-", " ").replace("_", " ").split())


def parse(name: str, rule: str) -> Gate:
    """One gate from its YAML key and value, or a GateSyntaxError."""
    if name == REPRODUCE:
        level = _level(rule)
        if level not in REPRODUCE_LEVELS:
            raise GateSyntaxError(f"expected one of {', '.join(map(repr, REPRODUCE_LEVELS))}, got {rule!r}")
        return Gate(name, level)
    if not METRIC.fullmatch(name):
        raise GateSyntaxError(f"expected a metric name (lower-case letters, digits, '_') or {REPRODUCE!r}, got {name!r}")
    match = RULE.fullmatch(str(rule))
    if not match:
        raise GateSyntaxError(f"expected a comparison like {EXAMPLE}, got {rule!r}")
    threshold = float(match.group(2))
    if not math.isfinite(threshold):
        raise GateSyntaxError(f"expected a finite number, got {rule!r}")
    return Gate(name, match.group(1), threshold)


def parse_all(gates: dict) -> list[Gate]:
    return [parse(name, rule) for name, rule in gates.items()]


def check(gates: dict) -> tuple[str, str] | None:
    """(key, message) for the first malformed gate, as a schema's `check()` returns it."""
    for name, rule in gates.items():
        try:
            parse(name, rule)
        except GateSyntaxError as e:
            return f"gates.{name}", str(e)
    return None


def declared(record: dict) -> dict:
    """The gates a run was trained under (its resolved config), {} when it declared none."""
    gates = (record.get("config") or {}).get("gates")
    return gates if isinstance(gates, dict) else {}


def judge(gate: Gate, record: dict) -> Verdict:
    status = record.get("status")
    if status != "ok":
        return Verdict(gate, False, "–", f"the run {status or 'has no status'}; only a finished run can pass")
    if gate.name == REPRODUCE:
        found = (record.get("reproduction") or {}).get("verdict")
        if not found:
            return Verdict(gate, False, "not checked", "no reproduction on record (run `python -m trainer reproduce`)")
        ok = _level(found) in REPRODUCE_LEVELS[gate.comparison]
        return Verdict(gate, ok, str(found), "" if ok else f"reproduction was {found!r}, {gate.comparison} required")
    value = (record.get("metrics") or {}).get(gate.name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        known = ", ".join(sorted(record.get("metrics") or {})) or "none"
        return Verdict(gate, False, "not measured", f"the run has no metric {gate.name!r} (it has: {known})")
    if not math.isfinite(value):
        return Verdict(gate, False, str(value), "not a finite number")
    ok = COMPARISONS[gate.comparison](value, gate.threshold)
    return Verdict(gate, ok, f"{value:.6g}", "" if ok else f"{value:.6g} is not {gate.rule}")


def judge_all(gates: dict, record: dict) -> list[Verdict]:
    """A verdict per gate, in declaration order. A malformed gate (e.g. in an old record) fails, it never passes."""
    verdicts = []
    for name, rule in gates.items():
        try:
            gate = parse(name, rule)
        except GateSyntaxError as e:
            verdicts.append(Verdict(Gate(str(name), str(rule)), False, "–", f"malformed gate: {e}"))
            continue
        verdicts.append(judge(gate, record))
    return verdicts
