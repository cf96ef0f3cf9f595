"""Synthetic price paths for the market simulator.

Log-returns follow geometric Brownian motion whose drift, volatility, mean reversion and jumps
depend on a regime. During training a Markov chain switches regimes; an evaluation scenario
fixes the regime schedule instead. Pure numpy: every draw comes from the Generator passed in,
in a fixed order (regimes, then diffusion noise, then jumps), so a seed fixes the whole path.
"""
from __future__ import annotations

import bisect

import numpy as np

from ..schemas.policy import MarketConfig, SegmentConfig


def markov_regimes(rng: np.random.Generator, transitions: list[list[float]], length: int) -> np.ndarray:
    """Regime index per step: the first drawn uniformly, each next one from the row of the one before."""
    cumulative = np.cumsum(np.asarray(transitions, dtype=np.float64), axis=1)
    cumulative[:, -1] = 1.0  # rows sum to 1 up to rounding; never let a draw fall off the end
    rows = cumulative.tolist()
    draws = rng.random(length).tolist()
    path = [int(rng.integers(len(transitions)))]
    for t in range(1, length):
        path.append(bisect.bisect_right(rows[path[-1]], draws[t]))
    return np.array(path, dtype=np.int64)


def scheduled_regimes(schedule: list[SegmentConfig], regime_names: list[str]) -> np.ndarray:
    """Regime index per step of a fixed schedule (e.g. 96 steps of bull, then 32 of crash)."""
    index = {name: i for i, name in enumerate(regime_names)}
    return np.concatenate([np.full(s.steps, index[s.regime], dtype=np.int64) for s in schedule])


def log_returns(rng: np.random.Generator, cfg: MarketConfig, regimes: np.ndarray) -> np.ndarray:
    """One log-return per step of `regimes`.

    r_t = drift + mean_reversion * (anchor - x_{t-1}) + volatility * eps_t + jump_size * [u_t < jump_prob],
    where x is the log price and the anchor is the log price at which the current regime began.
    """
    noise = rng.standard_normal(len(regimes)).tolist()
    jumps = rng.random(len(regimes)).tolist()
    params = [(r.drift, r.mean_reversion, r.volatility, r.jump_prob, r.jump_size) for r in cfg.regimes]
    out = np.empty(len(regimes), dtype=np.float64)
    x, anchor, previous = 0.0, 0.0, -1
    for t, k in enumerate(regimes.tolist()):  # sequential: mean reversion depends on the path so far
        drift, kappa, vol, jump_prob, jump_size = params[k]
        if k != previous:
            anchor, previous = x, k
        r = drift + kappa * (anchor - x) + vol * noise[t] + (jump_size if jumps[t] < jump_prob else 0.0)
        x += r
        out[t] = r
    return out


def prices_from_returns(returns: np.ndarray, initial_price: float, start: int) -> np.ndarray:
    """Prices at every step boundary (len(returns) + 1 of them), scaled so that prices[start] == initial_price."""
    log_price = np.concatenate([[0.0], np.cumsum(returns)])
    return initial_price * np.exp(log_price - log_price[start])


def episode_prices(rng: np.random.Generator, cfg: MarketConfig, episode_regimes: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Prices for one episode and the regime of each step, history window included.

    Returns (prices, regimes) with len(prices) == window + episode_length + 1 and
    len(regimes) == window + episode_length; the episode starts at prices[window] == initial_price.
    The history before the episode is drawn from the episode's first regime.
    """
    if episode_regimes is None:
        episode_regimes = markov_regimes(rng, cfg.transitions, cfg.episode_length)
    regimes = np.concatenate([np.full(cfg.window, episode_regimes[0], dtype=np.int64), episode_regimes])
    returns = log_returns(rng, cfg, regimes)
    return prices_from_returns(returns, cfg.initial_price, cfg.window), regimes
