"""Introspection statistics match values worked out by hand on tiny fixed networks, and recording
them never changes training."""
from __future__ import annotations

import json
import math
import statistics
from collections import OrderedDict

import pytest
import torch
from torch import nn

from trainer.figures import parallel
from trainer.introspect.recorder import Introspector
from trainer.introspect.stats import attention_entropy
from trainer.models.gpt import GPT
from trainer.schemas.common import IntrospectConfig
from trainer.schemas.gpt import GPTModelConfig
from tests.test_training import model_metrics
from trainer.tracking.run import Run
from tests.conftest import train

LR = 0.1


def make_run(tmp_path) -> Run:
    return Run.create(tmp_path / "runs", experiment="tiny", config={}, config_sha256="0", config_yaml="", source="test",
                      overrides=[], seeds={}, data={})


def record_one_step(model, x, loss_of, run, uniform_loss=1.0, tolerance=0.1) -> Introspector:
    """One SGD step of `model` on `x`, recorded by an Introspector as step 1 of 1."""
    intro = Introspector(model, IntrospectConfig(interval=1, bins=4, init_loss_tolerance=tolerance), run, uniform_loss, "tiny")
    assert intro.wants(1, 1)
    intro.before_forward(1)
    loss = loss_of(model(x))
    loss.backward()
    intro.after_backward(1, (x, None), loss, LR)
    with torch.no_grad():
        for p in model.parameters():
            p -= LR * p.grad
    intro.after_update(1)
    return intro


def tanh_network():
    """x = one-hot rows, so the pre-activations are the columns of W: [0, 3, 5] and [0, -4, 6]."""
    model = nn.Sequential(OrderedDict(lin=nn.Linear(2, 3, bias=False), act=nn.Tanh()))
    with torch.no_grad():
        model.lin.weight.copy_(torch.tensor([[0.0, 0.0], [3.0, -4.0], [5.0, 6.0]]))
    return model, torch.eye(2)


C = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
"""loss = sum(C * tanh outputs), so the gradient of the outputs is C itself"""


def test_activation_gradient_and_update_statistics_match_hand_computed_values(tmp_path):
    model, x = tanh_network()
    intro = record_one_step(model, x, lambda out: (out * torch.tensor(C)).sum(), make_run(tmp_path))
    snap = intro.snapshots[0]

    pre = [[0.0, 3.0, 5.0], [0.0, -4.0, 6.0]]
    out = [[math.tanh(v) for v in row] for row in pre]
    flat = [v for row in out for v in row]
    act = snap["layers"]["act"]
    assert act["mean"] == pytest.approx(statistics.mean(flat), rel=1e-5)
    assert act["std"] == pytest.approx(statistics.stdev(flat), rel=1e-5)
    assert act["saturated"] == pytest.approx(4 / 6, rel=1e-5)  # every value but the two zeros
    assert act["dead"] == pytest.approx(2 / 3, rel=1e-5)  # units 2 and 3 are saturated for both examples
    grads = [v for row in C for v in row]
    assert act["grad_mean"] == pytest.approx(3.5) and act["grad_std"] == pytest.approx(statistics.stdev(grads), rel=1e-5)
    assert act["grad_to_data"] == pytest.approx(statistics.stdev(grads) / statistics.stdev(flat), rel=1e-5)

    # dL/dW[j][k] = C[k][j] * (1 - tanh(pre[k][j])^2), since example k is the one-hot e_k
    weights = [0.0, 0.0, 3.0, -4.0, 5.0, 6.0]
    w_grad = [C[k][j] * (1 - out[k][j] ** 2) for j in range(3) for k in range(2)]
    w = snap["params"]["lin.weight"]
    assert w["data_std"] == pytest.approx(statistics.stdev(weights), rel=1e-5)
    assert w["grad_mean"] == pytest.approx(statistics.mean(w_grad), rel=1e-4)
    assert w["grad_std"] == pytest.approx(statistics.stdev(w_grad), rel=1e-4)
    assert w["grad_to_data"] == pytest.approx(statistics.stdev(w_grad) / statistics.stdev(weights), rel=1e-4)
    expected_update = math.log10(LR * statistics.stdev(w_grad) / statistics.stdev(weights))
    assert w["update_to_data"] == pytest.approx(expected_update, abs=1e-4)


def test_relu_units_that_never_fire_count_as_dead(tmp_path):
    model = nn.Sequential(OrderedDict(lin=nn.Linear(2, 4, bias=False), act=nn.ReLU()))
    with torch.no_grad():
        model.lin.weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-2.0, 0.0]]))
    intro = record_one_step(model, torch.tensor([[1.0, 2.0], [3.0, 1.0]]), lambda out: out.sum(), make_run(tmp_path))
    act = intro.snapshots[0]["layers"]["act"]
    assert act["dead"] == pytest.approx(2 / 4) and act["saturated"] is None  # units 2 and 4 output 0 for both examples


def test_batchnorm_running_statistics_are_compared_with_the_batch_they_estimate(tmp_path):
    model = nn.Sequential(OrderedDict(norm=nn.BatchNorm1d(2)))
    with torch.no_grad():
        model.norm.running_mean.copy_(torch.tensor([0.5, -1.0]))
        model.norm.running_var.copy_(torch.tensor([2.0, 0.5]))
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])  # batch means 3, 2; unbiased variances 4, 4
    intro = record_one_step(model, x, lambda out: (out * torch.arange(6.0).view(3, 2)).sum(), make_run(tmp_path))
    norm = intro.snapshots[0]["batchnorm"]["norm"]
    assert norm["mean_offset"] == pytest.approx((abs(0.5 - 3) / 2 + abs(-1 - 2) / 2) / 2, rel=1e-5)  # 1.375 batch stds
    assert norm["var_ratio"] == pytest.approx(statistics.median([2 / 4, 0.5 / 4]), rel=1e-5)
    assert norm["mean_offset_noise"] == pytest.approx(math.sqrt(2 / (math.pi * 3)), rel=1e-5)
    channels = intro.channels["layers"]["norm"]  # recorded on the last step, before the forward updated them
    assert channels["running_mean"] == [0.5, -1.0] and channels["batch_var"] == [4.0, 4.0]


def test_attention_entropy_per_head_is_zero_for_one_token_and_log_of_the_visible_count_when_even(tmp_path):
    one_hot = torch.zeros(1, 1, 3, 3)
    one_hot[0, 0, :, 0] = 1  # every query attends to the first token only
    assert attention_entropy(one_hot) == [0.0]
    model = GPT(GPTModelConfig(n_layer=1, n_head=2, n_embd=8, block_size=4), 5)
    with torch.no_grad():
        model.blocks[0].attn.qkv.weight[:16] = 0  # queries and keys all zero: every head spreads evenly
    x = torch.randint(0, 5, (3, 4))
    intro = record_one_step(model, x, lambda out: out[0].square().mean(), make_run(tmp_path))
    even = (math.log(1) + math.log(2) + math.log(3) + math.log(4)) / 4  # query t sees t + 1 tokens
    assert intro.snapshots[0]["attention"]["blocks.0.attn"] == pytest.approx([even, even], rel=1e-5)
    report = intro.report()
    assert report["attention"] == {"window": 4, "uniform_entropy": pytest.approx(even, rel=1e-5),
                                   "layers": {"blocks.0.attn": {"heads": 2}}}
    residual = intro.snapshots[0]["layers"]["blocks.0"]  # the block's output: the residual stream after it
    assert report["layers"]["blocks.0"]["kind"] == "residual" and residual["std"] > 0 and residual["grad_std"] > 0


@pytest.mark.parametrize("first_loss, uniform, flagged", [(3.30, 3.2958, False), (27.0, 3.2958, True), (2.0, 3.2958, True)])
def test_initial_loss_far_from_uniform_prediction_is_flagged(tmp_path, first_loss, uniform, flagged):
    model, x = tanh_network()
    intro = record_one_step(model, x, lambda out: out.sum() * 0 + first_loss, make_run(tmp_path), uniform_loss=uniform)
    init = intro.report()["init"]
    assert init["flagged"] is flagged and init["loss"] == pytest.approx(first_loss)
    assert init["relative_gap"] == pytest.approx((first_loss - uniform) / uniform, rel=1e-4)


def test_finish_writes_the_report_and_registers_figures_with_captions(tmp_path):
    model, x = tanh_network()
    run = make_run(tmp_path)
    recorder = record_one_step(model, x, lambda out: out.sum(), run)
    recorder.finish()
    recorder.finished()
    report = json.loads(run.file("introspection.json").read_text())
    assert [s["step"] for s in report["snapshots"]] == [1] and report["layers"] == {"act": {"kind": "tanh", "type": "Tanh"}}
    figures = {f["file"]: f for f in run.record["figures"]}
    assert set(figures) == {"activations.png", "gradients.png", "update_ratio.png", "saturation.png"}  # no BatchNorm here
    assert all(run.file(name).stat().st_size > 1000 and "Healthy" in f["caption"] for name, f in figures.items())


def test_figures_drawn_beside_the_run_are_the_bytes_drawn_in_place(tmp_path, monkeypatch):
    model, x = tanh_network()
    run = make_run(tmp_path)
    recorder = record_one_step(model, x, lambda out: out.sum(), run)
    recorder.finish()
    recorder.finished()
    beside = {f["file"]: run.file(f["file"]).read_bytes() for f in run.record["figures"]}
    monkeypatch.setattr(parallel.multiprocessing, "get_all_start_methods", lambda: ["spawn"])  # no fork: drawn in place
    run.record["figures"] = []
    recorder.finish()
    recorder.finished()
    assert {f["file"]: run.file(f["file"]).read_bytes() for f in run.record["figures"]} == beside


def test_a_figure_that_fails_in_the_background_fails_loudly():
    drawing = parallel.Drawing(lambda: 1 / 0)
    with pytest.raises(RuntimeError, match="drawing figures failed: ZeroDivisionError"):
        drawing.result()


@pytest.mark.slow
def test_introspection_never_changes_training(tiny_runs, tmp_path):
    (recorded,) = [p for p in tiny_runs.iterdir() if p.is_dir()]
    plain = train(tmp_path / "runs", "introspect.interval=0")
    assert not (plain / "introspection.json").exists() and (recorded / "introspection.json").exists()
    assert model_metrics(plain) == model_metrics(recorded)  # metrics.jsonl without the machine's timings
    for name in ("samples.txt", "embeddings.json"):
        assert (plain / name).read_bytes() == (recorded / name).read_bytes(), name
