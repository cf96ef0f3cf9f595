"""The policy and value nets of a policy-gradient agent: two separate tanh MLPs over the same observation.

Separate nets (no shared trunk) keep the value regression from pulling on the policy's features,
the usual choice for small on-policy agents. Initialisation follows common practice for them:
orthogonal weights with gain sqrt(2) in hidden layers, a tiny policy head (gain 0.01) so the first
policy is close to uniform and explores, and gain 1 for the value head.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Categorical

from ..schemas.policy import PolicyModelConfig


def _mlp(sizes: list[int], out_features: int, out_gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [_init(nn.Linear(fan_in, fan_out), math.sqrt(2)), nn.Tanh()]
    layers.append(_init(nn.Linear(sizes[-1], out_features), out_gain))
    return nn.Sequential(*layers)


def _init(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class PolicyValueNets(nn.Module):
    def __init__(self, cfg: PolicyModelConfig, obs_dim: int, n_actions: int):
        super().__init__()
        sizes = [obs_dim, *cfg.hidden]
        self.policy = _mlp(sizes, n_actions, out_gain=0.01)
        self.value = _mlp(sizes, 1, out_gain=1.0)

    def distribution(self, obs: torch.Tensor) -> Categorical:
        """The policy's action distribution for a batch of observations [N, obs_dim]."""
        return Categorical(logits=self.policy(obs))

    def state_value(self, obs: torch.Tensor) -> torch.Tensor:
        """The value net's estimate of the discounted return from each observation, shape [N]."""
        return self.value(obs).squeeze(-1)

    @torch.no_grad()
    def greedy(self, obs: torch.Tensor) -> torch.Tensor:
        """The most probable action per observation: the deterministic policy used for evaluation."""
        return self.policy(obs).argmax(dim=-1)
