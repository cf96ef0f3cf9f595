"""The market simulator: a gymnasium environment in which an agent holds short, flat or long positions.

Each episode draws a price path (trainer/data/market.py) at `reset`, seeded only through
`reset(seed=...)`. At step t the agent sees the last `window` log-returns, its position, its cash
and its equity, and picks a target position; the trade is filled at the current price made worse
by slippage and pays a fee; then the price moves one step and the reward terms are computed
(trainer/envs/rewards.py).

Accounting: equity V = cash + units * price, with V = 1 at the start. A position is a target
multiple of equity (e.g. -1, 0, 1) turned into units when the agent changes it and then held:
between trades the units stay fixed, as for a real holding, so buy-and-hold is one trade.

`reset` options (both optional, mutually exclusive):
    regime_path: regime index per episode step, replacing the Markov chain (evaluation scenarios)
    prices: the whole price path, window + episode_length + 1 prices (tests, historical replays);
            its regimes are unknown and reported as -1
"""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..data import market as prices
from ..schemas.policy import MarketConfig, RewardConfig
from .rewards import RewardTerms, Transition

OBS_CLIP = 10.0  # scaled returns and log equity beyond +-10 carry no extra information for a tiny net
RUIN = 0.01  # equity at or below 1 % of the start ends the episode: nothing meaningful is left to trade


class MarketEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, market: MarketConfig | None = None, reward: RewardConfig | None = None):
        self.cfg = market or MarketConfig()
        self.levels = [float(a) for a in self.cfg.actions]
        self.flat_action = self.levels.index(0.0)
        self.terms = RewardTerms(reward or RewardConfig())
        self.action_space = spaces.Discrete(len(self.levels))
        w, lo, hi = self.cfg.window, min(self.levels), max(self.levels)
        # observation: window scaled log-returns, position, cash / equity, log equity, fraction of the episode left
        low = np.array([-OBS_CLIP] * w + [lo, 1.0 - hi - OBS_CLIP, -OBS_CLIP, 0.0], dtype=np.float32)
        high = np.array([OBS_CLIP] * w + [hi, 1.0 - lo + OBS_CLIP, OBS_CLIP, 1.0], dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self._scaled = np.zeros(0, dtype=np.float32)

    # --- episode ---------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        n = self.cfg.window + self.cfg.episode_length
        if "prices" in options:
            path = np.asarray(options["prices"], dtype=np.float64)
            if path.shape != (n + 1,) or not np.all(path > 0):
                raise ValueError(f"options['prices'] must hold {n + 1} positive prices (window + episode_length + 1)")
            self.prices, self.regimes = path, np.full(n, -1, dtype=np.int64)
        else:
            path = options.get("regime_path")
            if path is not None and len(path) != self.cfg.episode_length:
                raise ValueError(f"options['regime_path'] must hold {self.cfg.episode_length} regime indices")
            self.prices, self.regimes = prices.episode_prices(self.np_random, self.cfg, None if path is None else np.asarray(path))
        log_returns = np.diff(np.log(self.prices))
        self._scaled = np.clip(log_returns / self.cfg.return_scale, -OBS_CLIP, OBS_CLIP).astype(np.float32)
        self._price = self.prices.tolist()
        self.t, self.cash, self.units, self.position, self.equity = 0, 1.0, 0.0, 0.0, 1.0
        self.terms.reset()
        return self._observation(), {}

    def step(self, action):
        position = self.levels[int(action)]
        i = self.cfg.window + self.t
        price, next_price = self._price[i], self._price[i + 1]
        equity = self.cash + self.units * price
        cost = 0.0
        if position != self.position:
            target_units = position * equity / price
            traded_value = abs(target_units - self.units) * price
            cost = (self.cfg.fee + self.cfg.slippage) * traded_value
            self.cash -= (target_units - self.units) * price + cost
            self.units, self.position = target_units, position
        gross_pnl = self.units * (next_price - price)
        self.equity = self.cash + self.units * next_price
        values = self.terms.step(Transition(equity, self.equity, gross_pnl, cost, position))
        self.t += 1
        terminated = self.t >= self.cfg.episode_length or self.equity <= RUIN
        info = {"terms": np.array(values), "equity": self.equity, "price": next_price, "regime": int(self.regimes[i])}
        # The horizon is part of the task and the agent observes the time left, so its end is a true terminal state.
        return self._observation(), self.terms.reward(values), terminated, False, info

    def _observation(self) -> np.ndarray:
        equity = self.equity if self.equity > 0 else RUIN
        state = [self.position, self.cash / equity if self.equity > 0 else 0.0,
                 min(max(math.log(equity), -OBS_CLIP), OBS_CLIP), 1.0 - self.t / self.cfg.episode_length]
        return np.concatenate([self._scaled[self.t:self.t + self.cfg.window], np.array(state, dtype=np.float32)])
