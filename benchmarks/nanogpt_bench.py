"""`make bench`: Trainbook against nanoGPT's own train.py on this machine, interleaved round by round.

Each round runs, in an order that reverses every other round (see interleave.py):

- **nanoGPT baby**: nanoGPT's train.py with its README's CPU "baby" command line (when --nanogpt-dir
  names a checkout), on the same characters Trainbook trains on;
- **Trainbook baby**: experiments/bench/nanogpt-baby.yaml, the same model, batch, schedule and steps;
- **Trainbook fast**: experiments/bench/shakespeare-fast.yaml, a recipe of Trainbook's own choosing on
  the same split, to be better than the baby run in no more wall time;
- **make train publish**: the default experiments and the site, on a fresh copy of this tree;
- **names-mlp** and the default it replaced (experiments/bench/names-mlp-baseline.yaml).

Then it prints per-round values, their medians and ranges, and the within-round ratios, so a
verdict rests on three or more pairs measured minutes apart rather than on one run after another.

nanoGPT's code runs from its own checkout and is never copied: this script only writes the data
files its train.py reads (data/shakespeare_char/{train,val}.bin and meta.pkl, built from the same
text split the same way) into a temporary working folder, where links to the checkout's
configurator.py and config/ let train.py find them.

    python -m benchmarks.nanogpt_bench [--nanogpt-dir DIR] [--rounds N] [--iters N] [--parts baby,fast,suite,names]

Both trainers log an estimate of validation loss from 20 random batches (nanoGPT's eval_iters=20),
which varies by about +-0.02 between seeds of the estimate alone. So the final models are also
scored on the whole validation split, every non-overlapping window of each model's context, the
same windows for models of the same context (nanoGPT's model loaded from its checkout's model.py
and its own checkpoint).
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

from . import suite_wall
from .interleave import Contender, load_average, per_round, ratio, run_rounds

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "bench" / "nanogpt-baby.yaml"
FAST = REPO / "experiments" / "bench" / "shakespeare-fast.yaml"
NAMES = REPO / "experiments" / "names-mlp.yaml"
NAMES_BASELINE = REPO / "experiments" / "bench" / "names-mlp-baseline.yaml"
FULL_ITERS = 2000
TARGET_VAL_LOSS = 1.88  # nanoGPT's README, and 1.8857 measured here (../shared/data/README.md)
TARGET_SPEED = 1.3  # Trainbook's iterations per second over nanoGPT's, same model and batch
TARGET_FAST_VAL = 1.80  # the fast recipe, whole validation split, in no more wall time than nanoGPT's baby run
TARGET_NAMES_VAL = 2.28
BLOCK, BATCH, WARMUP = 64, 12, 100
NANOGPT_BABY = ["--device=cpu", "--compile=False", "--eval_iters=20", "--log_interval=1", f"--block_size={BLOCK}",
                f"--batch_size={BATCH}", "--n_layer=4", "--n_head=4", "--n_embd=128", "--dropout=0.0"]
"""nanoGPT README's CPU command line, after config/train_shakespeare_char.py (iterations set separately)."""
PARTS = ("baby", "fast", "suite", "names")


ENV = dict(os.environ)
"""Every trainer's environment: the same for all, with OMP_NUM_THREADS when --threads is given."""


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


def full_val_loss(forward, val_ids: np.ndarray, block: int) -> float:
    """Mean next-character loss over every non-overlapping `block`-long window of the validation split."""
    import torch

    ids = torch.from_numpy(val_ids.astype(np.int64))
    starts = torch.arange(0, len(ids) - block - 1, block)
    x = torch.stack([ids[s:s + block] for s in starts])
    y = torch.stack([ids[s + 1:s + 1 + block] for s in starts])
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
    return full_val_loss(lambda x, y: model(x, y)[1], val_ids, cfg.model.block_size)


def _vocab_size(state: dict) -> int:
    return next(t.shape[0] for k, t in state.items() if k.endswith("wte.weight"))


def run_trainbook(experiment: Path, overrides: list[str], runs_dir: Path) -> dict:
    """One `trainer run` of `experiment`: its record's metrics, median step time, wall and CPU seconds."""
    from trainer.tracking import layout

    cmd = [sys.executable, "-m", "trainer", "run", "--runs-dir", str(runs_dir), str(experiment), *overrides]
    result, wall, cpu = _timed(cmd, REPO)
    run = Path(result.stdout.strip().splitlines()[-1])
    folder = layout.RunFolder.open(run)
    record, rows = folder.record, folder.metric_rows()
    ms = statistics.median(r["step_ms"] for r in rows if "step_ms" in r)
    m = record["metrics"]
    return {"val_loss": m["val_loss"], "train_loss": m.get("train_loss", float("nan")), "ms_per_iter": ms,
            "tokens_per_s": m.get("tokens_per_s", float("nan")), "wall_s": wall, "cpu_s": cpu, "run": str(run),
            "threads": record["environment"]["torch_threads"]}


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
    return full_val_loss(lambda x, y: model(x, y)[1], val_ids, saved["model_args"]["block_size"])


def check_nanogpt(checkout: Path) -> None:
    if not (checkout / "train.py").is_file() or not (checkout / "config" / "train_shakespeare_char.py").is_file():
        sys.exit(f"{checkout}: not a nanoGPT checkout (expected train.py and config/train_shakespeare_char.py)")


def run_nanogpt(checkout: Path, iters: int, train: str, val: str) -> dict:
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
    from trainer import experiments
    from trainer.data import text

    cfg = experiments.load(EXPERIMENT)
    corpus = text.load(cfg.data, str(EXPERIMENT))
    return corpus.splits["train"], corpus.splits["val"], f"{corpus.record['source']} (sha256 {corpus.record['sha256'][:12]}…)"


def contenders(args, train: str, val: str) -> list[Contender]:
    val_ids = vocabulary_ids(train, val)

    def gpt(experiment: Path, overrides: list[str]):
        def measure() -> dict:
            out = run_trainbook(experiment, overrides, args.runs_dir)
            return {**out, "full_val_loss": trainbook_full_val(Path(out["run"]), val_ids)}
        return measure

    baby = [f"train.steps={args.iters}", f"train.eval_interval={_eval_interval(args.iters)}"]
    out = []
    if args.nanogpt_dir and {"baby", "fast", "suite"} & set(args.parts):  # the wall time they are judged against
        out.append(Contender("nanoGPT baby", lambda: run_nanogpt(args.nanogpt_dir, args.iters, train, val)))
    if "baby" in args.parts:
        out.append(Contender("Trainbook baby", gpt(EXPERIMENT, baby)))
    if "fast" in args.parts:
        out.append(Contender("Trainbook fast", gpt(FAST, [])))
    if "suite" in args.parts:
        out.append(Contender("make train publish", lambda: suite_wall.measure(REPO, args.threads)))
    if "names" in args.parts:
        out.append(Contender("names-mlp baseline", lambda: run_trainbook(NAMES_BASELINE, [], args.runs_dir)))
        out.append(Contender("names-mlp", lambda: run_trainbook(NAMES, [], args.runs_dir)))
    return out


ROWS = (("val loss (whole split)", "full_val_loss", "{:.4f}"), ("val loss (own estimate)", "val_loss", "{:.4f}"),
        ("median ms/iter", "ms_per_iter", "{:.1f}"), ("tokens/s", "tokens_per_s", "{:,.0f}"),
        ("wall s (whole run)", "wall_s", "{:.1f}"), ("CPU s (user+sys)", "cpu_s", "{:.1f}"))


def _mark(ok: bool) -> str:
    return "yes" if ok else "NO"


def table(results: dict[str, list[dict]]) -> list[str]:
    names = [n for n in results if n != "make train publish"]
    out = [f"{'median over rounds':26}" + "".join(f"{n:>20}" for n in names)]
    for label, key, fmt in ROWS:
        cells = [fmt.format(statistics.median(r[key] for r in results[n])) if key in results[n][0] else "" for n in names]
        out.append(f"{label:26}" + "".join(f"{c:>20}" for c in cells))
    return out


def verdicts(args, results: dict[str, list[dict]]) -> list[str]:
    out, has = [], lambda name: name in results
    nano = "nanoGPT baby"
    if has(nano) and has("Trainbook baby"):
        speed = ratio(results, (nano, "ms_per_iter"), ("Trainbook baby", "ms_per_iter"))
        out.append(f"speed, Trainbook over nanoGPT (nanoGPT ms/iter / Trainbook ms/iter, same model and batch): "
                   f"{speed.show(unit='x')}; >= {TARGET_SPEED}x: {_mark(speed.median >= TARGET_SPEED)}")
    if has("Trainbook baby") and args.iters == FULL_ITERS:
        v = per_round(results, "Trainbook baby", "full_val_loss")
        out.append(f"Trainbook baby whole-split val {v.median:.4f}; <= {TARGET_VAL_LOSS}: {_mark(v.median <= TARGET_VAL_LOSS)}")
    if has("Trainbook fast"):
        v = per_round(results, "Trainbook fast", "full_val_loss")
        line = f"fast recipe: whole-split val {v.median:.4f} nats/char; <= {TARGET_FAST_VAL}: {_mark(v.median <= TARGET_FAST_VAL)}"
        if has(nano):
            w = ratio(results, ("Trainbook fast", "wall_s"), (nano, "wall_s"))
            nano_val = per_round(results, nano, "full_val_loss").median
            line += (f"; nanoGPT baby {nano_val:.4f}; wall, fast / nanoGPT baby: {w.show(unit='x')}; "
                     f"<= 1: {_mark(w.median <= 1)}")
        out.append(line)
    if has("make train publish"):
        s = per_round(results, "make train publish", "wall_s")
        line = f"make train publish (default experiments + site, fresh copy): wall {s.show('{:.0f}', ' s')}"
        if has(nano):
            w = ratio(results, ("make train publish", "wall_s"), (nano, "wall_s"))
            line += f"; / nanoGPT baby wall: {w.show(unit='x')}; <= 1: {_mark(w.median <= 1)}"
        out.append(line)
        phases = results["make train publish"][0]["phases"]
        med = {k: statistics.median(r["phases"][k] for r in results["make train publish"]) for k in phases}
        out.append("  where it goes (median s): " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))
    if has("names-mlp"):
        new, old = per_round(results, "names-mlp", "val_loss"), per_round(results, "names-mlp baseline", "val_loss")
        w = ratio(results, ("names-mlp", "wall_s"), ("names-mlp baseline", "wall_s"))
        out.append(f"names-mlp: val {new.median:.4f} (baseline {old.median:.4f}); <= {TARGET_NAMES_VAL}: "
                   f"{_mark(new.median <= TARGET_NAMES_VAL)}; wall, new / baseline: {w.show(unit='x')}; <= 1: {_mark(w.median <= 1)}")
    return out


def report(args, source: str, results: dict[str, list[dict]], load_before: str, load_after: str) -> str:
    out = [f"Trainbook and nanoGPT on {source}: {args.rounds} interleaved rounds (order reversed every other round); "
           f"baby config {args.iters} iterations of {BATCH} x {BLOCK} characters", f"load average before: {load_before}",
           f"load average after:  {load_after}", ""]
    for name, rows in results.items():
        if "ms_per_iter" in rows[0]:
            out.append(f"{name:22} ms/iter by round: " + ", ".join(f"{r['ms_per_iter']:.1f}" for r in rows) +
                       "; wall s: " + ", ".join(f"{r['wall_s']:.0f}" for r in rows))
        else:
            out.append(f"{name:22} wall s by round: " + ", ".join(f"{r['wall_s']:.0f}" for r in rows))
    out += ["", *table(results), "", *verdicts(args, results)]
    runs = [r["run"] for rows in results.values() for r in rows if "run" in r]
    out.append(f"Trainbook runs in {args.runs_dir} ({len(runs)}); torch threads per run: "
               f"{sorted({r['threads'] for rows in results.values() for r in rows if 'threads' in r})}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.nanogpt_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--nanogpt-dir", type=Path, help="a nanoGPT checkout to run side by side (default: Trainbook alone)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--iters", type=int, default=FULL_ITERS, help=f"baby-config iterations (default {FULL_ITERS}, the config's)")
    p.add_argument("--parts", default=",".join(PARTS), help=f"what to measure, comma-separated (default: all of {','.join(PARTS)})")
    p.add_argument("--runs-dir", type=Path, default=REPO / "runs",
                   help="where Trainbook's runs go (default runs/: they are audited runs like any other)")
    p.add_argument("--threads", type=int, help="torch threads for every trainer (OMP_NUM_THREADS; default: torch's, one per core)")
    args = p.parse_args(argv)
    args.parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    if args.parts - set(PARTS):
        p.error(f"--parts: unknown {sorted(args.parts - set(PARTS))}; expected some of {','.join(PARTS)}")
    if args.threads:
        ENV["OMP_NUM_THREADS"] = str(args.threads)
    if args.iters <= WARMUP:
        p.error(f"--iters must exceed the {WARMUP} warmup iterations of the schedule (nanoGPT divides by their difference)")
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if args.nanogpt_dir:
        check_nanogpt(args.nanogpt_dir)
    train, val, source = bench_text()
    before = load_average()
    results = run_rounds(contenders(args, train, val), args.rounds)
    print(report(args, source, results, before, load_average()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
