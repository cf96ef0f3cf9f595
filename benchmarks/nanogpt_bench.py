"""`make bench`: Trainbook against nanoGPT's own train.py at nanoGPT's CPU "baby" config, side by side.

Trains experiments/bench/nanogpt-baby.yaml with Trainbook; then, when --nanogpt-dir names a nanoGPT
checkout, the same configuration with nanoGPT's train.py (its README's baby command) on the same
characters, one after the other on this machine. Prints validation loss, median time per iteration,
tokens per second, wall and CPU time, and the ratios.

nanoGPT's code runs from its own checkout and is never copied: this script only writes the data
files its train.py reads (data/shakespeare_char/{train,val}.bin and meta.pkl, built from the same
text split the same way) into a temporary working folder, where links to the checkout's
configurator.py and config/ let train.py find them.

    python -m benchmarks.nanogpt_bench [--nanogpt-dir DIR] [--iters N]

Fewer iterations (--iters) check the machinery quickly; the loss target (<= 1.88) applies to 2000.

Both trainers log an estimate of validation loss from 20 random batches (nanoGPT's eval_iters=20),
which varies by about +-0.02 between seeds of the estimate alone. So the final models are also
scored on the whole validation split, every non-overlapping window of 64 characters, the same
windows for both (nanoGPT's model loaded from its checkout's model.py and its own checkpoint).
"""
from __future__ import annotations

import argparse
import os
import pickle
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "bench" / "nanogpt-baby.yaml"
FULL_ITERS = 2000
TARGET_VAL_LOSS = 1.88  # nanoGPT's README, and 1.8857 measured here (../shared/data/README.md)
BLOCK, BATCH, WARMUP = 64, 12, 100
NANOGPT_BABY = ["--device=cpu", "--compile=False", "--eval_iters=20", "--log_interval=1", f"--block_size={BLOCK}",
                f"--batch_size={BATCH}", "--n_layer=4", "--n_head=4", "--n_embd=128", "--dropout=0.0"]
"""nanoGPT README's CPU command line, after config/train_shakespeare_char.py (iterations set separately)."""


ENV = dict(os.environ)
"""Both trainers' environment: the same for both, with OMP_NUM_THREADS when --threads is given."""


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    wall, cpu = time.perf_counter(), _cpu_seconds()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} ... failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result, time.perf_counter() - wall, _cpu_seconds() - cpu


def _eval_interval(iters: int) -> int:
    """nanoGPT's 250 when it divides the run; else the whole run (nanoGPT evaluates only on multiples of it)."""
    return 250 if iters % 250 == 0 else iters


def full_val_loss(forward, val_ids: np.ndarray) -> float:
    """Mean next-character loss over every non-overlapping BLOCK-long window of the validation split."""
    import torch

    ids = torch.from_numpy(val_ids.astype(np.int64))
    starts = torch.arange(0, len(ids) - BLOCK - 1, BLOCK)
    x = torch.stack([ids[s:s + BLOCK] for s in starts])
    y = torch.stack([ids[s + 1:s + 1 + BLOCK] for s in starts])
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), 256):
            total += forward(x[i:i + 256], y[i:i + 256]).item() * y[i:i + 256].numel()
    return total / y.numel()


def vocabulary_ids(train: str, val: str) -> np.ndarray:
    """The validation text as ids of sorted(set(text)): the vocabulary both trainers build."""
    stoi = {c: i for i, c in enumerate(sorted(set(train + val)))}
    return np.array([stoi[c] for c in val], dtype=np.int64)


def trainbook_full_val(run: Path, val_ids: np.ndarray) -> float:
    import torch

    from trainer import config, experiments
    from trainer.models.gpt import GPT
    from trainer.tracking import layout

    cfg = experiments.from_dict(config.read_yaml(run / layout.CONFIG), str(run / layout.CONFIG))
    state = torch.load(run / layout.CHECKPOINT, map_location="cpu", weights_only=True)["model"]
    model = GPT(cfg.model, _vocab_size(state))
    model.load_state_dict(state)
    model.eval()
    return full_val_loss(lambda x, y: model(x, y)[1], val_ids)


def _vocab_size(state: dict) -> int:
    return next(t.shape[0] for k, t in state.items() if k.endswith("wte.weight"))


def run_trainbook(iters: int, runs_dir: Path) -> dict:
    from trainer.tracking import layout  # as this file's other trainer imports: after bench_text put REPO on sys.path

    overrides = [f"train.steps={iters}", f"train.eval_interval={_eval_interval(iters)}"]
    cmd = [sys.executable, "-m", "trainer", "run", "--runs-dir", str(runs_dir), str(EXPERIMENT), *overrides]
    result, wall, cpu = _timed(cmd, REPO)
    run = Path(result.stdout.strip().splitlines()[-1])
    folder = layout.RunFolder.open(run)
    record, rows = folder.record, folder.metric_rows()
    ms = statistics.median(r["step_ms"] for r in rows if "step_ms" in r)
    m = record["metrics"]
    return {"val_loss": m["val_loss"], "train_loss": m["train_loss"], "ms_per_iter": ms, "tokens_per_s": BATCH * BLOCK * 1000 / ms,
            "wall_s": wall, "cpu_s": cpu, "run": str(run), "threads": record["environment"]["torch_threads"]}


def write_nanogpt_data(folder: Path, train: str, val: str) -> None:
    """nanoGPT's shakespeare_char files: uint16 ids of sorted(set(text)), and the vocabulary in meta.pkl."""
    chars = sorted(set(train + val))
    stoi = {c: i for i, c in enumerate(chars)}
    folder.mkdir(parents=True)
    for name, text in (("train", train), ("val", val)):
        np.array([stoi[c] for c in text], dtype=np.uint16).tofile(folder / f"{name}.bin")
    with open(folder / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)


def nanogpt_full_val(checkout: Path, ckpt: Path, val_ids: np.ndarray) -> float:
    """nanoGPT's final model, built by its own model.py (imported from the checkout, not copied)."""
    import torch

    sys.path.insert(0, str(checkout.resolve()))
    try:
        from model import GPT, GPTConfig
    finally:
        sys.path.pop(0)
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    model = GPT(GPTConfig(**saved["model_args"]))
    model.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in saved["model"].items()})
    model.eval()
    return full_val_loss(lambda x, y: model(x, y)[1], val_ids)


def run_nanogpt(checkout: Path, iters: int, train: str, val: str) -> dict:
    if not (checkout / "train.py").is_file() or not (checkout / "config" / "train_shakespeare_char.py").is_file():
        sys.exit(f"{checkout}: not a nanoGPT checkout (expected train.py and config/train_shakespeare_char.py)")
    with tempfile.TemporaryDirectory(prefix="nanogpt-bench-") as tmp:
        work = Path(tmp)
        write_nanogpt_data(work / "data" / "shakespeare_char", train, val)
        (work / "configurator.py").symlink_to(checkout.resolve() / "configurator.py")
        (work / "config").symlink_to(checkout.resolve() / "config")
        cmd = [sys.executable, str(checkout.resolve() / "train.py"), "config/train_shakespeare_char.py", *NANOGPT_BABY,
               f"--max_iters={iters}", f"--lr_decay_iters={iters}", f"--eval_interval={_eval_interval(iters)}",
               f"--out_dir={work / 'out'}", "--always_save_checkpoint=True"]
        result, wall, cpu = _timed(cmd, work)
        full = nanogpt_full_val(checkout, work / "out" / "ckpt.pt", vocabulary_ids(train, val))
    times = [float(t) for t in re.findall(r"^iter \d+: loss [\d.]+, time ([\d.]+)ms", result.stdout, re.M)]
    evals = re.findall(r"^step (\d+): train loss ([\d.]+), val loss ([\d.]+)", result.stdout, re.M)
    last = [e for e in evals if int(e[0]) == iters]
    if not times or not last:
        sys.exit(f"could not read nanoGPT's output:\n{result.stdout[-2000:]}")
    ms = statistics.median(times[1:])  # iteration 0 includes the first evaluation
    return {"val_loss": float(last[0][2]), "train_loss": float(last[0][1]), "ms_per_iter": ms,
            "tokens_per_s": BATCH * BLOCK * 1000 / ms, "wall_s": wall, "cpu_s": cpu, "full_val_loss": full}


def bench_text() -> tuple[str, str, str]:
    """The experiment's own train/val text (path, else the verified download), and where it came from."""
    sys.path.insert(0, str(REPO))
    from trainer import experiments
    from trainer.data import text

    cfg = experiments.load(EXPERIMENT)
    corpus = text.load(cfg.data, str(EXPERIMENT))
    return corpus.splits["train"], corpus.splits["val"], f"{corpus.record['source']} (sha256 {corpus.record['sha256'][:12]}…)"


def report(iters: int, source: str, ours: dict, theirs: dict | None) -> str:
    rows = [("val loss (20 batches)", "val_loss", "{:.4f}"), ("val loss (whole split)", "full_val_loss", "{:.4f}"), ("train loss", "train_loss", "{:.4f}"), ("median ms/iter", "ms_per_iter", "{:.1f}"),
            ("tokens/s", "tokens_per_s", "{:,.0f}"), ("wall s (whole run)", "wall_s", "{:.1f}"), ("CPU s (user+sys)", "cpu_s", "{:.1f}")]
    out = [f"nanoGPT CPU baby config, {iters} iterations of {BATCH} x {BLOCK} characters, text {source}", ""]
    out.append(f"{'':22}{'Trainbook':>12}" + (f"{'nanoGPT':>12}{'nanoGPT/Trainbook':>20}" if theirs else ""))
    for label, key, fmt in rows:
        line = f"{label:22}{fmt.format(ours[key]):>12}"
        if theirs:
            line += f"{fmt.format(theirs[key]):>12}{theirs[key] / ours[key]:>19.2f}x"
        out.append(line)
    out.append("")
    if iters == FULL_ITERS:
        for label, key in (("20-batch estimate", "val_loss"), ("whole validation split", "full_val_loss")):
            mark = "yes" if ours[key] <= TARGET_VAL_LOSS else "NO"
            out.append(f"val loss <= {TARGET_VAL_LOSS} ({label}): {mark} ({ours[key]:.4f})")
    else:
        out.append(f"(the val loss target {TARGET_VAL_LOSS} applies to {FULL_ITERS} iterations; this run had {iters})")
    if theirs:
        speed = theirs["ms_per_iter"] / ours["ms_per_iter"]
        verdict = "yes" if speed >= 1 else "NO"
        out.append(f"time per iteration no worse than nanoGPT: {verdict} (Trainbook {speed:.2f}x nanoGPT's speed)")
    out.append(f"Trainbook run: {ours['run']} ({ours['threads']} torch threads)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.nanogpt_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--nanogpt-dir", type=Path, help="a nanoGPT checkout to run side by side (default: Trainbook alone)")
    p.add_argument("--iters", type=int, default=FULL_ITERS, help=f"iterations (default {FULL_ITERS}, the baby config's)")
    p.add_argument("--runs-dir", type=Path, default=REPO / "runs",
                   help="where Trainbook's run goes (default runs/: it is an audited run like any other)")
    p.add_argument("--threads", type=int, help="torch threads for both (OMP_NUM_THREADS; default: torch's, one per core)")
    args = p.parse_args(argv)
    if args.threads:
        ENV["OMP_NUM_THREADS"] = str(args.threads)
    if args.iters <= WARMUP:
        p.error(f"--iters must exceed the {WARMUP} warmup iterations of the schedule (nanoGPT divides by their difference)")
    train, val, source = bench_text()
    print(f"training Trainbook ({args.iters} iterations)...", file=sys.stderr)
    ours = run_trainbook(args.iters, args.runs_dir)
    ours["full_val_loss"] = trainbook_full_val(Path(ours["run"]), vocabulary_ids(train, val))
    theirs = None
    if args.nanogpt_dir:
        print(f"training nanoGPT from {args.nanogpt_dir} ({args.iters} iterations)...", file=sys.stderr)
        theirs = run_nanogpt(args.nanogpt_dir, args.iters, train, val)
    print(report(args.iters, source, ours, theirs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
