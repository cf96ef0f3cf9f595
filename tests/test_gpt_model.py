"""The GPT model: its size, causality, initialisation, FLOPs estimate; sampling; its experiment files."""
from __future__ import annotations

import math

import pytest
import torch

from trainer.engines.gpt import initial_model
from trainer.evals import sampling
from trainer.models.gpt import GPT
from trainer.schemas.gpt import GPTExperiment, GPTModelConfig

CFG = GPTModelConfig(n_layer=2, n_head=2, n_embd=16, block_size=8)


def test_parameter_count_matches_the_architecture_with_tied_embeddings():
    V, T, d, L = 11, CFG.block_size, CFG.n_embd, CFG.n_layer
    model = GPT(CFG, V)
    per_block = 12 * d * d + 2 * d  # qkv 3d^2, projection d^2, MLP 8d^2, two LayerNorm gains
    assert model.param_count() == V * d + T * d + L * per_block + d
    assert model.lm_head.weight is model.wte.weight
    assert model.flops_per_token() == 6 * (model.param_count() - T * d) + 12 * L * T * d


def test_logits_never_depend_on_later_tokens():
    torch.manual_seed(0)
    model = GPT(CFG, 11).eval()
    x = torch.randint(0, 11, (1, 8))
    changed = x.clone()
    changed[0, 5:] = (changed[0, 5:] + 1) % 11
    a, _ = model(x)
    b, _ = model(changed)
    assert torch.equal(a[0, :5], b[0, :5]) and not torch.allclose(a[0, 5:], b[0, 5:])


def test_initial_loss_is_close_to_uniform_and_residual_projections_are_scaled_by_depth():
    torch.manual_seed(0)
    cfg = GPTModelConfig(n_layer=8, n_head=4, n_embd=64, block_size=16)
    model = GPT(cfg, 65)
    _, loss = model(torch.randint(0, 65, (16, 16)), torch.randint(0, 65, (16, 16)))
    assert abs(loss.item() - math.log(65)) < 0.05
    proj = torch.cat([b.attn.proj.weight.flatten() for b in model.blocks])
    assert abs(proj.std().item() / (0.02 / math.sqrt(2 * 8)) - 1) < 0.05
    assert abs(model.blocks[0].mlp.up.weight.std().item() / 0.02 - 1) < 0.05


def test_attention_probabilities_are_the_weights_the_fused_kernel_applies():
    """Introspection's entropy per head rests on these: computed again, they must be what scaled_dot_product_attention
    used, so weighting the values by them gives the layer's own output."""
    torch.manual_seed(0)
    attention = GPT(CFG, 11).blocks[1].attn.eval()
    x = torch.randn(3, CFG.block_size, CFG.n_embd)
    weights = attention.probabilities(x)
    _, _, v = attention.heads(x)
    mixed = (weights @ v).transpose(1, 2).reshape(x.shape)
    assert torch.allclose(attention.proj(mixed), attention(x), atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(3, CFG.n_head, CFG.block_size))
    assert torch.all(weights.triu(1) == 0)  # no query sees a later token


def test_the_untrained_baseline_is_the_runs_own_initial_model_and_leaves_the_rng_alone():
    cfg = GPTExperiment(name="tiny", model=CFG, seed=5)
    torch.manual_seed(123)  # whatever state the session left
    first = initial_model(cfg, 11)
    torch.rand(3)  # training draws on
    before = torch.get_rng_state()
    with torch.random.fork_rng(devices=[]):  # as the engine rebuilds it after training
        again = initial_model(cfg, 11)
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))


def test_vocabulary_is_padded_to_the_requested_multiple():
    model = GPT(GPTModelConfig(n_layer=1, n_head=1, n_embd=8, block_size=4, vocab_multiple=64), 50257)
    assert model.wte.weight.shape[0] == 50304 and model.vocab_size == 50257


def test_top_k_1_sampling_is_greedy_and_never_emits_padded_ids():
    torch.manual_seed(0)
    model = GPT(GPTModelConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_multiple=8), 5)
    gen = torch.Generator().manual_seed(0)
    rows = sampling.generate(model, [1, 2], 3, 20, block_size=8, vocab_size=5, generator=gen, top_k=1)
    assert len(rows) == 3 and all(len(r) == 20 for r in rows) and rows[0] == rows[1] == rows[2]
    idx = torch.tensor([[1, 2] + rows[0][:5]])
    assert rows[0][5] == model(idx)[0][0, -1, :5].argmax().item()
    wide = sampling.generate(model, [1], 50, 10, block_size=8, vocab_size=5, generator=gen, temperature=5.0)
    assert max(max(r) for r in wide) < 5


@pytest.mark.parametrize("experiment", ["shakespeare-char-gpt.yaml", "shakespeare-bpe-gpt.yaml", "gpu/gpt2-small.yaml",
                                        "bench/nanogpt-baby.yaml"])
def test_gpt_experiments_round_trip_through_their_resolved_yaml(experiment):
    """`resume` rebuilds the config from the run's config.yaml, so nothing (e.g. a newline prompt) may change."""
    import dataclasses

    import yaml

    from trainer import config, experiments
    from tests.conftest import REPO

    cfg = experiments.load(REPO / "experiments" / experiment)
    again = experiments.from_dict(yaml.safe_load(config.dump_yaml(cfg)), "config.yaml")
    assert dataclasses.asdict(again) == dataclasses.asdict(cfg)
