"""Reward shaping: named reward terms, each computed every step, and their weighted sum.

An experiment's `reward.terms` weights some of them; the reward is sum(weight * term). Every term
is signed so that more is better (penalties are <= 0), which keeps all weights >= 0. Money terms
are in percent of the initial equity, so an episode's pnl sum of 5.0 means +5 %.

    pnl                 gross mark-to-market gain of the position held over the step (before costs)
    log_return          100 * log(equity after / equity before): growth net of costs
    transaction_cost    minus the fees and slippage paid on the step's trade
    drawdown            minus the increase of the episode's maximum drawdown (sums to -max drawdown)
    volatility          minus the squared net return of the step, in %^2: a variance penalty
    holding             minus |position|: a carrying charge per step a position is held
    differential_sharpe Moody & Saffell's differential Sharpe ratio: the first-order change of an
                        exponentially weighted Sharpe ratio caused by this step's net return

pnl + transaction_cost summed over an episode is exactly its net change of equity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..schemas.policy import REWARD_TERMS, RewardConfig

TERMS = REWARD_TERMS
MIN_VARIANCE = 1e-12  # below this the Sharpe ratio's variance is still undefined (e.g. after only flat steps)


@dataclass(frozen=True)
class Transition:
    """The accounting of one step, as the market reports it."""

    equity_before: float
    """equity at the start of the step, before its trade"""
    equity_after: float
    """equity at the end of the step: after the trade's costs and the price move"""
    gross_pnl: float
    """units held over the step times the price change"""
    cost: float
    """fees plus slippage paid on the step's trade"""
    position: float
    """target position held over the step, as a multiple of equity"""


class RewardTerms:
    """Every term's value per step, with the state some of them need (equity peak, Sharpe averages)."""

    def __init__(self, cfg: RewardConfig, initial_equity: float = 1.0):
        self.eta, self.initial_equity = cfg.sharpe_eta, initial_equity
        self.weights = [cfg.terms.get(name, 0.0) for name in TERMS]
        self.reset()

    def reset(self) -> None:
        self.peak, self.max_drawdown = self.initial_equity, 0.0
        self.mean, self.mean_square = 0.0, 0.0  # A and B of the differential Sharpe ratio

    def step(self, tr: Transition) -> list[float]:
        """Each term's value for this step, in the order of TERMS."""
        scale = 100.0 / self.initial_equity
        net_return = tr.equity_after / tr.equity_before - 1.0
        self.peak = max(self.peak, tr.equity_after)
        drawdown = 1.0 - tr.equity_after / self.peak
        deepened = max(0.0, drawdown - self.max_drawdown)
        self.max_drawdown += deepened
        values = {
            "pnl": scale * tr.gross_pnl,
            "log_return": 100.0 * math.log(max(tr.equity_after, 1e-12) / tr.equity_before),
            "transaction_cost": -scale * tr.cost,
            "drawdown": -100.0 * deepened,
            "volatility": -((100.0 * net_return) ** 2),
            "holding": -abs(tr.position),
            "differential_sharpe": self._differential_sharpe(net_return),
        }
        return [values[name] for name in TERMS]

    def _differential_sharpe(self, r: float) -> float:
        """D_t = (B dA - A dB / 2) / (B - A^2)^(3/2), with A, B the moving averages of r and r^2 before this step."""
        a, b = self.mean, self.mean_square
        delta_a, delta_b = r - a, r * r - b
        variance = b - a * a
        d = (b * delta_a - 0.5 * a * delta_b) / variance**1.5 if variance > MIN_VARIANCE else 0.0
        self.mean, self.mean_square = a + self.eta * delta_a, b + self.eta * delta_b
        return d

    def reward(self, values: list[float]) -> float:
        """The weighted sum of the terms (terms without a weight count zero)."""
        return sum(w * v for w, v in zip(self.weights, values) if w)
