"""What the API hands back: `RunResult`, a sealed run folder read through the contract, and the two ways a
run can end other than well, `RunFailed` and `Interrupted`, each carrying the run it sealed.

The exit statuses the command line ends with are declared here too, since every process of a torchrun
launch agrees on one through them. Torch-free.
"""
from __future__ import annotations

import functools
from pathlib import Path

from ..errors import UsageError
from ..tracking import layout

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class RunResult:
    """One run folder, as `trainer.run`, `resume`, `reproduce` and `open_run` return it.

    `metrics` is the run's final metrics (what its record holds, e.g. `metrics["val_loss"]`); `rows` is
    every logged step, `[{"step": 1, "train_loss": ...}, ...]`, read from metrics.jsonl when first asked for.
    Reading never writes: the folder stays as the ledger sealed it."""

    def __init__(self, folder: layout.RunFolder):
        self._folder = folder

    @classmethod
    def open(cls, path: str | Path) -> RunResult:
        """The run in folder `path`, or a UsageError saying why the folder is not a run."""
        try:
            return cls(layout.RunFolder.open(Path(path)))
        except layout.NotARun as e:
            raise UsageError(str(e.path), "", e.message) from None

    @property
    def path(self) -> Path:
        """the run folder"""
        return self._folder.path

    @property
    def id(self) -> str:
        """the run id: `<experiment>-<UTC timestamp>-<short hash>`"""
        return self._folder.id

    @property
    def record(self) -> dict:
        """the audit record (run.json) as sealed"""
        return self._folder.record

    @property
    def experiment(self) -> str:
        return self._folder.experiment

    @property
    def status(self) -> str:
        """ok, failed, interrupted, or running (a run still training, or one that died unsealed)"""
        return self._folder.status

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def reason(self) -> str | None:
        """why the run failed or was interrupted; None when it finished"""
        return self.record.get("reason")

    @property
    def config(self) -> dict:
        """the resolved config: every setting, defaults filled in (config.yaml)"""
        return self.record["config"]

    @property
    def metrics(self) -> dict[str, float]:
        """the final metrics, by name"""
        return self._folder.metrics

    @functools.cached_property
    def rows(self) -> list[dict]:
        """the per-step metrics, one mapping per logged step, oldest first"""
        return self._folder.metric_rows()

    @property
    def key_metric(self) -> tuple[str, float | None]:
        """(name, final value) of the metric the run is ranked by, e.g. ("val_loss", 2.31)"""
        name = (self.record.get("key_metric") or {}).get("name", "val_loss")
        return name, self.metrics.get(name)

    @property
    def artifacts(self) -> dict[str, dict]:
        """every file the run keeps, by name: {sha256, bytes}"""
        return self._folder.artifacts

    @property
    def figures(self) -> list[Path]:
        """the run's figures (PNG files), in the order its page shows them"""
        return [self.path / f["file"] for f in self.record.get("figures") or []]

    @property
    def reproduction(self) -> dict | None:
        """for a reproduction: {of, verdict, summary, differences, ...}; None for any other run"""
        return self.record.get("reproduction")

    @property
    def verdict(self) -> str | None:
        """for a reproduction: identical, within tolerance or diverged"""
        return (self.reproduction or {}).get("verdict")

    def file(self, name: str) -> Path:
        """The path of a file of the run folder (use the names in `trainer.plugin`, e.g. METRICS)."""
        return self._folder.file(name)

    def __repr__(self) -> str:
        name, value = self.key_metric
        shown = f", {name}={value:.4g}" if isinstance(value, (int, float)) else ""
        return f"<RunResult {self.id} {self.status}{shown}>"


class RunFailed(Exception):
    """A run that failed: it is sealed as `failed` (`run`, with `run.reason`); the exception that failed it, if
    any, is this one's `__cause__`. `run` is None in a process other than rank 0 under torchrun."""

    def __init__(self, run: RunResult | None, reason: str):
        super().__init__(f"run {run.id} failed: {reason}" if run else f"the run failed: {reason}")
        self.run = run


class SealFailed(Exception):
    """The run's final record or ledger line could not be written (a full disk, a vanished folder): the ledger is as
    it was, the folder as its last good write left it, and `verify` calls the run interrupted."""


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal (Ctrl-C, SIGTERM): sealed as `interrupted` at a checkpoint, so
    `trainer.resume(e.run.path)` continues it. A KeyboardInterrupt, so a loop of runs stops with it."""

    def __init__(self, run: RunResult | None, reason: str):
        super().__init__(f"run {run.id} interrupted: {reason}" if run else f"the run was interrupted: {reason}")
        self.run = run
