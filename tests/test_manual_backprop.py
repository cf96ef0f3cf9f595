"""Manual backprop: hand-written gradients agree with autograd, training agrees step by step, and a
wrong backward pass fails the run naming the tensor where it goes wrong."""
from __future__ import annotations

import json
import re

import pytest
import torch

from trainer import cli, commands, experiments
from trainer.errors import ConfigError
from trainer.engines.gradcheck import compare
from trainer.engines.manual_sgd import ManualSGD
from trainer.loop.optim import lr_at
from trainer.models import mlp_manual
from trainer.models.mlp import CharMLP
from trainer.models.mlp_manual import ManualCharMLP
from tests.conftest import REPO, train
from tests.test_site import build_site

MANUAL = "experiments/names-mlp-manual.yaml"
CHECKS = ["model.grad_check_interval=100", "introspect.interval=100"]
INTROSPECTION_FIGURES = {"activations.png", "gradients.png", "update_ratio.png", "saturation.png", "batchnorm.png"}


@pytest.fixture(scope="session")
def manual_run(tmp_path_factory):
    """One tiny names-mlp-manual run (same TINY settings as the session's names-mlp run)."""
    return train(tmp_path_factory.mktemp("manual-runs"), *CHECKS, experiment=MANUAL)


def test_manual_sgd_takes_exactly_the_steps_of_torch_sgd():
    torch.manual_seed(0)
    reference = [torch.nn.Parameter(torch.randn(5, 4)), torch.nn.Parameter(torch.randn(4))]
    mine = [torch.nn.Parameter(p.detach().clone(), requires_grad=False) for p in reference]
    torch_sgd = torch.optim.SGD(reference, lr=0.1, momentum=0.9, weight_decay=0.01)
    manual_sgd = ManualSGD(mine, lr=0.1, momentum=0.9, weight_decay=0.01)
    for step in range(5):
        for a, b in zip(reference, mine):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        for opt in (torch_sgd, manual_sgd):
            opt.param_groups[0]["lr"] = 0.1 / (step + 1)
            opt.step()
        assert all(torch.equal(a, b) for a, b in zip(reference, mine)), f"step {step}"


def test_manual_and_autograd_training_agree_step_by_step_with_momentum_and_weight_decay():
    cfg = experiments.load(REPO / MANUAL, ["optim.momentum=0.9", "optim.weight_decay=0.001", "optim.schedule=cosine"])
    torch.manual_seed(cfg.seed)
    auto = CharMLP(cfg.model, 27, 3)
    torch.manual_seed(cfg.seed)
    manual = ManualCharMLP(cfg.model, 27, 3)
    auto_sgd = torch.optim.SGD(auto.parameters(), lr=cfg.optim.lr, momentum=0.9, weight_decay=0.001)
    manual_sgd = ManualSGD(manual.parameters(), lr=cfg.optim.lr, momentum=0.9, weight_decay=0.001)
    batches = torch.Generator().manual_seed(0)
    steps = 60
    for step in range(steps):
        x, y = torch.randint(0, 27, (32, 3), generator=batches), torch.randint(0, 27, (32,), generator=batches)
        for opt in (auto_sgd, manual_sgd):
            opt.param_groups[0]["lr"] = lr_at(cfg.optim, step, steps)
        _, auto_loss = auto(x, y)
        auto_sgd.zero_grad()
        auto_loss.backward()
        auto_sgd.step()
        _, manual_loss = manual(x, y)
        manual.backward()
        manual_sgd.step()
        assert manual_loss.item() == pytest.approx(auto_loss.item(), rel=1e-5), f"loss at step {step + 1}"
        for (name, a), m in zip(auto.state_dict().items(), manual.state_dict().values()):
            assert torch.allclose(a.float(), m.float(), rtol=1e-4, atol=1e-6), f"{name} after step {step + 1}"


def test_manual_run_matches_the_autograd_run_loss_for_loss(tiny_runs, manual_run):
    (auto_run,) = [p for p in tiny_runs.iterdir() if p.is_dir()]
    auto_rows = [json.loads(line) for line in (auto_run / "metrics.jsonl").read_text().splitlines()]
    manual_rows = [json.loads(line) for line in (manual_run / "metrics.jsonl").read_text().splitlines()]
    auto_train = [r["train_loss"] for r in auto_rows if "train_loss" in r]
    manual_train = [r["train_loss"] for r in manual_rows if "train_loss" in r]
    assert len(auto_train) == len(manual_train) == 300  # one row per step
    assert manual_train == pytest.approx(auto_train, rel=1e-5)
    auto_metrics = json.loads((auto_run / "run.json").read_text())["metrics"]
    manual_metrics = json.loads((manual_run / "run.json").read_text())["metrics"]
    for key in ("train_loss", "val_loss", "test_loss"):
        assert manual_metrics[key] == pytest.approx(auto_metrics[key], rel=1e-5), key


def test_manual_run_records_a_passing_gradient_check_for_every_tensor(manual_run):
    report = json.loads((manual_run / "gradcheck.json").read_text())
    assert report["ok"] and [c["step"] for c in report["checks"]] == [1, 100, 200, 300]
    expected = ["logits", "out.weight", "out.bias", "h", "hnorm", "norm.weight", "norm.bias", "hpre", "hidden.weight",
                "emb", "embedding.weight"]
    for check in report["checks"]:
        assert [t["tensor"] for t in check["tensors"]] == expected
        assert all(t["close"] and t["max_abs_diff"] < 1e-6 for t in check["tensors"]), check["step"]
    shapes = {t["tensor"]: t["shape"] for t in report["checks"][-1]["tensors"]}
    assert shapes["hidden.weight"] == [200, 5 * 24] and shapes["emb"] == [256, 5, 24]  # batch, context, n_embd
    record = json.loads((manual_run / "run.json").read_text())
    assert record["status"] == "ok" and "gradcheck.json" in record["artifacts"]
    assert INTROSPECTION_FIGURES <= {f["file"] for f in record["figures"]}


def tanh_slope_without_the_square(self, dout):
    self.output_grad = dout
    return (1 - self.out) * dout  # should be 1 - out**2


def batchnorm_without_the_means_path(self, dout):
    self.output_grad = dout
    self.weight.grad = (dout * self.xhat).sum(0)
    self.bias.grad = dout.sum(0)
    dxhat = dout * self.weight
    return self.inv_std * (dxhat - self.xhat * (dxhat * self.xhat).mean(0))  # missing: - dxhat.mean(0)


def linear_with_the_bias_gradient_averaged(self, dout):
    dx = CORRECT_LINEAR_BACKWARD(self, dout)
    if self.bias is not None:
        self.bias.grad = dout.mean(0)  # should be summed over the batch
    return dx


CORRECT_LINEAR_BACKWARD = mlp_manual.Linear.backward
WRONG_BACKWARDS = {  # layer class, wrong backward, the first tensor (from the loss back) that it corrupts
    "tanh": (mlp_manual.Tanh, tanh_slope_without_the_square, "hnorm"),
    "batchnorm": (mlp_manual.BatchNorm1d, batchnorm_without_the_means_path, "hpre"),
    "linear": (mlp_manual.Linear, linear_with_the_bias_gradient_averaged, "out.bias"),
}


@pytest.mark.parametrize("case", sorted(WRONG_BACKWARDS))
def test_wrong_backward_fails_the_run_naming_the_tensor(case, tmp_path, monkeypatch, capsys):
    layer, wrong, tensor = WRONG_BACKWARDS[case]
    monkeypatch.setattr(layer, "backward", wrong)
    runs = tmp_path / "runs"
    code = cli.main(["run", str(REPO / MANUAL), "train.steps=50", "sample.count=0", "--runs-dir", str(runs)])
    assert code == commands.EXIT_FAILED
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed"
    assert re.match(rf"gradient check failed at step 1: {re.escape(tensor)} differs from autograd", record["reason"])
    assert "gradient check failed at step 1" in capsys.readouterr().err
    report = json.loads((run / "gradcheck.json").read_text())
    rows = {t["tensor"]: t for t in report["checks"][-1]["tensors"]}
    assert not report["ok"] and not rows[tensor]["close"] and rows["logits"]["close"]


def test_compare_reports_exact_close_and_max_difference():
    a = torch.tensor([1.0, 2.0, 3.0])
    same = compare("a", a.clone(), a, 1e-5, 1e-8)
    assert same == {"tensor": "a", "shape": [3], "exact": True, "close": True, "max_abs_diff": 0.0}
    nudged = compare("a", a + torch.tensor([0.0, 1e-6, 0.0]), a, 1e-5, 1e-8)
    assert (nudged["exact"], nudged["close"]) == (False, True) and nudged["max_abs_diff"] == pytest.approx(1e-6, rel=0.1)
    off = compare("a", a + 0.1, a, 1e-5, 1e-8)
    assert (off["exact"], off["close"]) == (False, False) and off["max_abs_diff"] == pytest.approx(0.1)
    broadcastable = compare("a", a.view(1, 3), a, 1e-5, 1e-8)  # same values, wrong shape: never "close"
    assert not broadcastable["close"] and "shape [1, 3]" in broadcastable["problem"]
    assert compare("a", None, a, 1e-5, 1e-8)["problem"].startswith("not computed")


def test_manual_backprop_refuses_an_optimiser_it_does_not_implement():
    with pytest.raises(ConfigError) as e:
        experiments.load(REPO / MANUAL, ["optim.name=adamw"])
    assert e.value.key == "optim.name" and "hand-written SGD" in str(e.value)


def test_run_page_shows_the_gradient_check_table_and_introspection(manual_run, tmp_path):
    public = build_site(manual_run.parent, tmp_path)
    html = (public / "runs" / manual_run.name / "index.html").read_text()
    assert re.search(r"<h2[^>]*>Gradient check</h2>", html) and re.search(r"<h2[^>]*>Introspection</h2>", html)
    header = re.search(r"<th>tensor</th>\s*<th>shape</th>\s*<th>exact</th>\s*<th>close</th>\s*<th>max diff</th>", html)
    assert header
    table = html[header.start():html.index("</table>", header.start())]
    assert len(re.findall(r"<tr>\s*<td><code>", table)) == 11
    assert re.search(r"<td><code>hidden\.weight</code></td>\s*<td>200 × 120</td>\s*<td>(yes|no)</td>\s*<td>yes</td>", table)
    assert "NO" not in table
    for figure in INTROSPECTION_FIGURES:  # each with alt text, and the caption saying what healthy looks like
        assert re.search(rf'<img src="{figure}" alt="[^"]+"[^>]*>\s*<figcaption>[^<]*Healthy', html), figure


def test_sections_show_values_from_the_run_folder_literally(tmp_path):
    from generators.runs import RunView
    from generators.sections import gradcheck, introspection

    hostile = "<script>x</script>|{{< y >}}"
    row = {"tensor": hostile, "shape": [2], "exact": False, "close": True, "max_abs_diff": 1e-9}
    (tmp_path / "gradcheck.json").write_text(json.dumps({"rtol": 1e-4, "atol": 1e-7, "interval": 1, "ok": True, "checks": [
        {"step": 1, "loss": 3.3, "autograd_loss": 3.3, "ok": True, "tensors": [row]}]}))
    snapshot = {"step": 1, "lr": 0.1, "loss": 3.3, "batchnorm": {},
                "layers": {hostile: {"mean": 0.0, "std": 0.5, "saturated": 0.01, "dead": 0.0}}, "params": {}}
    (tmp_path / "introspection.json").write_text(json.dumps({
        "interval": 1, "saturation": 0.97, "bins": 4, "snapshots": [snapshot], "histograms": [], "batchnorm": {},
        "init": {"loss": 3.3, "uniform_loss": 3.2958, "tolerance": 0.1, "relative_gap": 0.001, "flagged": False},
        "layers": {hostile: {"kind": "tanh", "type": "Tanh"}}, "params": {}, "batchnorm_channels": {}}))
    run = RunView(id="x", folder=tmp_path, record={})
    for text in (gradcheck.build(run), introspection.build(run)):
        assert "<script>" not in text and "{{<" not in text and "|{" not in text
        assert "&lt;script&gt;" in text or "&#60;script&#62;" in text
