"""`trainer.track()`: a training script of one's own, made a sealed run like any engine's.

    with trainer.track("my-experiment", config=cfg, data=["data/train.csv"], tags=["baseline"], seed=0) as run:
        for step in range(1, steps + 1):
            ...
            run.log(step, train_loss=loss.item(), val_loss=val)
        run.add_figure(fig, "Predictions against the truth on the validation set.")
        run.checkpoint({"model": model.state_dict()})

The block gets the same run folder as an engine's run: the record (the script's settings, its command line and
working directory, its code commit and diff hash, each data file's sha256, the machine, the seeds), metrics.jsonl,
figures, artifacts, a checkpoint, and the ledger line that seals it; the site shows it like any run. The block
ending well seals it `ok`; an exception inside it `failed` (and the exception goes on); Ctrl-C or SIGTERM
`interrupted` (and `trainer.Interrupted` goes on). Under torchrun only rank 0 writes: every other process gets a
handle whose calls do nothing. `trainer reproduce` re-runs the recorded command in the recorded folder.
"""
from __future__ import annotations

import importlib
import importlib.util
import math
import random
import re
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from ..config import config_sha256, dump_yaml, seeds, to_dict
from ..engines import registry
from ..engines.contract import KeyMetric
from ..errors import ConfigError
from ..runtime import launch
from ..tracking import checkpoint as checkpoints
from ..tracking import layout, recovery, weights
from ..tracking.files import write_bytes, write_jsonl
from ..tracking.metrics import MetricsLog
from ..tracking.run import Run
from . import folders, lineage, rerun, script_facts
from .results import Interrupted, RunResult
from .runs import ledger_ready, session

RESERVED = frozenset({layout.RECORD, layout.CONFIG, layout.METRICS, layout.CHECKPOINT, layout.BEST, layout.LOCK})
"""run-folder names an artifact may not take: the trainer writes them"""
PNG = b"\x89PNG\r\n\x1a\n"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class _Terminated(KeyboardInterrupt):
    """SIGTERM inside a tracked block: ends the block the way Ctrl-C does, so the run is sealed `interrupted`."""


class TrackedRun:
    """The handle a `trainer.track(...)` block works with. Every call writes into the run folder atomically; in a
    process other than rank 0 under torchrun every call does nothing and returns None."""

    def __init__(self, plan: dict, runs_dir: Path, key_metric: KeyMetric | None, progress: bool):
        self._plan, self._root, self._key_metric, self._progress = plan, runs_dir, key_metric, progress
        self._run: Run | None = None
        self._metrics: MetricsLog | None = None
        self._final: dict[str, float] = {}
        self._previous_handler = None
        self._request = rerun.request_for(plan["config"].name)
        self.result: RunResult | None = None
        """the sealed run, once the block has ended"""

    # --- the block -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        if launch.rank() != 0:
            return self
        if self._request is not None:
            self._root = Path(self._request["runs_dir"])
        ledger_ready(self._root)
        training = session() if "torch" in sys.modules else None  # the script's torch: track never imports it
        cfg = self._plan["config"]
        if training is not None and self._request and self._request.get("threads"):
            training.torch.set_num_threads(self._request["threads"])
        seeded = _seed(cfg.seed, training) if cfg.seed is not None else []
        for sealed in recovery.seal_interrupted(self._root):
            self._note(f"note: run {sealed} had stopped without sealing its record; sealed it as interrupted")
        self._run = self._create(_machine(training), seeded)
        self._metrics = MetricsLog(self._run.file(layout.METRICS))
        self._note(f"run {self._run.id} started in {self._run.path}")
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGTERM, _terminate)
        return self

    def _create(self, torch_facts: dict, seeded: list[str]) -> Run:
        cfg, spec = self._plan["config"], registry.spec_for("script")
        resolved = to_dict(cfg)
        extra = {"kind": self._plan["kind"], "key_metric": None, "engine": registry.engine_record(spec), "seeded": seeded,
                 **({"reproduction": self._request["pending"]} if self._request else {})}
        run = Run.create(self._root, experiment=cfg.name, config=resolved, config_sha256=config_sha256(cfg),
                         config_yaml=dump_yaml(cfg), source=self._plan["source"]["file"] or script_facts.SOURCE,
                         overrides=[], seeds=seeds(resolved), data=self._plan["data"], extra=extra, facts=torch_facts)
        run.record["source"], run.record["code"] = self._plan["source"], self._plan["code"]
        run.save_record()
        return run

    def __exit__(self, kind, error, trace) -> bool:
        if self._run is None:
            return False
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
        status, reason = _ending(kind, error)
        self._seal(status, reason)
        self.result = RunResult.open(self._run.path)
        if self._request is not None:
            rerun.answer(self._request, self._run.path)
        self._note(f"run {self._run.id} {status}" + (f": {reason}" if reason else ""))
        if status == "interrupted":
            raise Interrupted(self.result, reason) from error
        return False  # an exception goes on after the run is sealed as failed

    def _seal(self, status: str, reason: str | None) -> None:
        run = self._run
        self._metrics.close()  # its appends end here: the file is written whole below
        if self._metrics.rows:
            write_jsonl(run.file(layout.METRICS), self._metrics.rows)
            self._draw_losses()
        metrics = self._final_metrics()
        run.record["key_metric"] = self._chosen_key_metric(metrics).as_record()
        if status == "interrupted" and self._metrics.rows:
            run.record["stopped_at_step"] = self._metrics.rows[-1]["step"]
        if status == "ok":
            self._export_weights()
        run.conclude(status, metrics if status == "ok" else {}, reason)
        judge = lineage.seal_hook(run.record)
        if judge is not None:
            judge(run)
        run.seal()
        run.release()

    def _export_weights(self) -> None:
        """A finished script whose last checkpoint holds its model (`run.checkpoint({"model": ...})`) publishes it as
        weights, as an engine's run does: the page offers them with their sha256 and `trainer eval` can find them."""
        path = self._run.file(layout.CHECKPOINT)
        if "torch" not in sys.modules or not path.is_file():  # no checkpoint was saved: no torch was needed
            return
        state = checkpoints.load(path)
        if isinstance(state.get("model"), Mapping):
            weights.export(self._run, dict(state["model"]), session().weights_cap_mib(self._run))

    def _final_metrics(self) -> dict:
        """The last logged value of every key, then whatever `summary` set, and the last step."""
        rows, found = self._metrics.rows, {}
        for row in reversed(rows):  # newest first: the first value seen of a key is its last
            for key, value in row.items():
                if key != "step" and value is not None:
                    found.setdefault(key, value)
        if rows:
            found.setdefault("steps", rows[-1]["step"])
        return {**found, **self._final}

    def _chosen_key_metric(self, metrics: dict) -> KeyMetric:
        if self._key_metric is not None:
            return self._key_metric
        name = next((k for k in ("val_loss", "loss", "train_loss") if k in metrics),
                    next((k for k in metrics if k.endswith("loss")), "val_loss"))
        return KeyMetric(name, "min", name.replace("_", " "), "as the script logs it")

    def _draw_losses(self) -> None:
        """The losses the script logged, drawn as a figure unless it added one under that name itself."""
        keys = sorted({k for row in self._metrics.rows for k in row if "loss" in k})
        name = "loss.png"
        if not keys or any(f["file"] == name for f in self._run.record["figures"]):
            return
        from ..figures import training as figures  # matplotlib only when there is something to draw

        figures.logged_figure(self._metrics.rows, keys, self._run.file(name), f"{self._plan['config'].name}: loss", "loss")
        self._run.add_figure(name, "Loss", "Every loss the script logged with run.log(), at each logged step.")

    def _note(self, line: str) -> None:
        if self._progress:
            print(line, file=sys.stderr, flush=True)

    # --- what a script calls ---------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """the run folder (None outside rank 0)"""
        return self._run.path if self._run else None

    @property
    def id(self) -> str | None:
        return self._run.id if self._run else None

    def log(self, step: int, **values: float) -> None:
        """Log metrics at `step` (an integer that never goes down): `run.log(100, train_loss=2.1, val_loss=2.3)`.
        Values may be Python numbers or one-element tensors and arrays; a non-finite value is kept as null.
        Two calls for the same step make one row."""
        if self._run is None:
            return
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise TypeError(f"run.log: step must be an integer >= 0, got {step!r}")
        row = {name: _number(name, value) for name, value in values.items()}
        rows = self._metrics.rows
        if rows and step < rows[-1]["step"]:
            raise ValueError(f"run.log: step {step} comes after step {rows[-1]['step']}; steps never go down")
        if rows and rows[-1]["step"] == step:
            rows[-1].update(row)
        else:
            self._metrics.log(step, **row)

    def summary(self, **values: float) -> None:
        """Set final metrics (by default each logged key's last value): `run.summary(test_loss=1.9)`."""
        if self._run is not None:
            self._final.update({name: _number(name, value) for name, value in values.items()})

    def add_figure(self, figure: Any, caption: str, *, title: str | None = None, name: str | None = None) -> Path | None:
        """Add a figure to the run and its page: a matplotlib Figure (saved as PNG; it stays open), or the path or
        bytes of a PNG. `caption` is what a reader learns from it (also the image's alt text)."""
        if self._run is None:
            return None
        if not isinstance(caption, str) or not caption.strip():
            raise ValueError("run.add_figure: give a caption that says what the figure shows")
        data, default_title, default_name = _png(figure)
        title = title or default_title or "Figure"
        name = _artifact_name(name or default_name or _slug(title) + ".png", "run.add_figure")
        if not name.endswith(".png"):
            raise ValueError(f"run.add_figure: name {name!r} must end in .png")
        path = self._run.file(name)
        write_bytes(path, data)
        self._run.add_figure(name, title, caption.strip())
        return path

    def add_artifact(self, path: str | Path, name: str | None = None) -> Path | None:
        """Copy a file the script wrote into the run folder, sealed with its sha256 (`name` defaults to its own)."""
        if self._run is None:
            return None
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"run.add_artifact: {source} is not a file")
        target = self._run.file(_artifact_name(name or source.name, "run.add_artifact"))
        write_bytes(target, source.read_bytes())
        return target

    def checkpoint(self, state: Mapping[str, Any], step: int | None = None) -> Path | None:
        """Save a checkpoint (a mapping of tensors and plain values, e.g. {"model": model.state_dict()}) as the run's
        checkpoint.pt, atomically, with the metrics logged so far; loadable with `trainer.plugin.load_checkpoint`."""
        if self._run is None:
            return None
        if not isinstance(state, Mapping):
            raise TypeError(f"run.checkpoint: expected a mapping such as {{'model': model.state_dict()}}, got {type(state).__name__}")
        last = self._metrics.rows[-1]["step"] if self._metrics.rows else 0
        checkpoints.save(self._run.file(layout.CHECKPOINT), {"step": last if step is None else step, **state})
        self._metrics.flush()
        return self._run.file(layout.CHECKPOINT)


def _terminate(signum, frame) -> None:
    raise _Terminated()


def _seed(seed: int, training) -> list[str]:
    """Seed Python, NumPy and, when the script uses it, torch; returns which were seeded (for the record)."""
    if training is not None:
        training.seeding.seed_everything(seed)
        return ["python", "numpy", "torch"]
    random.seed(seed)
    if importlib.util.find_spec("numpy") is None:
        return ["python"]
    importlib.import_module("numpy").random.seed(seed % 2**32)
    return ["python", "numpy"]


def _machine(training) -> dict:
    """What torch knows about where the script runs, when the script uses torch."""
    if training is None:
        return {"device": None, "torch_threads": None, "world_size": launch.processes(),
                "note": "the script had not imported torch when its tracked block began"}
    device = "cuda" if training.torch.cuda.is_available() else "cpu"
    return training.facts.torch_facts(device, launch.processes())


def _ending(kind, error) -> tuple[str, str | None]:
    """(status, reason) of a block that ended with exception type `kind` (None: it ended well)."""
    if kind is None:
        return "ok", None
    if issubclass(kind, _Terminated):
        return "interrupted", "stopped by SIGTERM inside the tracked block"
    if issubclass(kind, KeyboardInterrupt):
        return "interrupted", "stopped by SIGINT (Ctrl-C) inside the tracked block"
    if issubclass(kind, SystemExit) and error.code in (0, None):
        return "ok", None
    if issubclass(kind, SystemExit):
        return "failed", f"the script exited with status {error.code} inside the tracked block"
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return "failed", f"{kind.__name__}: {first}".rstrip(": ")


def _number(name: str, value: Any) -> float | int | None:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]{0,63}", name) or name == "step":
        raise ValueError(f"run.log: {name!r} is not a metric name (letters, digits, _ . / -; not 'step')")
    if hasattr(value, "item"):  # a one-element tensor or array
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"run.log: {name} must be a number, got {type(value).__name__}")
    return value if math.isfinite(value) else None


def _png(figure: Any) -> tuple[bytes, str | None, str | None]:
    """(PNG bytes, a title, a file name) of a matplotlib Figure, a PNG file's path, or PNG bytes."""
    if hasattr(figure, "savefig"):
        from ..figures import style  # matplotlib only when a figure is given

        axes = figure.get_axes()
        return style.png_bytes(figure), figure.get_suptitle() or (axes[0].get_title() if axes else "") or None, None
    if isinstance(figure, (bytes, bytearray)):
        data, title, name = bytes(figure), None, None
    elif isinstance(figure, (str, Path)) and Path(figure).is_file():
        data, title, name = Path(figure).read_bytes(), None, Path(figure).name
    else:
        raise TypeError(f"run.add_figure: expected a matplotlib Figure, or the path or bytes of a PNG, got {figure!r}"[:200])
    if not data.startswith(PNG):
        raise ValueError("run.add_figure: not a PNG image (pages show PNG, whose bytes stay the same for the same drawing)")
    return data, title, name


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "figure"


def _artifact_name(name: str, call: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in RESERVED:
        raise ValueError(f"{call}: {name!r} cannot name a file of the run (a plain file name, not one of "
                         f"{', '.join(sorted(RESERVED))})")
    return name


def track(experiment: str, *, config: Any = None, data: Sequence[str | Path] = (), tags: Sequence[str] = (),
          description: str = "", notes: str = "", seed: int | None = None, key_metric: str | KeyMetric | None = None,
          goal: str = "min", kind: str = "script", gates: Mapping[str, str] | None = None,
          runs_dir: str | Path | None = None, progress: bool = False) -> TrackedRun:
    """A run for a training script of your own: use it as `with trainer.track("my-experiment", ...) as run:`.

    `config` is the script's settings (a mapping, a dataclass or an argparse Namespace), recorded as `params`;
    `data` the files (or folders) it trains on, each recorded with its sha256; `seed`, when given, seeds Python,
    NumPy and torch (if the script has imported it) as the block begins; `key_metric` names the final metric the
    run is ranked by (default: val_loss, loss or train_loss, whichever it logged), lower is better unless
    `goal="max"`, or a full `trainer.plugin.KeyMetric`; `kind` groups it on the site; `gates` are checked on its
    page like an experiment file's. Everything is checked here, before the block: a mistake raises ConfigError or
    UsageError and writes nothing."""
    if goal not in ("min", "max"):
        raise ConfigError(script_facts.SOURCE, "goal", f"expected 'min' or 'max', got {goal!r}")
    if not isinstance(kind, str) or not layout.EXPERIMENT.fullmatch(kind):
        raise ConfigError(script_facts.SOURCE, "kind", f"expected 1-64 lower-case letters, digits and '-' (it names a "
                          f"page of the site), got {kind!r}")
    plan = {
        "config": script_facts.experiment_config(experiment, config, description=description, tags=tags, notes=notes,
                                                 seed=seed, gates=gates),
        "data": script_facts.data_record(data),
        "kind": kind,
    }
    plan["source"] = script_facts.command_record()
    plan["code"] = script_facts.code_record(plan["source"])
    if isinstance(key_metric, str):
        key_metric = KeyMetric(key_metric, goal, key_metric.replace("_", " "), "as the script logs it")
    root = folders.runs_root(None if runs_dir is None else str(runs_dir))
    return TrackedRun(plan, root, key_metric, progress)
