"""The shared LM loop: accumulation is exact, tokens_per_step is checked, and tasks can bring their own
backward pass, optimiser and step observers."""
from __future__ import annotations

import copy

import pytest
import torch

from trainer.errors import ConfigError
from trainer.loop import lm
from trainer.loop.optim import make_optimizer
from trainer.models.gpt import GPT
from trainer.schemas.common import OptimConfig
from trainer.schemas.gpt import GPTExperiment, GPTModelConfig
from trainer.tracking.run import Run

CFG = GPTModelConfig(n_layer=2, n_head=2, n_embd=16, block_size=8)


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


class Recorder(lm.StepObserver):
    def __init__(self, model):
        self.model, self.calls, self.norms = model, [], []

    def wants(self, step, steps):
        return step in (1, steps)

    def before_forward(self, step):
        self.calls.append(("before_forward", step))

    def after_backward(self, step, batch, loss, lr):
        self.calls.append(("after_backward", step, tuple(batch[0].shape), lr > 0))
        self.norms.append(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in self.model.parameters()])).item())

    def after_update(self, step):
        self.calls.append(("after_update", step))

    def finish(self):
        self.calls.append(("finish",))


def test_a_task_can_bring_its_own_backward_optimiser_and_observers(tmp_path):
    torch.manual_seed(0)
    stream = torch.randint(0, 11, (500,))
    model = GPT(CFG, 11)
    cfg = GPTExperiment(name="loop", model=CFG)
    cfg.train.steps, cfg.train.batch_size, cfg.train.tokens_per_step, cfg.train.eval_interval = 4, 2, 2 * 2 * 8, 4
    cfg.optim.grad_clip = 1e-3  # every real gradient is larger: observers must see it before clipping
    backward_calls = []

    def backward(loss):
        backward_calls.append(loss.item())
        loss.backward()

    def windows(ix):
        chunk = torch.stack([stream[i:i + 9] for i in ix.tolist()])
        return chunk[:, :-1], chunk[:, 1:]

    recorder = Recorder(model)
    task = lm.LMTask(model, len(stream) - 9, windows, lambda split: [windows(torch.arange(4))],
                     tokens_per_example=8, final_splits=("val",), backward=backward, observers=[recorder],
                     make_optimizer=lambda m, optim: torch.optim.SGD(m.parameters(), lr=optim.lr))
    run = Run.create(tmp_path, experiment="loop", config={}, config_sha256="0" * 64, config_yaml="", source="test",
                     overrides=[], seeds={}, data={})
    metrics = lm.train(cfg, task, run)

    assert len(backward_calls) == 4 * 2  # two micro-batches per step
    assert recorder.calls == [("before_forward", 1), ("after_backward", 1, (4, 8), True), ("after_update", 1),
                              ("before_forward", 4), ("after_backward", 4, (4, 8), True), ("after_update", 4), ("finish",)]
    assert min(recorder.norms) > 1e-3
    assert metrics["tokens_per_step"] == 32 and "val_loss" in metrics
