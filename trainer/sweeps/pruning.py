"""Inside a trial: every intermediate value of the pruner's metric goes to the study, and a trial the pruner
judges worse than its peers stops there (TrialPruned; the run is sealed `pruned` with the step).

The loop needs to know nothing of it: the reporter listens to the run's metrics log (tracking/metrics.listening),
so any engine whose loop logs the metric as rows can be pruned. A resumed trial reports again from where
its checkpoint was (Optuna ignores a step reported twice). Torch-free.
"""
from __future__ import annotations

from pathlib import Path

import optuna

from ..engines.contract import TrialPruned
from . import study as studies
from .space import Sweep


class Reporter:
    def __init__(self, trial: optuna.Trial, metric: str):
        self.trial, self.metric = trial, metric

    def __call__(self, row: dict) -> None:
        value, step = row.get(self.metric), row.get("step")
        if value is None or not isinstance(step, int):
            return
        self.trial.report(float(value), step)
        if self.trial.should_prune():
            raise TrialPruned(f"pruned at step {step}: {self.metric} {value:.4f} is worse than the pruner allows "
                              f"({type(self.trial.study.pruner).__name__})", step)


def reporter(folder: Path, sweep: Sweep, number: int) -> Reporter | None:
    """The listener that reports a run's rows as trial `number` of the sweep in `folder`; None when it does not prune."""
    if sweep.pruner.type == "none":
        return None
    study = studies.load(folder, sweep)
    frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
    return Reporter(optuna.Trial(study, frozen._trial_id), sweep.pruner.metric)
