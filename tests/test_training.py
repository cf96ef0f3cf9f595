"""The names MLP trains for real and leaves a complete, deterministic run folder."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from trainer.tracking import timing
from trainer.loop.optim import lr_at
from trainer.models.mlp import CharMLP
from trainer.schemas.common import OptimConfig
from trainer.schemas.mlp import MLPModelConfig
from trainer.tracking import integrity, ledger
from tests.conftest import REPO, TINY, run_cli

FIGURES = {"loss.png", "lr.png", "grad_norm.png", "throughput.png", "embeddings.png",
           "activations.png", "gradients.png", "update_ratio.png", "saturation.png", "batchnorm.png"}
EXPECTED_FILES = {"run.json", "config.yaml", "metrics.jsonl", "samples.txt", "embeddings.json", "checkpoint.pt", "best.pt", "model.weights.pt",
                  "introspection.json"} | FIGURES


def test_run_folder_holds_every_artifact_and_a_complete_record(tiny_runs):
    (run,) = [p for p in tiny_runs.iterdir() if p.is_dir()]
    assert EXPECTED_FILES <= {p.name for p in run.iterdir()}
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "ok" and record["run_id"] == run.name
    assert set(record["artifacts"]) == EXPECTED_FILES - {"run.json"}
    assert {"val_loss", "test_loss", "train_loss"} <= set(record["metrics"])
    for section in ("config", "config_sha256", "code", "data", "environment", "seeds", "started_at", "ended_at",
                    "duration_s", "trigger", "resumed_from"):
        assert section in record, section
    assert record["data"]["sha256"] and record["data"]["splits"]["train"]["words"] > 70_000
    assert record["environment"]["torch_threads"] >= 1 and record["environment"]["world_size"] == 1
    assert record["seeds"]["seed"] == 1337 and record["seeds"]["data.split_seed"] == 42
    assert {f["file"] for f in record["figures"]} == FIGURES


def test_finished_run_is_sealed_in_the_ledger(tiny_runs):
    entries, problems = integrity.parse(tiny_runs)
    assert problems == [] and len(entries) == 1
    (run,) = [p for p in tiny_runs.iterdir() if p.is_dir()]
    assert entries[0]["run"] == run.name and entries[0]["prev_sha256"] == ledger.GENESIS


def test_samples_are_lowercase_words(tiny_runs):
    (run,) = [p for p in tiny_runs.iterdir() if p.is_dir()]
    samples = (run / "samples.txt").read_text().splitlines()
    assert len(samples) == 5 and all(s.isalpha() and s.islower() or s == "" for s in samples)


def model_metrics(run) -> list[dict]:
    """metrics.jsonl without the columns that time the machine (step time, tokens/s, MFU)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in timing.METRICS} for row in rows]


@pytest.mark.slow
def test_same_config_and_seed_give_bit_identical_runs_alone_or_after_another_run_in_one_process(tmp_path):
    names = str(REPO / "experiments/names-mlp.yaml")
    alone = run_cli("trainer", "run", names, *TINY, runs_dir=tmp_path / "a")  # a process of its own
    assert alone.returncode == 0, alone.stderr
    first = Path(alone.stdout.strip().splitlines()[-1])
    # one command, two runs: the first on one thread, then the same experiment as `first`, which must not inherit it
    result = run_cli("trainer", "run", names, *TINY, "train.steps=20", "train.threads=1", names, *TINY, runs_dir=tmp_path / "b")
    assert result.returncode == 0, result.stderr
    before, second = [Path(line) for line in result.stdout.strip().splitlines()]
    threads = [json.loads((run / "run.json").read_text())["environment"]["torch_threads"] for run in (first, before, second)]
    assert threads == [torch.get_num_threads(), 1, torch.get_num_threads()]
    assert model_metrics(first) == model_metrics(second)
    for name in ("samples.txt", "embeddings.json", "loss.png", "lr.png", "grad_norm.png", "introspection.json", "update_ratio.png"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    a = torch.load(first / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(second / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_runs_dir_flag_and_custom_word_list(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("\n".join(["anna", "bob", "carla", "dave", "emma", "fred", "gina", "hugo", "ivy", "jack", "kim", "leo"]))
    result = run_cli("trainer", "run", str(REPO / "experiments/names-mlp.yaml"), "train.steps=20", "train.eval_interval=10",
                     f"data.path={words}", "--runs-dir", str(tmp_path / "elsewhere"))
    assert result.returncode == 0, result.stderr
    run = tmp_path / "elsewhere" / result.stdout.strip().splitlines()[-1].rsplit("/", 1)[-1]
    record = json.loads((run / "run.json").read_text())
    assert record["data"]["dataset"] == "file" and record["data"]["words"] == 12
    assert record["data"]["vocab_size"] == 1 + len(set("annabobcarladaveemmafredginahugoivyjackkimleo"))


def test_initial_loss_is_close_to_uniform_prediction():
    torch.manual_seed(0)
    model = CharMLP(MLPModelConfig(), vocab_size=27, context=3)
    _, loss = model(torch.randint(0, 27, (512, 3)), torch.randint(0, 27, (512,)))
    assert abs(loss.item() - math.log(27)) < 0.05


def test_batchnorm_uses_running_statistics_in_eval_mode():
    torch.manual_seed(0)
    model = CharMLP(MLPModelConfig(n_hidden=8), vocab_size=5, context=2)
    x = torch.randint(0, 5, (64, 2))
    model.train()
    model(x)  # updates the running statistics
    model.eval()
    single, _ = model(x[:1])
    bn = model.norm
    h = model.hidden(model.embedding(x[:1]).view(1, -1))
    expected = model.out(torch.tanh((h - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias))
    assert torch.allclose(single, expected, atol=1e-6)


def test_learning_rate_schedules():
    steps = 100
    step = OptimConfig(lr=1.0, schedule="step", milestones=[0.5, 0.75], gamma=0.1)
    assert [lr_at(step, s, steps) for s in (0, 49, 50, 74, 75, 99)] == [1.0, 1.0, 0.1, 0.1, 0.1**2, 0.1**2]
    cosine = OptimConfig(lr=1.0, schedule="cosine", warmup_steps=10, min_lr=0.1)
    assert lr_at(cosine, 0, steps) == 0.1 and lr_at(cosine, 9, steps) == 1.0
    assert lr_at(cosine, 10, steps) == 1.0 and math.isclose(lr_at(cosine, 55, steps), 0.55)
    assert math.isclose(lr_at(cosine, 100, steps), 0.1)
