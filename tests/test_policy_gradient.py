"""Policy-gradient training: the update favours the better action, returns are discounted per episode,
and a run resumed from its checkpoint continues the exact same trajectory."""
from __future__ import annotations

import json

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import SyncVectorEnv

from trainer import config, experiments
from trainer.runtime import seeding
from trainer.engines import policy_gradient as pg
from trainer.models.policy import PolicyValueNets
from trainer.schemas.policy import PolicyModelConfig, PolicyTrainConfig
from trainer.tracking import checkpoint
from trainer.tracking.run import Run
from tests.conftest import REPO, TINY_RL
from trainer.tracking import layout

MARKET_PG = REPO / "experiments" / "market-pg.yaml"
TIMING = {"steps_per_s"}

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as market-pg runs (train.threads: 1)


class TwoArmedBandit(gymnasium.Env):
    """One-step episodes: arm 1 pays 1 on average, arm 0 pays 0, both with unit noise."""

    observation_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(1, dtype=np.float32), {}

    def step(self, action):
        reward = float(action) + self.np_random.standard_normal()
        return np.ones(1, dtype=np.float32), reward, True, False, {}


def test_policy_gradient_moves_probability_toward_the_better_arm():
    torch.manual_seed(0)
    envs = SyncVectorEnv([TwoArmedBandit for _ in range(64)])
    model = PolicyValueNets(PolicyModelConfig(hidden=[8]), obs_dim=1, n_actions=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(0)
    obs = torch.ones(1, 1)

    def p_better() -> float:
        return model.distribution(obs).probs[0, 1].item()

    before = p_better()
    for update in range(30):
        rollout = pg.collect(envs, model, generator, seeds=list(range(update * 64, update * 64 + 64)))
        pg.update_step(model, optimizer, rollout, PolicyTrainConfig(entropy_coef=0.0))
    assert abs(before - 0.5) < 0.01  # the tiny policy head starts near uniform
    assert p_better() > 0.95


def test_discounted_returns_stop_at_the_end_of_each_episode():
    rewards = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 5.0]])
    alive = np.array([[True, True], [True, True], [True, False]])  # the second episode ended after two steps
    returns = pg.discounted_returns(rewards, alive, gamma=0.5)
    assert returns.tolist() == [[1.75, 1.5], [1.5, 1.0], [1.0, 0.0]]


def start_run(root, cfg) -> tuple[pg.Prepared, Run]:
    seeding.seed_everything(cfg.seed)
    prepared = pg.prepare(cfg, str(MARKET_PG))
    run = Run.create(root, experiment=cfg.name, config=config.to_dict(cfg), config_sha256=config.config_sha256(cfg),
                     config_yaml=config.dump_yaml(cfg), source=str(MARKET_PG), overrides=[], seeds={}, data={})
    return prepared, run


def without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_resumed_training_continues_exactly_where_the_checkpoint_left_off(tmp_path, monkeypatch):
    cfg = experiments.load(MARKET_PG, [*TINY_RL, "train.checkpoint_interval=3"])
    prepared, straight = start_run(tmp_path / "a", cfg)
    final_straight = pg.train(prepared, straight)

    # the same run interrupted after update 3, whose checkpoint is on disk ...
    prepared, interrupted = start_run(tmp_path / "b", cfg)
    collect, calls = pg.collect, []

    def interrupt_at_update_4(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return collect(*args, **kwargs)

    monkeypatch.setattr(pg, "collect", interrupt_at_update_4)
    with pytest.raises(KeyboardInterrupt):
        pg.train(prepared, interrupted)
    monkeypatch.setattr(pg, "collect", collect)
    state = checkpoint.load(interrupted.file("checkpoint.pt"))
    assert state["step"] == 3

    # ... resumed by fresh objects, with every global RNG disturbed first
    seeding.seed_everything(12345)
    fresh = pg.prepare(cfg, str(MARKET_PG))
    final_resumed = pg.train(fresh, Run.open(interrupted.path), resume=state)

    rows_straight = layout.read_metrics(straight.file("metrics.jsonl"))
    rows_resumed = layout.read_metrics(interrupted.file("metrics.jsonl"))
    assert [r["step"] for r in rows_resumed] == [r["step"] for r in rows_straight]
    assert without_timing(rows_resumed) == without_timing(rows_straight)
    assert {k: v for k, v in final_resumed.items() if k not in TIMING} == {k: v for k, v in final_straight.items() if k not in TIMING}
    a = torch.load(straight.file("checkpoint.pt"), weights_only=True)
    b = torch.load(interrupted.file("checkpoint.pt"), weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    for name in ("scenarios.json", "trace-bull.json", "trace-crash.json", "learning_curve.png", "scenario-crash.png"):
        assert straight.file(name).read_bytes() == interrupted.file(name).read_bytes(), name
    assert json.loads(straight.file("scenarios.json").read_text())["paths"] == 2
