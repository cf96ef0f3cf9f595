"""Named evaluation scenarios, the baseline policies, and the traces that make an evaluation replayable.

A scenario is a seed and a regime schedule (e.g. 96 steps of bull, then 32 of crash). Each policy
plays the same `eval.paths` price paths of it (seeds seed, seed+1, ...), so every comparison is
paired. Baselines: buy-and-hold (long from the first step), always-flat, and a uniformly random
policy with a fixed seed. The first path of each scenario is kept step by step as a trace; since
the paths, the baselines and the greedy agent are all deterministic, replaying a scenario from
the run folder must give the same trace bit for bit. Torch-free: a policy is any function from a
batch of observations to a batch of action indices.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import gymnasium
import numpy as np

from ..data import market as prices
from ..schemas.policy import PolicyExperiment, ScenarioConfig
from . import MARKET_ID
from .market import MarketEnv
from ..tracking import layout
from .rewards import TERMS

Policy = Callable[[np.ndarray], np.ndarray]
"""observations [paths, obs_dim] -> action indices [paths]"""

AGENT = "agent"
BASELINES = ("buy_and_hold", "flat", "random")
POLICIES = (AGENT, *BASELINES)
NET_TERMS = ("pnl", "transaction_cost")  # their sum is the net change of equity


def make_envs(cfg: PolicyExperiment, n: int) -> gymnasium.vector.VectorEnv:
    """`n` market environments behind gymnasium's vector API: the market's own (trainer/envs/vector.py), which gives
    what gymnasium's SyncVectorEnv gives, bit for bit, in about half the time."""
    return gymnasium.make_vec(MARKET_ID, num_envs=n, vectorization_mode="vector_entry_point", market=cfg.market,
                              reward=cfg.reward)


def regime_path(cfg: PolicyExperiment, scenario: ScenarioConfig) -> list[int]:
    return prices.scheduled_regimes(scenario.schedule, [r.name for r in cfg.market.regimes]).tolist()


def scenario_prices(cfg: PolicyExperiment, scenario: ScenarioConfig, path: int) -> np.ndarray:
    """The price path `path` of a scenario, exactly as the environment draws it on reset(seed=seed + path)."""
    env = MarketEnv(cfg.market, cfg.reward)
    env.reset(seed=scenario.seed + path, options={"regime_path": regime_path(cfg, scenario)})
    return env.prices


def baseline(name: str, cfg: PolicyExperiment, scenario: ScenarioConfig) -> Policy:
    levels = cfg.market.actions
    if name == "random":
        rng = np.random.default_rng([cfg.eval.random_seed, scenario.seed])  # fixed per scenario, independent of the others
        return lambda obs: rng.integers(len(levels), size=len(obs))
    action = levels.index(1.0 if name == "buy_and_hold" else 0.0)
    return lambda obs: np.full(len(obs), action)


@dataclass
class Episodes:
    """One policy's episodes on one scenario's paths: per-path totals, and the first path step by step."""

    returns: np.ndarray
    """sum of rewards per path (undiscounted)"""
    term_sums: np.ndarray
    """[paths, len(TERMS)]: each reward term summed over the episode, unweighted"""
    trades: np.ndarray
    """position changes per path"""
    trace: dict
    actions_by_regime: np.ndarray
    """[regimes, actions]: how often each action was taken in each regime, over every path and step"""
    position_by_regime: np.ndarray
    """[regimes]: the sum of the position held (after acting) over the steps spent in each regime"""
    turnover_by_regime: np.ndarray
    """[regimes]: the sum of |change of position| over the steps spent in each regime"""

    def term(self, name: str) -> np.ndarray:
        return self.term_sums[:, TERMS.index(name)]

    @property
    def pnl(self) -> np.ndarray:
        """net change of equity over the episode, in % of the initial equity"""
        return self.term("pnl") + self.term("transaction_cost")

    @property
    def max_drawdown(self) -> np.ndarray:
        """largest fall from a peak of equity, in % (the drawdown term sums to minus it)"""
        return -self.term("drawdown")


def play(envs: gymnasium.vector.VectorEnv, cfg: PolicyExperiment, scenario: ScenarioConfig, policy: Policy) -> Episodes:
    """Play every path of `scenario` once with `policy`, all paths side by side in `envs`."""
    n, levels = envs.num_envs, np.asarray(cfg.market.actions)
    obs, _ = envs.reset(seed=scenario.seed, options={"regime_path": regime_path(cfg, scenario)})
    alive = np.ones(n, dtype=bool)
    returns, term_sums, trades, position = np.zeros(n), np.zeros((n, len(TERMS))), np.zeros(n, dtype=np.int64), np.zeros(n)
    trace = {"price": [cfg.market.initial_price], "regime": [], "action": [], "position": [], "reward": [], "equity": [1.0],
             "terms": {name: [] for name in TERMS}}
    regimes = len(cfg.market.regimes)
    counts, held, turnover = np.zeros((regimes, len(levels)), dtype=np.int64), np.zeros(regimes), np.zeros(regimes)
    for _ in range(cfg.market.episode_length):
        actions = np.asarray(policy(obs))
        obs, rewards, terminated, truncated, info = envs.step(actions)
        returns += np.where(alive, rewards, 0.0)
        term_sums += np.where(alive[:, None], info["terms"], 0.0)
        trades += alive & (levels[actions] != position)
        counted = alive & (info["regime"] >= 0)  # -1: a price path given as is, without regimes
        regime = info["regime"][counted]
        np.add.at(counts, (regime, actions[counted]), 1)
        np.add.at(held, regime, levels[actions][counted])
        np.add.at(turnover, regime, np.abs(levels[actions] - position)[counted])
        position = np.where(alive, levels[actions], position)
        if alive[0]:
            _append_step(trace, cfg, actions[0], rewards[0], info)
        alive &= ~(terminated | truncated)
        if not alive.any():
            break
    return Episodes(returns, term_sums, trades, trace, counts, held, turnover)


def _append_step(trace: dict, cfg: PolicyExperiment, action, reward, info: dict) -> None:
    trace["action"].append(int(action))
    trace["position"].append(cfg.market.actions[int(action)])
    trace["reward"].append(float(reward))
    trace["price"].append(float(info["price"][0]))
    trace["equity"].append(float(info["equity"][0]))
    regime = int(info["regime"][0])
    trace["regime"].append(cfg.market.regimes[regime].name if regime >= 0 else None)  # -1: a given price path
    for name, value in zip(TERMS, info["terms"][0].tolist()):
        trace["terms"][name].append(value)


def evaluate(cfg: PolicyExperiment, agent: Policy, scenarios: list[ScenarioConfig] | None = None,
             baselines: bool = True) -> dict[str, dict[str, Episodes]]:
    """scenario name -> policy name -> its episodes, for the agent and (optionally) every baseline."""
    envs = make_envs(cfg, cfg.eval.paths)
    results = {}
    for scenario in scenarios if scenarios is not None else cfg.eval.scenarios:
        policies = {AGENT: agent, **({b: baseline(b, cfg, scenario) for b in BASELINES} if baselines else {})}
        results[scenario.name] = {name: play(envs, cfg, scenario, policy) for name, policy in policies.items()}
    envs.close()
    return results


# --- what the run folder keeps -----------------------------------------------------------------

def trace_document(cfg: PolicyExperiment, scenario: ScenarioConfig, by_policy: dict[str, Episodes]) -> dict:
    """The first path of a scenario as every policy played it; prices and regimes are shared by all."""
    first = by_policy[AGENT].trace
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "schedule": [[s.regime, s.steps] for s in scenario.schedule],
        "price": first["price"],
        "regime": first["regime"],
        "policies": {name: {k: v for k, v in e.trace.items() if k not in ("price", "regime")} for name, e in by_policy.items()},
    }


def dumps_trace(doc: dict) -> str:
    """Compact JSON: traces are long lists of numbers; repr-exact floats keep replays bit-comparable."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


def _stats(values: np.ndarray) -> dict:
    return {"mean": float(values.mean()), "std": float(values.std()), "median": float(np.median(values))}


def summary(cfg: PolicyExperiment, results: dict[str, dict[str, Episodes]]) -> dict:
    """The scenario table the run page shows (written as scenarios.json)."""
    rows = []
    for scenario in cfg.eval.scenarios:
        by_policy = results[scenario.name]
        rows.append({
            "name": scenario.name,
            "description": scenario.description,
            "seed": scenario.seed,
            "schedule": [[s.regime, s.steps] for s in scenario.schedule],
            "trace": layout.trace_file(scenario.name),
            "policies": {
                name: {"return": _stats(e.returns), "pnl_pct": _stats(e.pnl), "max_drawdown_pct": _stats(e.max_drawdown),
                       "trades": float(e.trades.mean())}
                for name, e in by_policy.items()
            },
            "agent_beats_random": int((by_policy[AGENT].returns > by_policy["random"].returns).sum()),
        })
    return {
        "paths": cfg.eval.paths,
        "episode_length": cfg.market.episode_length,
        "policies": list(POLICIES),
        "reward_terms": [[name, weight] for name, weight in cfg.reward.terms.items()],  # in the config's order
        "scenarios": rows,
    }


def behaviour(cfg: PolicyExperiment, results: dict[str, dict[str, Episodes]]) -> dict:
    """What the agent did in each market regime over every evaluation path of every scenario (written as
    behaviour.json): the share of steps it took each action, the average position it held, and its turnover
    (the mean |change of position| per step: 0 never trades, 2 flips from short to long every step)."""
    agent = [by_policy[AGENT] for by_policy in results.values()]
    counts = sum(e.actions_by_regime for e in agent)
    held, turnover = sum(e.position_by_regime for e in agent), sum(e.turnover_by_regime for e in agent)
    regimes = {}
    for i, regime in enumerate(cfg.market.regimes):
        steps = int(counts[i].sum())
        if steps:
            regimes[regime.name] = {"steps": steps, "shares": (counts[i] / steps).tolist(),
                                    "mean_position": float(held[i] / steps), "turnover": float(turnover[i] / steps)}
    return {"policy": AGENT, "paths": cfg.eval.paths, "scenarios": [s.name for s in cfg.eval.scenarios],
            "actions": list(cfg.market.actions), "regimes": regimes}


def first_difference(recorded, replayed, where: str = "") -> str | None:
    """Where two trace documents first differ (a dotted path with the two values), or None if identical."""
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        for key in sorted(set(recorded) | set(replayed)):
            if key not in recorded or key not in replayed:
                return f"{where}{key}: present in only one of them"
            found = first_difference(recorded[key], replayed[key], f"{where}{key}.")
            if found:
                return found
        return None
    if isinstance(recorded, list) and isinstance(replayed, list):
        for i, (a, b) in enumerate(zip(recorded, replayed)):
            found = first_difference(a, b, f"{where.rstrip('.')}[{i}].")
            if found:
                return found
        if len(recorded) != len(replayed):
            return f"{where.rstrip('.')}: {len(recorded)} recorded steps, {len(replayed)} replayed"
        return None
    if recorded != replayed or type(recorded) is not type(replayed):
        return f"{where.rstrip('.')}: recorded {recorded!r}, replayed {replayed!r}"
    return None
