"""`make bench-gpu`: GPT-2 small on one CUDA GPU with bf16 autocast and torch.compile; tokens/s and MFU.

Trains experiments/gpu/gpt2-small.yaml for a few hundred steps through the real CLI and writes what
it measured into benchmarks/gpu/: results.json, results.md, and the run's run.json and
metrics.jsonl (the audit record behind the numbers).

It runs on a bare GPU machine: a plain python3 with torch, numpy, tiktoken, pyyaml, matplotlib,
jinja2 and tqdm, without Trainbook's virtual environment, its data packages or the internet. So the
text and GPT-2's ranks file come from paths:

    python3 -m benchmarks.gpu_bench --text corpus.txt --ranks .cache/gpt2.tiktoken [--steps 300] [key=value ...]

Extra key=value overrides go to the trainer (e.g. `train.device=cpu model.n_layer=1` to check the
script end to end on a machine without a GPU; such a run is labelled as a check, not a result).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from trainer.tracking import layout

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "gpu" / "gpt2-small.yaml"
WARMUP_STEPS = 20  # excluded from the steady-state figures: compilation and allocator warm-up land here


def _overrides(args) -> list[str]:
    return [
        f"data.path={args.text.resolve()}", f"data.gpt2_ranks={args.ranks.resolve()}", f"train.steps={args.steps}",
        f"train.eval_interval={max(1, args.steps // 3)}", "train.eval_batches=10", "train.checkpoint_interval=0",
        "train.keep_best=false", "train.log_interval=25", "eval.examples=200", *args.overrides,
    ]


def _steady(rows: list[dict], key: str, skip: int) -> float | None:
    values = [r[key] for r in rows if key in r and r["step"] > skip]
    return statistics.median(values) if values else None


def summarise(run: Path, wall_s: float, steps: int) -> dict:
    folder = layout.RunFolder.open(run)
    record, rows = folder.record, folder.metric_rows()
    env, m, cfg = record["environment"], record["metrics"], record["config"]
    skip = min(WARMUP_STEPS, steps // 2)
    first = next(r for r in rows if "step_ms" in r)
    return {
        "device": env.get("gpu") or env.get("device"),
        "check_only": env.get("device", "").startswith("cpu"),
        "torch": env["packages"].get("torch"),
        "cuda": env.get("cuda"),
        "python": env.get("python"),
        "model": {k: cfg["model"][k] for k in ("n_layer", "n_head", "n_embd", "block_size", "vocab_multiple")},
        "params": m["params"],
        "precision": cfg["train"]["precision"],
        "compile": cfg["train"]["compile"],
        "steps": steps,
        "tokens_per_step": m["tokens_per_step"],
        "steady_state_from_step": skip + 1,
        "tokens_per_s": _steady(rows, "tokens_per_s", skip),
        "step_ms": _steady(rows, "step_ms", skip),
        "mfu": _steady(rows, "mfu", skip),
        "first_step_ms": first["step_ms"],
        "train_loss": m.get("train_loss"),
        "val_loss": m.get("val_loss"),
        "peak_memory_gib": m.get("peak_memory_gib"),
        "wall_s": round(wall_s, 1),
        "run_id": record["run_id"],
    }


def markdown(r: dict) -> str:
    mfu = "–" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"
    memory = "–" if r["peak_memory_gib"] is None else f"{r['peak_memory_gib']:.1f} GiB"
    title = "GPU benchmark" + (" (CPU check of the script, not a result)" if r["check_only"] else "")
    model = r["model"]
    lines = [
        f"# {title}", "",
        f"GPT-2 small shape ({model['n_layer']} layers, {model['n_head']} heads, {model['n_embd']} wide, "
        f"{model['block_size']} tokens of context; {r['params']:,} parameters), precision {r['precision']}, "
        f"torch.compile {'on' if r['compile'] else 'off'}, on {r['device']} (torch {r['torch']}, CUDA {r['cuda']}, "
        f"Python {r['python']}). Run `{r['run_id']}` (its record is run.json here).", "",
        "| measure | value |", "| --- | --- |",
        f"| tokens/s (median from step {r['steady_state_from_step']}) | {r['tokens_per_s']:,.0f} |",
        f"| MFU (model FLOPs / dense bf16 peak) | {mfu} |",
        f"| step time (median) | {r['step_ms']:.1f} ms |",
        f"| tokens per step | {r['tokens_per_step']:,} |",
        f"| first step (includes compilation) | {r['first_step_ms'] / 1000:.1f} s |",
        f"| peak GPU memory | {memory} |",
        f"| steps | {r['steps']} |",
        f"| train / val loss at the end | {r['train_loss']:.4f} / {r['val_loss']:.4f} |",
        f"| wall time of the whole run | {r['wall_s']:.0f} s |",
        "",
        "Produced by `make bench-gpu` (benchmarks/gpu_bench.py).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.gpu_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--text", type=Path, required=True, help="UTF-8 training text (e.g. tinyshakespeare.txt)")
    p.add_argument("--ranks", type=Path, required=True, help="GPT-2's ranks file gpt2.tiktoken (sha256 306cd27f...)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "gpu", help="folder for the results")
    p.add_argument("--runs-dir", type=Path, default=REPO / "runs")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="more trainer overrides")
    args = p.parse_args(argv)
    for path, what in ((args.text, "--text"), (args.ranks, "--ranks")):
        if not path.is_file():
            p.error(f"{what} {path}: file not found")
    cmd = [sys.executable, "-m", "trainer", "run", "--runs-dir", str(args.runs_dir), str(EXPERIMENT), *_overrides(args)]
    print(f"{platform.node()}: {' '.join(cmd)}", file=sys.stderr)
    t0 = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        print(f"training failed with exit status {result.returncode}", file=sys.stderr)
        return result.returncode
    run = Path(result.stdout.strip().splitlines()[-1])
    summary = summarise(run, time.perf_counter() - t0, args.steps)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(summary))
    for name in (layout.RECORD, layout.METRICS):
        (args.out / name).write_bytes((run / name).read_bytes())
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
