"""Engine for policy-gradient agents in the market simulator (`model.type: policy`).

REINFORCE with a learned value baseline: each update plays `train.episodes` whole episodes side by
side in a gymnasium vector environment, computes every step's discounted return G_t, and takes one
gradient step on

    loss = -mean(log pi(a_t|s_t) * A_t) + value_coef * 0.5 * mean((V(s_t) - G_t)^2) - entropy_coef * mean(H(pi(.|s_t)))

with advantages A_t = G_t - V(s_t) (normalised per batch if configured). Greedy evaluations on the
named scenarios run every `train.eval_interval` updates; the last one is played against the
baselines too and kept as replayable traces (trainer/envs/scenarios.py).

Randomness: the nets are initialised from the global seed (cli seeds it), training price paths
use seeds derived from (seed, update) so they never depend on what ran before, and actions are
sampled from one explicit torch.Generator whose state the checkpoint keeps. Resuming from a
checkpoint therefore continues the exact trajectory: `train(prepared, run, resume=checkpoint)`,
which `python -m trainer resume` calls.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from .. import experiments
from ..config import did_you_mean
from ..errors import UsageError
from ..figures import rl as figures
from ..runtime import seeding, stopping
from ..envs import scenarios
from ..envs.market import MarketEnv
from ..envs.rewards import TERMS
from ..models.policy import PolicyValueNets
from ..runtime.progress import Progress
from ..schemas.policy import PolicyExperiment, PolicyTrainConfig
from ..tracking import checkpoint, layout
from ..tracking.files import sha256_bytes
from ..tracking.metrics import MetricsLog
from ..tracking.run import Run
from ..loop.optim import lr_at, make_optimizer, set_lr
from .contract import TrainingFailed



@dataclass
class Prepared:
    cfg: PolicyExperiment
    model: PolicyValueNets
    data_record: dict


def prepare(cfg: PolicyExperiment, source: str) -> Prepared:
    env = MarketEnv(cfg.market, cfg.reward)
    model = PolicyValueNets(cfg.model, env.observation_space.shape[0], env.action_space.n)
    return Prepared(cfg, model, data_record(cfg))


def data_record(cfg: PolicyExperiment) -> dict:
    """What the agent is evaluated on: the scenarios' price paths, hashed, so the record pins them down."""
    paths = [scenarios.scenario_prices(cfg, s, i) for s in cfg.eval.scenarios for i in range(cfg.eval.paths)]
    return {
        "dataset": "synthetic-market",
        "source": "regime-switching geometric Brownian motion (trainer/data/market.py); training paths drawn per episode",
        "regimes": [r.name for r in cfg.market.regimes],
        "scenarios": {s.name: {"seed": s.seed, "paths": cfg.eval.paths, "steps": cfg.market.episode_length} for s in cfg.eval.scenarios},
        "sha256": sha256_bytes(np.concatenate(paths).astype("<f8").tobytes()),
        "note": "sha256 of the evaluation price paths (float64, little-endian, scenario by scenario, path by path)",
    }


# --- one batch of episodes ------------------------------------------------------------------

@dataclass
class Rollout:
    obs: torch.Tensor
    """[T, n, obs_dim] observations"""
    actions: torch.Tensor
    """[T, n] action indices taken"""
    rewards: np.ndarray
    """[T, n] rewards (float64, as the environments return them)"""
    alive: np.ndarray
    """[T, n] True where the step belongs to the environment's episode (False once it has ended)"""
    term_sums: np.ndarray
    """[n, len(TERMS)] each reward term summed over the episode, unweighted (zeros for other environments)"""

    @property
    def episode_returns(self) -> np.ndarray:
        return (self.rewards * self.alive).sum(axis=0)

    @property
    def lengths(self) -> np.ndarray:
        return self.alive.sum(axis=0)


@torch.no_grad()
def collect(envs, model: PolicyValueNets, generator: torch.Generator, seeds: list[int], options: dict | None = None) -> Rollout:
    """Play one episode in every environment of `envs`, sampling actions from the policy."""
    obs, _ = envs.reset(seed=seeds, options=options)
    n = envs.num_envs
    alive = np.ones(n, dtype=bool)
    term_sums = np.zeros((n, len(TERMS)))
    buffers: dict[str, list] = {"obs": [], "actions": [], "rewards": [], "alive": []}
    while alive.any():
        o = torch.as_tensor(obs, dtype=torch.float32)
        probs = torch.softmax(model.policy(o), dim=-1)
        actions = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        obs, rewards, terminated, truncated, info = envs.step(actions.numpy())
        for key, value in (("obs", o), ("actions", actions), ("rewards", rewards), ("alive", alive.copy())):
            buffers[key].append(value)
        if "terms" in info:
            term_sums += np.where(alive[:, None], info["terms"], 0.0)
        alive &= ~(terminated | truncated)  # after its end an env auto-resets; those steps are masked out
    return Rollout(torch.stack(buffers["obs"]), torch.stack(buffers["actions"]), np.stack(buffers["rewards"]),
                   np.stack(buffers["alive"]), term_sums)


def discounted_returns(rewards: np.ndarray, alive: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1} within each episode, zero outside it; shapes [T, n]."""
    out = np.zeros_like(rewards)
    following = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        following = np.where(alive[t], rewards[t] + gamma * following, 0.0)
        out[t] = following
    return out


def reinforce_loss(model: PolicyValueNets, rollout: Rollout, cfg: PolicyTrainConfig) -> tuple[torch.Tensor, dict]:
    """The REINFORCE-with-baseline loss over every step of the rollout, and its parts for logging."""
    mask = torch.as_tensor(rollout.alive)
    obs, actions = rollout.obs[mask], rollout.actions[mask]
    returns = torch.as_tensor(discounted_returns(rollout.rewards, rollout.alive, cfg.gamma), dtype=torch.float32)[mask]
    dist = model.distribution(obs)
    values = model.state_value(obs)
    advantages = returns - values.detach()
    if cfg.normalize_advantages and len(advantages) > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std(correction=0) + 1e-8)
    policy_loss = -(dist.log_prob(actions) * advantages).mean()
    value_loss = 0.5 * (values - returns).pow(2).mean()
    entropy = dist.entropy().mean()
    loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
    # Share of the returns' variance the baseline explains: near 0 it removes little variance, 1 is a perfect baseline.
    explained = 1.0 - (returns - values.detach()).var(correction=0) / returns.var(correction=0).clamp_min(1e-12)
    return loss, {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item(),
                  "explained_variance": explained.item()}


def update_step(model: PolicyValueNets, optimizer: torch.optim.Optimizer, rollout: Rollout, cfg: PolicyTrainConfig,
                grad_clip: float = 0.0) -> dict:
    """One gradient step on the rollout's REINFORCE loss; returns the loss parts and the gradient norm."""
    loss, parts = reinforce_loss(model, rollout, cfg)
    if not np.isfinite(loss.item()):
        raise TrainingFailed(f"policy-gradient loss became {loss.item()}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip or float("inf")).item()
    if not np.isfinite(grad_norm):
        raise TrainingFailed(f"gradient norm became {grad_norm}")
    optimizer.step()
    if not all(torch.isfinite(p).all() for p in model.parameters()):  # the next rollout would sample from NaN
        raise TrainingFailed("the policy's parameters became non-finite after the update")
    return {**parts, "grad_norm": grad_norm}


def training_seeds(seed: int, update: int, n: int) -> list[int]:
    """Seeds of update `update`'s price paths: a function of (seed, update) alone, so resuming needs no env state."""
    return np.random.SeedSequence([seed, update]).generate_state(n).tolist()


def greedy_policy(model: PolicyValueNets) -> scenarios.Policy:
    return lambda obs: model.greedy(torch.as_tensor(obs, dtype=torch.float32)).numpy()


# --- the training loop ----------------------------------------------------------------------

def checkpoint_state(update: int, model: nn.Module, optimizer: torch.optim.Optimizer, actions: torch.Generator,
                     elapsed_s: float = 0.0) -> dict:
    """Everything the next update depends on; `train(..., resume=this)` continues from it exactly."""
    return {"engine": "policy_gradient", "step": update, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "action_rng": actions.get_state(), "rng": seeding.capture_rng(), "elapsed_s": elapsed_s}


def _episode_metrics(cfg: PolicyExperiment, rollout: Rollout) -> dict:
    returns = rollout.episode_returns
    sums = rollout.term_sums
    weighted = {f"term_{name}": float((cfg.reward.terms[name] * sums[:, TERMS.index(name)]).mean())
                for name in TERMS if name in cfg.reward.terms}
    q10, median, q90 = np.quantile(returns, [0.1, 0.5, 0.9]).tolist()
    return {
        "return_mean": float(returns.mean()), "return_median": median, "return_std": float(returns.std()),
        "return_q10": q10, "return_q90": q90, "episode_length": float(rollout.lengths.mean()),
        "pnl_pct": float((sums[:, TERMS.index("pnl")] + sums[:, TERMS.index("transaction_cost")]).mean()),
        **weighted,
    }


def _evaluation_metrics(results: dict) -> dict:
    per_scenario = {name: float(by_policy[scenarios.AGENT].returns.mean()) for name, by_policy in results.items()}
    return {"eval_return": float(np.mean(list(per_scenario.values()))),
            **{f"eval_return_{name}": value for name, value in per_scenario.items()}}


@dataclass
class _Training:
    """The pieces of one policy-gradient run, put together once; `update` runs one update and what follows it."""

    cfg: PolicyExperiment
    model: PolicyValueNets
    run: Run
    optimizer: torch.optim.Optimizer
    actions: torch.Generator
    """the action-sampling generator (its own stream, so evaluation never shifts the sampled actions)"""
    metrics: MetricsLog
    envs: object
    progress: Progress

    def update(self, update: int) -> None:
        cfg, tc = self.cfg, self.cfg.train
        t0 = time.perf_counter()
        lr = lr_at(cfg.optim, update, tc.iterations)
        set_lr(self.optimizer, lr)
        rollout = collect(self.envs, self.model, self.actions, training_seeds(cfg.seed, update, tc.episodes))
        try:
            parts = update_step(self.model, self.optimizer, rollout, tc, cfg.optim.grad_clip)
        except TrainingFailed as e:
            self.metrics.flush()  # the curves up to the failure, for the run page
            raise TrainingFailed(f"{e} at update {update + 1}", update + 1) from None
        done, seconds = update + 1, time.perf_counter() - t0
        episode = _episode_metrics(cfg, rollout)
        self.metrics.log(done, **episode, **parts, lr=lr, env_steps=int(rollout.lengths.sum()),
                         steps_per_s=float(rollout.lengths.sum() / max(seconds, 1e-9)))
        if done % tc.eval_interval == 0 or done == tc.iterations:
            evaluation = _evaluation_metrics(scenarios.evaluate(cfg, greedy_policy(self.model), baselines=False))
            self.metrics.log(done, **evaluation)
            self.progress.write(f"{cfg.name} update {done}: eval return {evaluation['eval_return']:.3f}")
        saved = (tc.checkpoint_interval and done % tc.checkpoint_interval == 0) or done == tc.iterations
        if saved:
            self.save(done)
        self.progress.update(done, ret=episode["return_mean"], entropy=parts["entropy"])
        signal_name = stopping.requested() if done < tc.iterations else None
        if signal_name:
            if not saved:
                self.save(done)
            raise stopping.StopRequested(f"stopped by {signal_name} after update {done}, with a checkpoint there", done)

    def save(self, done: int) -> None:
        """metrics.jsonl and the checkpoint together, so the rows on disk always match a resumable state."""
        self.metrics.flush()
        state = checkpoint_state(done, self.model, self.optimizer, self.actions, self.run.elapsed_s())
        checkpoint.save(self.run.file(layout.CHECKPOINT), state)


def train(p: Prepared, run: Run, resume: dict | None = None) -> dict:
    """Train for cfg.train.iterations updates (continuing after `resume`'s if given); return the final metrics."""
    cfg, model, tc = p.cfg, p.model, p.cfg.train
    optimizer = make_optimizer(model, cfg.optim)
    actions = seeding.generator(cfg.seed + 1)
    metrics, start = MetricsLog(run.file(layout.METRICS), planned=tc.iterations, unit="update"), 0
    if resume is not None:
        start = _restore(resume, model, optimizer, actions)
        metrics = MetricsLog.resume(run.file(layout.METRICS), start, planned=tc.iterations, unit="update")
    training = _Training(cfg, model, run, optimizer, actions, metrics, scenarios.make_envs(cfg, tc.episodes),
                         Progress(tc.iterations, start, cfg.name, tc.log_interval))
    try:
        for update in range(start, tc.iterations):
            training.update(update)
    finally:
        training.progress.close()
        training.envs.close()
    return _finish(cfg, model, metrics.rows, run)


def _restore(state: dict, model: nn.Module, optimizer: torch.optim.Optimizer, actions: torch.Generator) -> int:
    if state.get("engine") != "policy_gradient":
        raise checkpoint.CheckpointError("not a policy-gradient checkpoint (it has no 'engine': 'policy_gradient')")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    actions.set_state(state["action_rng"])
    seeding.restore_rng(state["rng"])
    return int(state["step"])


def _finish(cfg: PolicyExperiment, model: PolicyValueNets, rows: list[dict], run: Run) -> dict:
    """The final evaluation against the baselines: its table, traces and figures, and the run's final metrics."""
    results = scenarios.evaluate(cfg, greedy_policy(model))
    run.write_json(layout.SCENARIOS, scenarios.summary(cfg, results))
    run.write_json(layout.BEHAVIOUR, scenarios.behaviour(cfg, results))
    for scenario in cfg.eval.scenarios:
        doc = scenarios.trace_document(cfg, scenario, results[scenario.name])
        run.write_text(layout.trace_file(scenario.name), scenarios.dumps_trace(doc))
    _figures(cfg, rows, results, run)

    def mean_over_scenarios(policy: str, what: str = "returns") -> float:
        return float(np.mean([getattr(by_policy[policy], what).mean() for by_policy in results.values()]))

    agent, random = (np.concatenate([r[name].returns for r in results.values()]) for name in (scenarios.AGENT, "random"))
    return {
        "eval_return": mean_over_scenarios(scenarios.AGENT),
        **{f"eval_return_{b}": mean_over_scenarios(b) for b in scenarios.BASELINES},
        "eval_pnl_pct": mean_over_scenarios(scenarios.AGENT, "pnl"),
        "eval_beats_random": float((agent > random).mean()),
        "train_return": next(r["return_mean"] for r in reversed(rows) if "return_mean" in r),
        "iterations": cfg.train.iterations,
        "env_steps": int(sum(r.get("env_steps", 0) for r in rows)),
        "steps_per_s": float(np.median([r["steps_per_s"] for r in rows if "steps_per_s" in r])),
        "params": sum(p.numel() for p in model.parameters()),
    }


def _figures(cfg: PolicyExperiment, rows: list[dict], results: dict, run: Run) -> None:
    baselines = {b: float(np.mean([r[b].returns.mean() for r in results.values()])) for b in scenarios.BASELINES}
    figures.learning_curve(rows, baselines, run.file("learning_curve.png"), f"{cfg.name}: return per episode")
    run.add_figure("learning_curve.png", "Learning curve",
                   "Training return per episode (line: mean over the batch; band: 10th to 90th percentile) and the greedy "
                   "policy's mean return on the evaluation scenarios, with the baselines' evaluation returns as dashed lines.",
                   series=("return_mean", "eval_return"))
    figures.reward_terms(rows, list(cfg.reward.terms), run.file("reward_terms.png"), f"{cfg.name}: what the agent was paid for")
    run.add_figure("reward_terms.png", "Reward terms",
                   "Each weighted reward term summed over an episode, averaged over the batch: the parts the return is made of.",
                   series=tuple(f"term_{name}" for name in cfg.reward.terms))
    n_actions = len(cfg.market.actions)
    figures.diagnostics(rows, run.file("diagnostics.png"), f"{cfg.name}: policy entropy and value loss", n_actions)
    run.add_figure("diagnostics.png", "Policy entropy and value loss",
                   f"Entropy of the action distribution (log {n_actions} is uniform over the {n_actions} actions; it falls as "
                   "the policy commits) and the value baseline's regression loss.", series=("entropy", "value_loss"))
    behaviour = scenarios.behaviour(cfg, results)
    figures.behaviour_figure(behaviour, run.file("behaviour.png"), f"{cfg.name}: what the agent does by market regime")
    run.add_figure("behaviour.png", "Behaviour by market regime",
                   f"Share of steps the greedy agent spent short, flat or long in each regime, over every evaluation path "
                   "of every scenario, with its average position and turnover (mean |change of position| per step).")
    for scenario in cfg.eval.scenarios:
        name = f"scenario-{scenario.name}.png"
        doc = scenarios.trace_document(cfg, scenario, results[scenario.name])
        figures.scenario_figure(doc, run.file(name), f"{cfg.name}: scenario {scenario.name} (seed {scenario.seed})")
        run.add_figure(name, f"Scenario: {scenario.name}",
                       f"First price path of scenario {scenario.name}, shaded by the agent's position (green long, red short), "
                       "with the cumulative net P&L of the agent and the baselines below.")


# --- replay ---------------------------------------------------------------------------------

def replay(run_dir: Path, names: list[str] | None = None) -> list[tuple[str, str | None]]:
    """Replay scenarios from a run folder (its config and checkpoint) and compare each with its recorded trace.

    Returns (scenario, None) for a bit-exact match, or (scenario, where the first difference is).
    """
    source = str(run_dir / layout.CONFIG)
    cfg = experiments.from_dict(yaml.safe_load((run_dir / layout.CONFIG).read_text()), source)
    known = [s.name for s in cfg.eval.scenarios]
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise UsageError("command line", "--scenario", f"no scenario {unknown[0]!r} in this run{did_you_mean(unknown[0], known)}; it has {', '.join(known)}")
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    p = prepare(cfg, source)
    p.model.load_state_dict(checkpoint.load(run_dir / layout.CHECKPOINT)["model"])
    selected = [s for s in cfg.eval.scenarios if not names or s.name in names]
    results = scenarios.evaluate(cfg, greedy_policy(p.model), selected)
    outcomes = []
    for scenario in selected:
        replayed = scenarios.trace_document(cfg, scenario, results[scenario.name])
        try:
            recorded = json.loads((run_dir / layout.trace_file(scenario.name)).read_text())
        except (OSError, ValueError) as e:
            outcomes.append((scenario.name, f"no readable recorded trace {layout.trace_file(scenario.name)} ({e})"))
            continue
        outcomes.append((scenario.name, scenarios.first_difference(recorded, json.loads(scenarios.dumps_trace(replayed)))))
    return outcomes
