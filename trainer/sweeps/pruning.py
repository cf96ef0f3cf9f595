"""Inside a trial: every intermediate value of the pruner's metric goes to the study, and a trial the pruner
judges worse than its peers stops there (TrialPruned; the run is sealed `pruned` with the step).

The loop needs to know nothing of it: the reporter listens to the metrics log (tracking/metrics.LISTENERS),
so any engine whose loop logs the metric as rows can be pruned. A resumed trial reports again from where
its checkpoint was (Optuna ignores a step reported twice). Torch-free.
"""
from __future__ import annotations

from pathlib import Path

import optuna

from ..engines.contract import TrialPruned
from ..tracking import metrics
from . import study as studies
from .space import Sweep


class Reporter:
    def __init__(self, trial: optuna.Trial, metric: str):
        self.trial, self.metric = trial, metric

    def __call__(self, step: int, values: dict) -> None:
        value = values.get(self.metric)
        if value is None:
            return
        self.trial.report(float(value), step)
        if self.trial.should_prune():
            raise TrialPruned(f"pruned at step {step}: {self.metric} {value:.4f} is worse than the pruner allows "
                              f"({type(self.trial.study.pruner).__name__})", step)


def attach(folder: Path, sweep: Sweep, number: int) -> optuna.Trial:
    """Report this process's intermediate values as trial `number` of the sweep in `folder`; returns the trial."""
    study = studies.load(folder, sweep)
    frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
    trial = optuna.Trial(study, frozen._trial_id)
    if sweep.pruner.type != "none":
        metrics.LISTENERS.append(Reporter(trial, sweep.pruner.metric))
    return trial
