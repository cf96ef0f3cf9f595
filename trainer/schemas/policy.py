"""Policy-gradient agents in the market simulator (`model.type: policy`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from ..config import Fraction, NonNegative, Positive, Range, did_you_mean
from .common import Count, ExperimentHeader, LoopConfig, OptimConfig


REWARD_TERMS = ("pnl", "log_return", "transaction_cost", "drawdown", "volatility", "holding", "differential_sharpe")
"""Reward terms an experiment may weight (defined and documented in trainer/envs/rewards.py)."""


def check_slug(value: str, what: str) -> str | None:
    """Regime and scenario names become file names and CLI arguments: lower-case letters, digits and '-'."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", value):
        return f"expected a {what} of 1-32 lower-case letters, digits and '-', got {value!r}"
    return None


@dataclass
class RegimeConfig:
    name: str
    """regime name, used by the transition matrix order and by scenario schedules"""
    drift: Annotated[float, Range(ge=-0.5, le=0.5)] = 0.0
    """mean log-return per step (one step is one trading day)"""
    volatility: Annotated[float, Range(gt=0, le=0.5)] = 0.01
    """standard deviation of the log-return per step"""
    mean_reversion: Annotated[float, Range(ge=0, lt=1)] = 0.0
    """pull of the log price back toward its level when the regime began, per step (0: a pure random walk)"""
    jump_prob: Annotated[float, Fraction] = 0.0
    """probability of a price jump on each step"""
    jump_size: Annotated[float, Range(ge=-1, le=1)] = 0.0
    """log-return added by a jump (negative for crashes)"""

    def check(self):
        problem = check_slug(self.name, "regime name")
        return ("name", problem) if problem else None


def _default_regimes() -> list[RegimeConfig]:
    return [
        RegimeConfig("bull", drift=0.002, volatility=0.01),
        RegimeConfig("crash", drift=-0.008, volatility=0.03, jump_prob=0.03, jump_size=-0.05),
        RegimeConfig("choppy", drift=0.0, volatility=0.015, mean_reversion=0.3),
    ]


@dataclass
class MarketConfig:
    episode_length: Annotated[int, Range(ge=1, le=100_000)] = 128
    """trading steps per episode"""
    window: Annotated[int, Range(ge=1, le=1024)] = 16
    """recent log-returns the agent observes (drawn from the first regime before the episode starts)"""
    actions: list[Annotated[float, Range(ge=-10, le=10)]] = field(default_factory=lambda: [-1.0, 0.0, 1.0])
    """target positions the discrete actions stand for, as a multiple of equity (-1 short, 0 flat, 1 long)"""
    fee: Annotated[float, Range(ge=0, lt=1)] = 0.0005
    """commission per trade, as a fraction of the traded value"""
    slippage: Annotated[float, Range(ge=0, lt=1)] = 0.0002
    """fill price worse than the last price by this fraction, on every trade"""
    initial_price: Annotated[float, Positive] = 100.0
    """price of the asset when the episode starts"""
    return_scale: Annotated[float, Positive] = 0.01
    """log-returns are divided by this in the observation (and clipped to +-10), so the agent sees O(1) numbers"""
    regimes: list[RegimeConfig] = field(default_factory=_default_regimes)
    """market regimes; a Markov chain switches between them during training episodes"""
    transitions: list[list[Annotated[float, Fraction]]] = field(
        default_factory=lambda: [[0.98, 0.01, 0.01], [0.04, 0.94, 0.02], [0.01, 0.01, 0.98]])
    """regime transition matrix: row i gives the next-step probabilities from regime i (rows sum to 1)"""

    def check(self):
        names = [r.name for r in self.regimes]
        if not names:
            return "regimes", "expected at least one regime"
        if len(set(names)) != len(names):
            return "regimes", f"regime names must be unique, got {names}"
        if len(self.transitions) != len(names) or any(len(row) != len(names) for row in self.transitions):
            return "transitions", f"expected a {len(names)}x{len(names)} matrix (one row and column per regime: {', '.join(names)})"
        for i, row in enumerate(self.transitions):
            if abs(sum(row) - 1) > 1e-6:
                return f"transitions[{i}]", f"row for regime {names[i]!r} must sum to 1, got {sum(row):g}"
        if len(set(self.actions)) != len(self.actions) or 0.0 not in self.actions or 1.0 not in self.actions:
            return "actions", f"expected distinct target positions including 0 (flat) and 1 (long, for the baselines), got {self.actions}"
        return None


@dataclass
class RewardConfig:
    terms: dict[str, Annotated[float, NonNegative]] = field(default_factory=lambda: {"pnl": 1.0, "transaction_cost": 1.0})
    """weight of each named reward term; the reward is their weighted sum. Terms: pnl, log_return, transaction_cost,
    drawdown, volatility, holding, differential_sharpe (penalty terms are already negative, so weights are >= 0)"""
    sharpe_eta: Annotated[float, Range(gt=0, lt=1)] = 0.05
    """adaptation rate of the moving averages in the differential Sharpe ratio (Moody & Saffell)"""

    def check(self):
        if not self.terms:
            return "terms", f"expected at least one weighted term out of: {', '.join(REWARD_TERMS)}"
        for name in self.terms:
            if name not in REWARD_TERMS:
                return f"terms.{name}", f"unknown reward term{did_you_mean(name, list(REWARD_TERMS))}; known terms: {', '.join(REWARD_TERMS)}"
        return None


@dataclass
class SegmentConfig:
    regime: str
    """regime name (one of market.regimes)"""
    steps: Annotated[int, Range(ge=1, le=100_000)]
    """how many steps the regime lasts"""


@dataclass
class ScenarioConfig:
    name: str
    """scenario name: names its trace file, its figure and `replay --scenario`"""
    seed: int
    """seed of the scenario's first price path (path i uses seed + i)"""
    schedule: list[SegmentConfig]
    """regimes in order; their steps add up to market.episode_length"""
    description: str = ""
    """one line shown in the scenario table"""

    def check(self):
        problem = check_slug(self.name, "scenario name")
        if problem:
            return "name", problem
        if not self.schedule:
            return "schedule", "expected at least one segment, e.g. [{regime: bull, steps: 128}]"
        return None


@dataclass
class EvalConfig:
    scenarios: list[ScenarioConfig]
    """named evaluation scenarios, each a seed and a regime schedule"""
    paths: Annotated[int, Range(ge=1, le=10_000)] = 16
    """price paths per scenario (seeds seed, seed+1, ...); the first is recorded as the replayable trace"""
    random_seed: int = 7
    """seed of the random-policy baseline"""

    def check(self):
        if not self.scenarios:
            return "scenarios", "expected at least one scenario, e.g. {name: bull, seed: 1, schedule: [{regime: bull, steps: 128}]}"
        names = [s.name for s in self.scenarios]
        if len(set(names)) != len(names):
            return "scenarios", f"scenario names must be unique, got {names}"
        return None


@dataclass
class PolicyUpdates:
    """How the policy-gradient loop learns and how often it evaluates (declared before LoopConfig's fields)."""

    iterations: Count = 100
    """policy-gradient updates; each collects `episodes` whole episodes first"""
    episodes: Annotated[int, Range(ge=1, le=4096)] = 16
    """episodes per update, one per environment of the vector environment"""
    gamma: Annotated[float, Range(ge=0, le=1)] = 0.9
    """discount factor of the returns the policy is pushed toward"""
    entropy_coef: Annotated[float, NonNegative] = 0.01
    """weight of the entropy bonus, which keeps the policy exploring"""
    value_coef: Annotated[float, NonNegative] = 0.5
    """weight of the value (baseline) regression loss"""
    normalize_advantages: bool = True
    """scale each batch's advantages to zero mean and unit variance"""
    eval_interval: Count = 20
    """updates between greedy evaluations on the scenarios (and after the last)"""


@dataclass
class PolicyTrainConfig(LoopConfig, PolicyUpdates):
    """The policy-gradient loop: its updates, then the loop basics, with defaults for tiny nets."""

    log_interval: Count = 10
    """updates between progress lines when the output is not a terminal"""
    threads: Annotated[int, Range(ge=0, le=1024)] = 1
    """torch CPU threads; 0 keeps torch's default. The nets are tiny, so one thread is fastest"""


@dataclass
class PolicyModelConfig:
    type: Literal["policy"] = "policy"
    """model family; `policy` is a categorical policy net with a separate value net"""
    hidden: list[Annotated[int, Range(ge=1, le=4096)]] = field(default_factory=lambda: [64, 64])
    """hidden layer widths of both the policy and the value net (tanh activations)"""


@dataclass(kw_only=True)
class PolicyExperiment(ExperimentHeader):
    model: PolicyModelConfig
    """the policy and value nets"""
    eval: EvalConfig
    """evaluation scenarios and baselines"""
    market: MarketConfig = field(default_factory=MarketConfig)
    """the simulated market"""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """what the agent is paid for"""
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(schedule="constant"))
    """the optimiser of both nets"""
    train: PolicyTrainConfig = field(default_factory=PolicyTrainConfig)
    """the policy-gradient loop"""

    def check(self):
        problem = super().check()
        if problem:
            return problem
        regimes = [r.name for r in self.market.regimes]
        for i, scenario in enumerate(self.eval.scenarios):
            key = f"eval.scenarios[{i}].schedule"
            for j, segment in enumerate(scenario.schedule):
                if segment.regime not in regimes:
                    hint = did_you_mean(segment.regime, regimes)
                    return f"{key}[{j}].regime", f"unknown regime {segment.regime!r}{hint}; market.regimes has {', '.join(regimes)}"
            total = sum(s.steps for s in scenario.schedule)
            if total != self.market.episode_length:
                return key, f"steps add up to {total}; expected market.episode_length = {self.market.episode_length}"
        return None
