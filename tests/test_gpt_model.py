"""The GPT model: its size, causality, initialisation, FLOPs estimate; the loop's accumulation and sampling."""
from __future__ import annotations

import copy
import math

import pytest
import torch

from trainer.config import ConfigError
from trainer.engines import lm
from trainer.engines.optim import make_optimizer
from trainer.evals import sampling
from trainer.models.gpt import GPT
from trainer.schemas import GPTExperiment, GPTModelConfig, OptimConfig

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


def test_vocabulary_is_padded_to_the_requested_multiple():
    model = GPT(GPTModelConfig(n_layer=1, n_head=1, n_embd=8, block_size=4, vocab_multiple=64), 50257)
    assert model.wte.weight.shape[0] == 50304 and model.vocab_size == 50257


def test_accumulating_n_micro_batches_of_one_equals_one_batch_of_n():
    torch.manual_seed(0)
    one, many = GPT(CFG, 11), None
    many = copy.deepcopy(one)
    optim = OptimConfig(name="adamw", lr=1e-2, weight_decay=0.1)
    opt_one, opt_many = make_optimizer(one, optim, fused=True), make_optimizer(many, optim, fused=True)
    for _ in range(2):
        x, y = torch.randint(0, 11, (4, 8)), torch.randint(0, 11, (4, 8))
        a = lm.train_step(one, opt_one, [(x, y)], grad_clip=0.5)
        b = lm.train_step(many, opt_many, [(x[i:i + 1], y[i:i + 1]) for i in range(4)], grad_clip=0.5)
        assert torch.allclose(a.loss, b.loss, atol=1e-6) and torch.allclose(a.grad_norm, b.grad_norm, rtol=1e-5)
    for (name, p), q in zip(one.named_parameters(), many.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name


def test_tokens_per_step_must_be_a_whole_number_of_micro_batches():
    cfg = GPTExperiment(name="x", model=GPTModelConfig())
    cfg.train.tokens_per_step = 3 * 12 * 64
    assert lm.accumulation_steps(cfg, 64, 1, "exp.yaml") == 3
    assert lm.accumulation_steps(cfg, 64, 3, "exp.yaml") == 1
    with pytest.raises(ConfigError, match=r"multiple of .* = 12 x 64 x 2 = 1536, got 2304") as e:
        lm.accumulation_steps(cfg, 64, 2, "exp.yaml")
    assert e.value.key == "train.tokens_per_step"


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

    from trainer import config
    from tests.conftest import REPO

    cfg = config.load(REPO / "experiments" / experiment)
    again = config.from_dict(yaml.safe_load(config.dump_yaml(cfg)), "config.yaml")
    assert dataclasses.asdict(again) == dataclasses.asdict(cfg)
