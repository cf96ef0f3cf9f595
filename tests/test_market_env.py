"""The market simulator: a well-formed gymnasium env, seeded episodes, and reward terms checked by hand."""
from __future__ import annotations

import math
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from trainer.envs import MARKET_ID
from trainer.envs.market import MarketEnv
from trainer.envs.rewards import TERMS, RewardTerms, Transition
from trainer.schemas.policy import MarketConfig, RegimeConfig, RewardConfig

SHORT, FLAT, LONG = 0, 1, 2


def test_registered_market_env_passes_gymnasium_check_env_without_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gymnasium.make(MARKET_ID).unwrapped)
    assert [str(w.message) for w in caught] == []


def play(env: MarketEnv, seed: int, actions: list[int]) -> list:
    obs, _ = env.reset(seed=seed)
    steps = [obs]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        steps.append((obs, reward, terminated, info["terms"], info["equity"], info["price"], info["regime"]))
        if terminated:
            break
    return steps


def same(a, b) -> bool:
    return all(np.array_equal(x, y) if isinstance(x, np.ndarray) else (same(x, y) if isinstance(x, tuple) else x == y)
               for x, y in zip(a, b, strict=True))


def test_same_seed_gives_identical_episodes_and_another_seed_a_different_market():
    actions = np.random.default_rng(0).integers(3, size=128).tolist()
    first = play(MarketEnv(), 5, actions)
    again = play(MarketEnv(), 5, actions)
    other = play(MarketEnv(), 6, actions)
    assert len(first) == 129 and first[-1][2] is True
    assert same(first, again)
    assert not np.array_equal(first[0], other[0])


def test_a_regime_path_option_fixes_the_regimes_of_the_episode():
    cfg = MarketConfig(episode_length=8, window=2)
    env = MarketEnv(cfg)
    env.reset(seed=1, options={"regime_path": [0, 0, 1, 1, 1, 2, 2, 2]})
    # the history before the episode is drawn from the first regime
    assert env.regimes.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len(env.prices) == 11 and env.prices[2] == cfg.initial_price


HAND_PRICES = [100.0, 100.0, 100.0, 110.0, 99.0, 99.0]  # window of 2 before the start, then 3 steps: +10 %, -10 %, 0
RATE = 0.002  # fee 0.001 + slippage 0.001 per unit of traded value


def hand_env(weights: dict) -> MarketEnv:
    cfg = MarketConfig(episode_length=3, window=2, fee=0.001, slippage=0.001)
    env = MarketEnv(cfg, RewardConfig(terms=weights, sharpe_eta=0.1))
    env.reset(options={"prices": HAND_PRICES})
    return env


def test_each_reward_term_matches_a_hand_checked_trajectory():
    env = hand_env({name: 1.0 for name in TERMS})
    steps = [env.step(a) for a in (LONG, SHORT, FLAT)]
    terms = [dict(zip(TERMS, s[4]["terms"].tolist())) for s in steps]

    # step 0, long at 100 with equity 1: buy 0.01 units (cost 0.002), price to 110
    v1 = 1 - 0.002 + 0.01 * 10
    # step 1, short at 110: sell 0.01 + v1/110 units (cost 0.002 * 2 * v1), price to 99
    cost1 = RATE * (0.01 + v1 / 110) * 110
    v2 = v1 + (v1 / 110) * 11 - cost1
    # step 2, flat at 99: buy back v1/110 units, price unchanged
    cost2 = RATE * (v1 / 110) * 99
    v3 = v2 - cost2
    assert [s[4]["equity"] for s in steps] == pytest.approx([v1, v2, v3], rel=1e-12)

    assert [t["pnl"] for t in terms] == pytest.approx([10.0, 100 * (v1 / 110) * 11, 0.0], rel=1e-12)
    assert [t["transaction_cost"] for t in terms] == pytest.approx([-0.2, -100 * cost1, -100 * cost2], rel=1e-12)
    assert [t["log_return"] for t in terms] == pytest.approx([100 * math.log(v1), 100 * math.log(v2 / v1), 100 * math.log(v3 / v2)], rel=1e-12)
    assert [t["drawdown"] for t in terms] == pytest.approx([0.0, 0.0, -100 * (1 - v3 / v2)], rel=1e-12)  # new peaks, then a dip
    returns = [v1 - 1, v2 / v1 - 1, v3 / v2 - 1]
    assert [t["volatility"] for t in terms] == pytest.approx([-(100 * r) ** 2 for r in returns], rel=1e-12)
    assert [t["holding"] for t in terms] == [-1.0, -1.0, 0.0]

    # differential Sharpe ratio with eta = 0.1: undefined (0) on the first step, then Moody & Saffell's formula
    a1, b1 = 0.1 * returns[0], 0.1 * returns[0] ** 2
    r = returns[1]
    d2 = (b1 * (r - a1) - 0.5 * a1 * (r * r - b1)) / (b1 - a1 * a1) ** 1.5
    assert terms[0]["differential_sharpe"] == 0.0
    assert terms[1]["differential_sharpe"] == pytest.approx(d2, rel=1e-12)

    # pnl + transaction cost over the episode is exactly the net change of equity
    assert sum(t["pnl"] + t["transaction_cost"] for t in terms) == pytest.approx(100 * (v3 - 1), rel=1e-12)
    assert [s[2] for s in steps] == [False, False, True]


def test_the_reward_is_the_weighted_sum_of_the_configured_terms():
    weights = {"pnl": 1.0, "transaction_cost": 2.0, "drawdown": 0.5}
    env = hand_env(weights)
    for action in (LONG, SHORT, FLAT):
        _, reward, _, _, info = env.step(action)
        terms = dict(zip(TERMS, info["terms"].tolist()))
        assert reward == pytest.approx(sum(w * terms[name] for name, w in weights.items()), rel=1e-12)


def test_drawdown_term_sums_to_minus_the_maximum_drawdown():
    terms = RewardTerms(RewardConfig(terms={"drawdown": 1.0}))
    equity = [1.0, 1.1, 0.99, 1.05, 0.88, 1.2]
    total = sum(terms.step(Transition(a, b, 0.0, 0.0, 1.0))[TERMS.index("drawdown")] for a, b in zip(equity, equity[1:]))
    assert total == pytest.approx(-100 * (1 - 0.88 / 1.1), rel=1e-12)


def test_the_markets_vector_env_gives_what_gymnasiums_sync_vector_env_gives_bit_for_bit_through_ruin_and_autoreset():
    # a market violent enough that some paths are ruined early: those environments autoreset mid-batch
    market = MarketConfig(episode_length=48, window=4, regimes=[RegimeConfig(name="wild", drift=-0.02, volatility=0.3)],
                          transitions=[[1.0]])
    reward = RewardConfig(terms={name: 1.0 for name in TERMS})
    ours = gymnasium.make_vec(MARKET_ID, num_envs=6, vectorization_mode="vector_entry_point", market=market, reward=reward)
    theirs = gymnasium.make_vec(MARKET_ID, num_envs=6, vectorization_mode="sync", market=market, reward=reward)
    assert type(ours).__name__ == "MarketVectorEnv" and ours.observation_space == theirs.observation_space
    rng = np.random.default_rng(3)
    partial_resets = 0
    for seed in (11, [5, 6, 7, 8, 9, 10]):
        a, b = ours.reset(seed=seed)[0], theirs.reset(seed=seed)[0]
        assert a.dtype == b.dtype and np.array_equal(a, b)
        for _ in range(60):
            actions = rng.integers(3, size=6)
            mine, gym = ours.step(actions), theirs.step(actions)
            for x, y in zip(mine[:4], gym[:4], strict=True):
                assert x.dtype == y.dtype and np.array_equal(x, y)
            assert mine[4].keys() == gym[4].keys()
            for key in mine[4]:
                assert mine[4][key].dtype == gym[4][key].dtype and np.array_equal(mine[4][key], gym[4][key]), key
            partial_resets += int((~mine[4]["_terms"]).sum()) if mine[4] else 0
    assert partial_resets > 0  # ruined paths restarted while others still traded: that autoreset step was compared too
