"""Sentences and short texts about runs: the words a reviewer reads before the tables.

Every number is formatted here (templates never compute), from the record alone or from a run
and the run of the same experiment before it.
"""
from __future__ import annotations

import shlex

from . import diff, markup
from .runs import RunView


def metric_text(run: RunView) -> str:
    """`val loss 2.3412 ↓`: the key metric, its value, and which way is better."""
    km = run.key_metric
    arrow = "↓" if km.get("goal") == "min" else "↑"
    value = run.key_value
    return f"{km.get('label', km['name'])} {markup.number(value)} {arrow}" if value is not None else "–"


def improvement(run: RunView, before: RunView | None) -> float | None:
    """Relative improvement of the key metric over `before` (0.04 = 4% better; negative = worse); None when there
    is nothing to compare with or the two values are not comparable (diff.comparable: another tokenizer, another unit)."""
    if before is None or not diff.comparable(before, run).comparable:
        return None
    now, then = run.key_value, before.key_value
    if not isinstance(now, (int, float)) or not isinstance(then, (int, float)) or then == 0:
        return None
    change = (then - now) / abs(then)
    return change if run.key_metric.get("goal", "min") == "min" else -change


def live_text(run: RunView) -> str:
    """`step 1,200 of 6,000, about 2.1 min left`: where a running run is, as its status file said when it was read."""
    live = run.live or {}
    step, steps, unit = live.get("step"), live.get("steps"), live.get("unit") or "step"
    if not isinstance(step, int):
        return "started, no step logged yet"
    text = f"{unit} {markup.number(step)}" + (f" of {markup.number(steps)}" if isinstance(steps, int) else "")
    eta = live.get("eta_s")
    return text + (f", about {markup.duration(eta)} left" if isinstance(eta, (int, float)) else "")


def last_values_text(run: RunView) -> str:
    """`train loss 2.7100, lr 0.1000`: the last logged value of each metric of a running run."""
    last = (run.live or {}).get("last") or {}
    return ", ".join(f"{name.replace('_', ' ')} {markup.number(value)}" for name, value in sorted(last.items())) or "–"


def change_text(change: float | None) -> str:
    if change is None:
        return ""
    if abs(change) < 0.0005:
        return "the same as the previous run"
    return f"{abs(change):.1%} {'better' if change > 0 else 'worse'} than the previous run"


def where(run: RunView) -> str:
    env = run.record.get("environment") or {}
    device = env.get("gpu") or env.get("device") or "cpu"
    world = env.get("world_size") or 1
    return f"{device} ×{world}" if world > 1 else str(device)


def summary(run: RunView, before: RunView | None) -> str:
    """One sentence a reviewer reads first: `3.2 min on cpu, val loss 1.9500, 4.0% better than the previous run.`"""
    duration = markup.duration(run.record.get("duration_s"))
    if run.live is not None:
        return f"Training now: {live_text(run)}."
    if run.status != "ok":  # the reason follows on the run page, in its own callout
        return f"This run {run.status} after {duration} on {where(run)}."
    parts = [f"{duration} on {where(run)}"]
    if run.key_value is not None:
        km = run.key_metric
        parts.append(f"{km.get('label', km['name'])} {markup.number(run.key_value)}")
    steps = run.metrics.get("steps")
    if isinstance(steps, int):
        parts.append(f"{markup.number(steps)} steps")
    text = change_text(improvement(run, before))
    if text:
        parts.append(text)
    return ", ".join(parts) + "."


def reproduce_commands(run: RunView) -> str:
    """Shell lines that rerun this run from its recorded source (plain text; escaped when shown)."""
    source = run.record.get("source") or {}
    code = run.record.get("code") or {}
    lines = []
    if code.get("commit"):
        lines.append(f"git checkout {code['commit']}")
    if "command" in source:  # a script of its own, tracked by trainer.track()
        return "\n".join(lines + _script_commands(run, source))
    command = ["python", "-m", "trainer", "run", str(source.get("file") or f"experiments/{run.experiment}.yaml")]
    command += [str(o) for o in source.get("overrides") or []]
    lines.append(" ".join(shlex.quote(part) for part in command))
    lines.append("")
    lines.append("# or let the trainer replay the recorded configuration, overrides and seeds:")
    lines.append(f"python -m trainer reproduce runs/{run.id}")
    return "\n".join(lines)


def _script_commands(run: RunView, source: dict) -> list[str]:
    """A tracked script's lines: where it ran (inside its checkout) and its recorded command line."""
    if not source.get("command"):
        return ["# tracked in an interactive session: there is no command line to run again"]
    lines = [f"cd {shlex.quote(str(source['cwd_in_repo']))}"] if source.get("cwd_in_repo") not in (None, "", ".") else []
    lines.append(" ".join(shlex.quote(str(part)) for part in ["python", *source["command"]]))
    return lines + ["", "# or let the trainer run the recorded command again and compare:",
                    f"python -m trainer reproduce runs/{run.id}"]
