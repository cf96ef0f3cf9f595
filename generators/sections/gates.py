"""The run page's quality-gate section: each gate the run's experiment declared, and its verdict.

The gates are those in the run's own resolved config (what it was trained under), judged by
trainer.gates, the same code `make gate` and the pull-request report use.
"""
from __future__ import annotations

from trainer import gates

from ..markup import Safe
from ..runs import RunView
from ..site import render_section


def build(run: RunView) -> Safe | None:
    verdicts = gates.judge_all(gates.declared(run.record), run.record)
    if not verdicts:
        return None
    rows = [{"gate": str(v.gate), "actual": v.actual, "mark": "✅ pass" if v.passed else "❌ fail", "reason": v.reason}
            for v in verdicts]
    passed = sum(v.passed for v in verdicts)
    return render_section("sections/gates.md.j2", verdicts=rows, passed=passed, failed=len(verdicts) - passed)
