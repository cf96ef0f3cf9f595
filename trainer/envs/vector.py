"""The market's own vector environment: `num_envs` MarketEnv side by side behind gymnasium's VectorEnv API.

Gymnasium's SyncVectorEnv steps the same environments through the checking wrappers of `gymnasium.make` and
merges every step's info dicts key by key; for a market step of a few microseconds of arithmetic that doubled its
cost (half of market-pg's environment time). This class steps the environments directly and fills the four info
arrays the agent and the evaluation read. Each environment's arithmetic is MarketEnv's own, the seeds are spread
as SyncVectorEnv spreads them (an int seed s gives s, s+1, ...) and the autoreset is gymnasium's next-step mode,
so every observation, reward, flag and info value is the one SyncVectorEnv gives, bit for bit
(tests/test_market_env.py); it is registered as the market's `vector_entry_point`.
"""
from __future__ import annotations

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..schemas.policy import MarketConfig, RewardConfig
from .market import MarketEnv
from .rewards import TERMS


class MarketVectorEnv(VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int, market: MarketConfig | None = None, reward: RewardConfig | None = None):
        self.envs = [MarketEnv(market, reward) for _ in range(num_envs)]
        self.num_envs = num_envs
        first = self.envs[0]
        self.single_observation_space, self.single_action_space = first.observation_space, first.action_space
        self.observation_space = batch_space(first.observation_space, num_envs)
        self.action_space = batch_space(first.action_space, num_envs)
        self._autoreset = np.zeros(num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        if seed is None:
            seed = [None] * self.num_envs
        elif isinstance(seed, int):
            seed = [seed + i for i in range(self.num_envs)]
        if len(seed) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} seeds, one per environment, got {len(seed)}")
        observations = np.stack([env.reset(seed=s, options=options)[0] for env, s in zip(self.envs, seed)])
        self._autoreset[:] = False
        return observations, {}

    def step(self, actions):
        n = self.num_envs
        observations = np.empty((n, *self.single_observation_space.shape), dtype=self.single_observation_space.dtype)
        rewards = np.zeros(n)
        terminated, truncated, stepped = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        terms, equity, price = np.zeros((n, len(TERMS))), np.zeros(n), np.zeros(n)
        regime = np.zeros(n, dtype=np.int64)
        for i, (env, action) in enumerate(zip(self.envs, actions)):
            if self._autoreset[i]:  # the episode ended on the previous step: this step starts the next one
                observations[i] = env.reset()[0]
                continue
            observations[i], rewards[i], terminated[i], truncated[i], info = env.step(action)
            terms[i], equity[i], price[i], regime[i] = info["terms"], info["equity"], info["price"], info["regime"]
            stepped[i] = True
        self._autoreset = terminated | truncated
        infos = {}
        if stepped.any():  # (a step on which every environment starts a new episode has no info, as in gymnasium)
            infos = {"terms": terms, "equity": equity, "price": price, "regime": regime}
            infos.update({f"_{key}": stepped.copy() for key in list(infos)})  # gymnasium's mask: which envs gave it
        return observations, rewards, terminated, truncated, infos

    def close_extras(self, **kwargs) -> None:
        for env in self.envs:
            env.close()
