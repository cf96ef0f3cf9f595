"""The scenario table of a reinforcement-learning run: the agent against the baselines, scenario by scenario.

Reads `scenarios.json`, which the policy-gradient engine writes into the run folder; every number
is formatted here, and the template only lays the strings out.
"""
from __future__ import annotations

import sys

from trainer.tracking import layout

from ..markup import Safe
from ..runs import RunView
from ..site import render_section

TEMPLATE = "sections/market_scenarios.md.j2"
LABELS = {"agent": "agent", "buy_and_hold": "buy & hold", "flat": "always flat", "random": "random"}


def _mean_sd(stats: dict, unit: str = "") -> str:
    return f"{stats['mean']:+.2f}{unit} ± {stats['std']:.2f}"


def _weights(terms: list) -> str:
    return " + ".join(f"{weight:g} × {name}" for name, weight in terms)


def build(run: RunView) -> Safe | None:
    if layout.SCENARIOS not in run.artifacts:
        return None
    try:
        data = run.contents.read_json(layout.SCENARIOS)
        policies = [p for p in data["policies"] if p in LABELS]
        published = {p.name for p in run.published_files}
        rows = []
        for s in data["scenarios"]:
            by = s["policies"]
            rows.append({
                "name": s["name"],
                "trace": s["trace"] if s["trace"] in published else None,
                "description": s.get("description", ""),
                "schedule": ", then ".join(f"{regime} ({steps})" for regime, steps in s["schedule"]),
                "seeds": f"{s['seed']}–{s['seed'] + data['paths'] - 1}",
                "returns": [_mean_sd(by[p]["return"]) for p in policies],
                "pnl": [_mean_sd(by[p]["pnl_pct"], " %") for p in policies],
                "risk": [f"{by[p]['max_drawdown_pct']['mean']:.1f} % / {by[p]['trades']:.1f}" for p in policies],
                "beats_random": f"{s['agent_beats_random']} of {data['paths']}",
            })
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"{run.id}: {layout.SCENARIOS} is not a scenario table ({e}); section skipped", file=sys.stderr)
        return None
    return render_section(TEMPLATE, rows=rows, headers=[LABELS[p] for p in policies], paths=data["paths"],
                          steps=data["episode_length"], reward=_weights(data["reward_terms"]),
                          replay=f"python -m trainer replay runs/{run.id} --scenario NAME")
