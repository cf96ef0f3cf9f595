"""The market experiment through the real CLI: run folder, ledger, replay, config mistakes, and its page."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from trainer.tracking import integrity
from tests.conftest import REPO, TINY_RL, run_cli, snapshot
from tests.test_site import build_site

MARKET_PG = REPO / "experiments" / "market-pg.yaml"
HOSTILE = "<script>alert(1)</script> **bold** | {{< param title >}}"
FIGURES = {"learning_curve.png", "reward_terms.png", "diagnostics.png", "behaviour.png", "scenario-bull.png", "scenario-crash.png"}


@pytest.fixture(scope="session")
def rl_runs(tmp_path_factory):
    """A runs folder with one tiny market-pg run, trained by the CLI. Copy it before changing anything."""
    runs = tmp_path_factory.mktemp("rl-runs")
    scenarios = TINY_RL[-1].replace("{name: bull,", f"{{name: bull, description: '{HOSTILE}',")
    result = run_cli("trainer", "run", str(MARKET_PG), *TINY_RL[:-1], scenarios, runs_dir=runs)
    assert result.returncode == 0, result.stderr
    return runs


def only_run(runs):
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def test_cli_run_leaves_a_sealed_rl_run_with_figures_scenario_table_and_traces(rl_runs):
    run = only_run(rl_runs)
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "ok" and record["kind"] == "rl" and record["key_metric"]["name"] == "eval_return"
    expected = {"config.yaml", "metrics.jsonl", "checkpoint.pt", "model.weights.pt", "scenarios.json", "behaviour.json", "trace-bull.json",
                "trace-crash.json", *FIGURES}
    assert expected == set(record["artifacts"])
    assert {f["file"] for f in record["figures"]} == FIGURES
    assert {"eval_return", "eval_return_random", "eval_return_buy_and_hold", "eval_return_flat", "eval_beats_random"} <= set(record["metrics"])
    assert record["data"]["dataset"] == "synthetic-market" and len(record["data"]["sha256"]) == 64
    entries, problems = integrity.parse(rl_runs)
    assert problems == [] and [e["run"] for e in entries] == [run.name]
    assert run_cli("trainer", "verify", runs_dir=rl_runs).returncode == 0

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    per_update = [r for r in rows if "return_mean" in r]
    assert [r["step"] for r in per_update] == [1, 2, 3, 4, 5, 6]
    for key in ("return_median", "return_q10", "return_q90", "entropy", "value_loss", "episode_length", "steps_per_s",
                "term_pnl", "term_transaction_cost", "term_drawdown"):
        assert all(key in r for r in per_update), key
    assert [r["step"] for r in rows if "eval_return" in r] == [3, 6]


def test_behaviour_counts_every_evaluation_step_of_the_agent_by_the_regime_it_was_in(rl_runs):
    behaviour = json.loads((only_run(rl_runs) / "behaviour.json").read_text())
    regimes = behaviour["regimes"]
    # TINY_RL: 2 paths of bull (32 bull steps) and crash (16 bull, then 16 crash)
    assert {name: r["steps"] for name, r in regimes.items()} == {"bull": 2 * (32 + 16), "crash": 2 * 16}
    for r in regimes.values():
        assert abs(sum(r["shares"]) - 1) < 1e-12 and -1 <= r["mean_position"] <= 1 and 0 <= r["turnover"] <= 2
        implied = sum(share * level for share, level in zip(r["shares"], behaviour["actions"]))
        assert abs(implied - r["mean_position"]) < 1e-12  # the average position is what the action shares imply


def test_replay_reproduces_every_recorded_trace_bit_for_bit(rl_runs):
    run = only_run(rl_runs)
    result = run_cli("trainer", "replay", str(run))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "match     bull: replayed trace is bit-identical to the recorded one",
        "match     crash: replayed trace is bit-identical to the recorded one",
    ]


def test_replay_names_the_first_step_where_a_recorded_trace_differs(rl_runs, tmp_path):
    run = shutil.copytree(only_run(rl_runs), tmp_path / only_run(rl_runs).name)
    trace = json.loads((run / "trace-crash.json").read_text())
    trace["policies"]["agent"]["reward"][7] += 1e-12  # one reward, changed in its last digits
    (run / "trace-crash.json").write_text(json.dumps(trace))
    result = run_cli("trainer", "replay", str(run), "--scenario", "crash")
    assert result.returncode == 1
    assert result.stdout.startswith("MISMATCH  crash: first difference at policies.agent.reward[7]: recorded")


def test_replay_refuses_an_unknown_scenario_with_exit_2(rl_runs):
    result = run_cli("trainer", "replay", str(only_run(rl_runs)), "--scenario", "crahs")
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: command line: --scenario: no scenario 'crahs' in this run "
                                     "(did you mean 'crash'?); it has bull, crash")


RL_MISTAKES = {
    "unknown reward term": (["reward.terms={pnl: 1.0, drawdwn: 0.5}"], "reward.terms.drawdwn: unknown reward term (did you mean 'drawdown'?)"),
    "negative cost": (["market.fee=-0.001"], "market.fee: must be >= 0, got -0.001"),
    "negative reward weight": (["reward.terms={pnl: -1.0}"], "reward.terms.pnl: must be >= 0, got -1.0"),
    "empty scenario list": (["eval.scenarios=[]"], "eval.scenarios: expected at least one scenario"),
    "unknown regime in a schedule": (
        ["eval.scenarios=[{name: a, seed: 1, schedule: [{regime: bul, steps: 128}]}]"],
        "eval.scenarios[0].schedule[0].regime: unknown regime 'bul' (did you mean 'bull'?)"),
    "schedule shorter than an episode": (
        ["eval.scenarios=[{name: a, seed: 1, schedule: [{regime: bull, steps: 100}]}]"],
        "eval.scenarios[0].schedule: steps add up to 100; expected market.episode_length = 128"),
    "transition row not summing to 1": (["market.transitions=[[0.5, 0.5, 0.5], [0, 1, 0], [0, 0, 1]]"],
                                        "market.transitions[0]: row for regime 'bull' must sum to 1"),
}


@pytest.mark.parametrize("case", sorted(RL_MISTAKES))
def test_rl_config_mistake_exits_2_with_one_message_and_writes_nothing(tmp_path, case):
    overrides, expected = RL_MISTAKES[case]
    runs = tmp_path / "runs"
    runs.mkdir()
    before = snapshot(runs)
    result = run_cli("trainer", "run", str(MARKET_PG), *overrides, runs_dir=runs)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {MARKET_PG}: ") and expected in lines[0], result.stderr
    assert result.stdout == "" and snapshot(runs) == before


def test_rl_run_page_shows_the_scenario_table_and_figures_with_config_text_escaped(rl_runs, tmp_path):
    public = build_site(rl_runs, tmp_path)
    run = only_run(rl_runs)
    html = (public / "runs" / run.name / "index.html").read_text()
    assert "Evaluation scenarios" in html and "agent beats random" in html
    assert f"python -m trainer replay runs/{run.name} --scenario NAME" in html  # literally, no typographic dash
    table = html[html.index("Evaluation scenarios"):]
    assert re.search(r'<td><a href="trace-crash.json">crash</a></td>\s*<td>bull \(16\), then crash \(16\)</td>', table)
    for figure in FIGURES:
        assert re.search(rf'<img src="{figure}" alt="[^"]+"', html), figure
    assert (public / "runs" / run.name / "trace-bull.json").is_file()
    behaviour = html[html.index('id="behaviour-by-market-regime"'):html.index('id="evaluation-scenarios"')]
    assert re.search(r"<td>crash</td>\s*<td>32</td>(\s*<td>\d+%</td>){3}\s*<td>[+-]\d\.\d\d</td>", behaviour), behaviour[:2000]
    assert "In bull markets it" in behaviour and "In crash markets it" in behaviour
    assert "<script>alert" not in html and "<strong>bold" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
