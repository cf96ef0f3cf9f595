"""The sweep's Optuna study, kept in the sweep's folder (journal file storage), and what the record says of it.

The journal (layout.STUDY) is an append-only log every process of the sweep writes under a file lock: the
driver asks and tells, each trial reports its intermediate values and asks whether to stop. It works on
shared storage (NFS) as a cluster's runs folder is, and it survives `kill -9`: a reopened study holds every
trial told so far, and the trials asked but never told (still RUNNING) are the ones a resume finishes.

Sampling is reproducible by trial number: the sampler that picks trial n is seeded from (sweep seed, n),
so random and grid sweeps take the same configurations whatever the number of workers, the backend, or an
interruption; TPE's picks also depend on the values told before (with one worker, the same ones). Torch-free.
"""
from __future__ import annotations

import hashlib
import logging
import math
import warnings
from pathlib import Path

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
from optuna.trial import FrozenTrial, TrialState

from ..tracking import layout
from .space import Parameter, Sweep

STUDY_NAME = "sweep"
LOCK_GRACE_S = 30
"""a journal lock older than this was left by a killed process and is broken (Optuna's own rule)"""
optuna.logging.set_verbosity(logging.WARNING)  # one line per trial is the driver's job, in Trainbook's words


def storage(folder: Path) -> JournalStorage:
    path = str(folder / layout.STUDY)
    return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path, grace_period=LOCK_GRACE_S)))


def pruner(sweep: Sweep) -> optuna.pruners.BasePruner:
    p = sweep.pruner
    if p.type == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_steps)
    if p.type == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=p.min_resource, reduction_factor=p.reduction_factor)
    return optuna.pruners.NopPruner()


def create(folder: Path, sweep: Sweep) -> optuna.Study:
    return optuna.create_study(storage=storage(folder), study_name=STUDY_NAME, pruner=pruner(sweep),
                               direction="minimize" if sweep.goal == "min" else "maximize")


def load(folder: Path, sweep: Sweep) -> optuna.Study:
    return optuna.load_study(storage=storage(folder), study_name=STUDY_NAME, pruner=pruner(sweep))


def distribution(p: Parameter) -> BaseDistribution:
    if p.choices is not None:
        return CategoricalDistribution(list(p.choices))
    if p.integer:
        return IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    return FloatDistribution(float(p.low), float(p.high), log=p.log, step=p.step)


class GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, without its habit of stopping `study.optimize` after the last point: the driver asks
    and tells itself and ends at the grid's size (Sweep.planned_trials), where `Study.stop` would raise."""

    def after_trial(self, study, trial, state, values) -> None:
        pass


def trial_seed(seed: int, number: int) -> int:
    """The seed of the sampler that picks trial `number`: independent streams per trial, stable across processes."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{number}".encode()).digest()[:4], "big")


def sampler(sweep: Sweep, number: int) -> optuna.samplers.BaseSampler:
    seed = trial_seed(sweep.seed, number)
    if sweep.method == "grid":
        return GridSampler({p.key: p.grid() for p in sweep.parameters}, seed=seed)
    if sweep.method == "tpe":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, (sweep.trials or 10) // 3)))
    return optuna.samplers.RandomSampler(seed=seed)


def ask(study: optuna.Study, sweep: Sweep) -> optuna.Trial:
    """The next trial, its parameters picked by the sampler of its number."""
    study.sampler = sampler(sweep, len(study.get_trials(deepcopy=False)))
    return study.ask({p.key: distribution(p) for p in sweep.parameters})


def open_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Trials asked but never told: running now, or cut short by a kill."""
    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))


# --- what the sweep's record keeps ----------------------------------------------------------

STATES = {TrialState.COMPLETE: "ok", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed",
          TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}


def trial_rows(study: optuna.Study, runs: dict[int, dict]) -> list[dict]:
    """One row per trial: number, run, state, sampled parameters, objective value, intermediate values, run facts."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        run = runs.get(t.number, {})
        rows.append({"number": t.number, "run": run.get("run"), "status": run.get("status") or STATES[t.state],
                     "params": dict(t.params), "value": t.value if t.state == TrialState.COMPLETE else None,
                     "pruned_at_step": run.get("pruned_at_step"), "reason": run.get("reason"),
                     "intermediate": {str(k): v for k, v in sorted(t.intermediate_values.items())},
                     "duration_s": run.get("duration_s")})
    return rows


def best(rows: list[dict], goal: str) -> dict | None:
    done = [r for r in rows if r["value"] is not None and math.isfinite(r["value"])]
    if not done:
        return None
    sign = 1 if goal == "min" else -1
    top = min(done, key=lambda r: (sign * r["value"], r["number"]))  # a tie goes to the earlier trial
    return {k: top[k] for k in ("number", "run", "value", "params")}


def importances(study: optuna.Study, seed: int) -> dict[str, float]:
    """Each parameter's share of the objective's variance over the finished trials (Optuna's fANOVA), or {}
    when too few trials finished to say (fewer than two, or all alike)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(done) < 2 or len({t.value for t in done}) < 2:
        return {}
    try:
        found = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed))
    except (ValueError, RuntimeError):
        return {}
    return {name: round(float(value), 6) for name, value in found.items()}
