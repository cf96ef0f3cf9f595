"""What a reinforcement-learning agent does by market regime: its action shares, average position and turnover.

Reads `behaviour.json` (trainer/envs/scenarios.behaviour, written by the policy-gradient engine) so a
reviewer sees the behaviour behind the return: long in bull markets, out in a crash, or the same
position whatever happens. Every number is formatted here; the template lays the strings out.
"""
from __future__ import annotations

import sys

from trainer.tracking import layout

from ..markup import Safe
from ..runs import RunView
from ..site import render_section

TEMPLATE = "sections/behaviour.md.j2"
MOSTLY = 0.5
"""a regime's sentence names the position the agent held in more than this share of its steps"""


def position_name(level: float) -> str:
    return "flat" if level == 0 else f"{'long' if level > 0 else 'short'}" + ("" if abs(level) == 1 else f" {abs(level):g}")


def _sentence(regime: str, facts: dict, actions: list[float]) -> str:
    share, level = max(zip(facts["shares"], actions))
    held = f"is mostly {position_name(level)} ({share:.0%} of its steps)" if share > MOSTLY else "holds no one position in most of its steps"
    trades = "hardly trades" if facts["turnover"] < 0.05 else f"changes position {facts['turnover']:.2f} units a step on average"
    return f"In {regime} markets it {held} and {trades}."


def build(run: RunView) -> Safe | None:
    if layout.BEHAVIOUR not in run.artifacts:
        return None
    try:
        data = run.contents.read_json(layout.BEHAVIOUR)
        actions = [float(a) for a in data["actions"]]
        rows = [{"regime": name, "steps": f"{facts['steps']:,}", "shares": [f"{s:.0%}" for s in facts["shares"]],
                 "position": f"{facts['mean_position']:+.2f}", "turnover": f"{facts['turnover']:.3f}",
                 "sentence": _sentence(name, facts, actions)}
                for name, facts in data["regimes"].items()]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"{run.id}: {layout.BEHAVIOUR} is not a behaviour table ({e}); section skipped", file=sys.stderr)
        return None
    if not rows:
        return None
    return render_section(TEMPLATE, rows=rows, headers=[position_name(a) for a in actions], paths=data["paths"],
                          scenarios=", ".join(data["scenarios"]))
