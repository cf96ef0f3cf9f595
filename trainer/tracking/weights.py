"""Weights-only model files: what a finished run publishes so that other people can use its model.

A checkpoint (`checkpoint.pt`, `best.pt`) is a whole training state: the optimiser's moments, every RNG,
the data position. It continues the run and stays with it. A weights file holds the model's parameters and
buffers and nothing else: a fraction of the size, safe to offer for download, and what `trainer sample` and
`trainer eval` load (with `weights_only=True`, so a file that would run code is refused).

At the end of every finished run the trainer writes the final weights (`model.weights.pt`) and, when the
best state (lowest validation loss, `best.pt`) is not the final one, the best weights (`best.weights.pt`),
and names them in the record's `weights` section with the learned vocabulary the model needs, if any:

    "weights": {"format": "trainbook-weights-1", "max_bytes": 8388608,
                "final": {"file": "model.weights.pt", "step": 800},
                "best": {"file": "best.weights.pt", "step": 600},
                "vocabulary": {"file": "tokenizer.tiktoken"}}

Each file's sha256 is the record's, like every artifact's. A model over the cap (`tracking.weights_max_mib`)
is not exported, and the section says why. `layout.model_files` decides from this section what a page
publishes. torch is imported inside the functions only, as in checkpoint.py.
"""
from __future__ import annotations

from pathlib import Path

from . import checkpoint, layout
from .files import write_bytes
from .layout import read_metrics
from .run import Run

FORMAT = "trainbook-weights-1"
WHAT = "weights file"
MIB = 1 << 20


def load(path: Path) -> dict:
    """{"model": state dict, "role", "step", ...} of a weights file, or a CheckpointError saying why it is refused."""
    state = checkpoint.load(path, FORMAT, WHAT)
    if not isinstance(state.get("model"), dict):
        raise checkpoint.CheckpointError(f"{path}: not a Trainbook {WHAT} (it holds no model state)")
    return state


def _cpu(state: dict) -> dict:
    return {name: tensor.detach().cpu() for name, tensor in state.items()}


def _size(state: dict) -> int:
    return sum(t.numel() * t.element_size() for t in state.values())


def _write(run: Run, name: str, state: dict, role: str, step: int | None, max_bytes: int) -> str | None:
    """Write one weights file; None when written, else why not (over the cap)."""
    if _size(state) > max_bytes:
        return f"{_size(state) / MIB:.1f} MiB of {role} weights"
    data = checkpoint.dumps({"role": role, "step": step, "model": state}, FORMAT)
    if len(data) > max_bytes:
        return f"{len(data) / MIB:.1f} MiB of {role} weights"
    write_bytes(run.file(name), data)
    return None


def _best_state(run: Run) -> dict | None:
    """The model state and step of the run's best checkpoint, when it kept one that holds a model."""
    path = run.file(layout.BEST)
    if not path.is_file():
        return None
    state = checkpoint.load(path)
    return state if isinstance(state.get("model"), dict) else None


def export(run: Run, model_state: dict, max_mib: float) -> dict:
    """Write the run's weights files from its final model state and its best checkpoint; returns the record's
    `weights` section (also stored in `run.record`)."""
    max_bytes = int(max_mib * MIB)
    rows = read_metrics(run.file(layout.METRICS))
    final_step = rows[-1]["step"] if rows else None
    section: dict = {"format": FORMAT, "max_bytes": max_bytes}
    over = _write(run, layout.WEIGHTS, _cpu(model_state), "final", final_step, max_bytes)
    if over is None:
        section["final"] = {"file": layout.WEIGHTS, "step": final_step}
        best = _best_state(run)
        if best is not None and best.get("step") == final_step:
            section["best"] = dict(section["final"])  # the final state is the best one: one file for both
        elif best is not None:
            over = _write(run, layout.BEST_WEIGHTS, _cpu(best["model"]), "best", best.get("step"), max_bytes)
            if over is None:
                section["best"] = {"file": layout.BEST_WEIGHTS, "step": best.get("step")}
    if over is not None:
        section["left_out"] = (f"{over} exceed tracking.weights_max_mib ({max_mib:g} MiB); the checkpoints keep the model "
                               "with the run (raise the cap to publish it)")
    vocabularies = sorted(p.name for p in run.path.glob("*.tiktoken") if p.is_file())
    if vocabularies and "final" in section:
        section["vocabulary"] = {"file": vocabularies[0]}
    run.record["weights"] = section
    return section
