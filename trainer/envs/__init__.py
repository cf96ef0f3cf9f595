"""Gymnasium environments. Importing this package registers them, so `gymnasium.make` finds them by id."""
from __future__ import annotations

import gymnasium

MARKET_ID = "Trainbook/Market-v0"

if MARKET_ID not in gymnasium.registry:
    gymnasium.register(id=MARKET_ID, entry_point="trainer.envs.market:MarketEnv",
                       vector_entry_point="trainer.envs.vector:MarketVectorEnv")
