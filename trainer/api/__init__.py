"""The Python API: what `import trainer` offers scripts and notebooks, and what the command line is a thin layer over.

    import trainer

    r = trainer.run("experiments/names-mlp.yaml", overrides={"optim.lr": 0.05})
    r.metrics["val_loss"], r.rows[-1], r.path        # final metrics, per-step rows, the sealed run folder
    trainer.verify(r).problems                       # 0: the record and every artifact are as sealed
    trainer.reproduce(r).verdict                     # identical, within tolerance or diverged

    with trainer.track("my-experiment", config=cfg, data=["train.csv"]) as run:   # a script of your own
        run.log(step, train_loss=loss)

Library calls raise the exceptions whose one-line messages the command line prints (UsageError, ConfigError,
EngineError: nothing was written), RunFailed and Interrupted after sealing a run that did not finish; they never
exit the process and print nothing unless `progress=True`. Torch is imported only when a run starts.
"""
from ..engines.contract import EngineError
from ..errors import ConfigError, UsageError
from ..tracking.integrity import Verification
from .checks import GateReport, gate, replay, verify
from .reproducing import reproduce
from .results import Interrupted, RunFailed, RunResult
from .runs import open_run, resume, run
from .scripts import TrackedRun, track

__all__ = [
    "ConfigError", "EngineError", "GateReport", "Interrupted", "RunFailed", "RunResult", "TrackedRun", "UsageError",
    "Verification", "gate", "open_run", "replay", "reproduce", "resume", "run", "track", "verify",
]
