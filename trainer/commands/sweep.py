"""`python -m trainer sweep FILE`: search an experiment's settings, every trial a sealed run, the sweep sealed too.

    sweep FILE [--workers N] [--backend local|ray --address ADDR]   a new sweep into the runs folder
    sweep --resume SWEEP_FOLDER                                     continue one that was stopped or killed

The sweep file (trainer/sweeps/space.py) is checked against its base experiment's schema before anything is
written. The sweep's folder is made like a run folder (record, resolved sweep file as config.yaml, lock) and
holds the Optuna study. Trials are `python -m trainer trial` processes, `workers` at once, locally or as Ray
tasks; each writes a normal run whose record names the sweep, the trial number and its parameters. The
driver alone asks the study for trials and tells it how each ended, from the trial's sealed record: ok (its
objective), pruned, or failed; a failed trial is recorded and the sweep goes on. At the end the sweep's
record gets the trial list, the best trial and the parameter importances, its figures are drawn, and it is
sealed with its own ledger line.

A resume reopens the study: every trial told stays told (none runs twice); a trial asked but never told is
finished by the usual run rules: its run, if interrupted, continues with `trainer resume`; if it never
started, it runs now with the parameters it was given; if it was sealed before the kill, it is told as is.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from pathlib import Path

from ..errors import UsageError
from ..sweeps import backends, space, study as studies
from ..tracking import layout, locks, picks
from ..tracking.files import remove_temporaries, sha256_bytes
from ..tracking.run import Run, RunBusy
from ..api import folders
from . import EXIT_INTERRUPTED, EXIT_OK, share_of_cores
from ..api.runs import ledger_ready

FINAL = ("ok", "pruned", "failed")


def trial_runs(root: Path, sweep_id: str) -> dict[int, Path]:
    """The run folder of each trial of the sweep `sweep_id` in `root`, by trial number (the newest if several)."""
    found = {}
    for folder in layout.run_folders(root):
        try:
            record = json.loads((folder / layout.RECORD).read_text())
        except (OSError, ValueError):
            continue
        tag = picks.trial_tag(record)
        if tag is not None and tag.get("id") == sweep_id:
            found[tag["trial"]] = folder
    return found


def threads_per_trial(sweep: space.Sweep) -> int | None:
    """Each trial's share of this machine's cores, unless the sweep sets train.threads itself."""
    if "train.threads" in sweep.fixed or any(p.key == "train.threads" for p in sweep.parameters):
        return None
    return share_of_cores(sweep.workers)


class Driver:
    """One session of a sweep: keeps `workers` trials in flight, tells the study how each ended, seals the sweep."""

    def __init__(self, run: Run, sweep: space.Sweep, study, backend, threads: int | None):
        self.run, self.sweep, self.study, self.backend, self.threads = run, sweep, study, backend, threads
        self.root, self.stopping, self.interrupted = run.path.parent, False, False

    # --- trials ---------------------------------------------------------------------------------

    def trial_argv(self, number: int) -> list[str]:
        argv = ["-m", "trainer", "trial", str(self.run.path.resolve()), str(number)]
        return argv + (["--threads", str(self.threads)] if self.threads else [])

    def more(self) -> bool:
        if self.stopping:
            return False
        planned = self.sweep.planned_trials()
        if planned is not None and len(self.study.get_trials(deepcopy=False)) >= planned:
            return False
        return self.sweep.minutes is None or self.run.elapsed_s() < self.sweep.minutes * 60

    def settle(self, number: int, code: int) -> None:
        """Tell the study how trial `number` ended, read from its sealed run (or from its exit status when it has none)."""
        folder = trial_runs(self.root, self.run.id).get(number)
        record = json.loads((folder / layout.RECORD).read_text()) if folder else {}
        status = record.get("status")
        if status == "running" or status == "interrupted" or code == EXIT_INTERRUPTED:
            self.interrupted = True  # left open in the study: a resume continues it
            print(f"trial {number} interrupted; continue the sweep with: python -m trainer sweep --resume {self.run.path}",
                  file=sys.stderr)
            return
        value = (record.get("metrics") or {}).get(self.sweep.metric) if status == "ok" else None
        if status == "ok" and isinstance(value, (int, float)) and math.isfinite(value):
            self.study.tell(number, float(value))
            shown = f"{self.sweep.metric} {value:.4f}"
        elif status == "pruned":
            self.study.tell(number, state=studies.TrialState.PRUNED)
            shown = f"pruned at step {record.get('pruned_at_step')}"
        else:
            self.study.tell(number, state=studies.TrialState.FAIL)
            why = record.get("reason") or (f"no {self.sweep.metric} in its final metrics" if status == "ok" else
                                           f"the trial process exited with status {code} before its run started")
            shown = f"failed: {why}"
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params(number).items())
        print(f"trial {number} ({params}): {shown}" + (f" [{folder.name}]" if folder else ""), file=sys.stderr)

    def params(self, number: int) -> dict:
        return next(t.params for t in self.study.get_trials(deepcopy=False) if t.number == number)

    # --- the session ----------------------------------------------------------------------------

    def drive(self, queued: list[tuple[int, list[str]]]) -> int:
        in_flight: dict = {}
        previous = {s: signal.signal(s, self.stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while True:
                while len(in_flight) < self.sweep.workers and (queued or self.more()) and not self.stopping:
                    number, argv = queued.pop(0) if queued else (studies.ask(self.study, self.sweep).number, None)
                    in_flight[self.backend.submit(argv or self.trial_argv(number), os.getcwd(), {})] = number
                if not in_flight:
                    break
                for handle in self.backend.wait_one(list(in_flight)):
                    self.settle(in_flight.pop(handle), self.backend.status(handle))
                self.stopping = self.stopping or self.interrupted
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.backend.close()
        return self.seal()

    def stop(self, signum, frame) -> None:
        """SIGINT/SIGTERM: start no more trials; the running ones stop at a step and seal themselves interrupted."""
        if not self.stopping:
            print(f"{signal.Signals(signum).name}: stopping the sweep after its running trials stop", file=sys.stderr)
        self.stopping = self.interrupted = True
        self.backend.stop()

    def seal(self) -> int:
        runs = {}
        for number, folder in trial_runs(self.root, self.run.id).items():
            record = json.loads((folder / layout.RECORD).read_text())
            runs[number] = {"run": folder.name, "status": record.get("status"), "reason": record.get("reason"),
                            "pruned_at_step": record.get("pruned_at_step"), "duration_s": record.get("duration_s")}
        rows = studies.trial_rows(self.study, runs)
        best = studies.best(rows, self.sweep.goal)
        summary = {**self.run.record["sweep"], "backend": self.backend.name, "workers": self.sweep.workers,
                   "threads_per_trial": self.threads, "trials": rows, "best": best,
                   "importances": studies.importances(self.study, self.sweep.seed)}
        self.run.record["sweep"] = summary
        from ..figures import sweep as figures  # matplotlib: half a second at the start of every command, when only a sealing sweep draws
        for name, title, caption in figures.draw(summary, self.sweep.metric, self.sweep.goal, self.run.path, self.sweep.name):
            self.run.add_figure(name, title, caption)
        counts = {s: sum(r["status"] == s for r in rows) for s in FINAL}
        metrics = {"trials": len(rows), **{f"trials_{s}": n for s, n in counts.items()},
                   "best_value": best["value"] if best else None}
        status = "interrupted" if self.interrupted else "ok"
        self.run.conclude(status, metrics, "stopped before its budget was spent; continue it with: python -m trainer sweep "
                          f"--resume {self.run.path}" if self.interrupted else None)
        self.run.seal()
        self.run.release()
        if best:
            print(f"sweep {self.run.id} {status}: {len(rows)} trials ({counts['ok']} ok, {counts['pruned']} pruned, "
                  f"{counts['failed']} failed); best: trial {best['number']}, {self.sweep.metric} {best['value']:.4f} "
                  f"[{best['run']}]", file=sys.stderr)
        print(self.run.path)
        return EXIT_INTERRUPTED if self.interrupted else EXIT_OK


# --- starting and resuming ------------------------------------------------------------------------

def start(args: argparse.Namespace) -> int:
    sweep = space.load(args.file, workers=args.workers)
    root = folders.runs_root(args.runs_dir)
    ledger_ready(root)
    threads = threads_per_trial(sweep)
    backend = backends.make(args.backend, sweep.workers, threads or 1, args.address)
    resolved = sweep.as_file()
    run = Run.create(root, experiment=sweep.name, config=resolved, config_sha256=sha256_bytes(space.dump(resolved).encode()),
                     config_yaml=space.dump(resolved), source=args.file, overrides=[], seeds={"seed": sweep.seed}, data={},
                     extra={"kind": "sweep", "sweep": sweep.as_record()})
    print(f"sweep {run.id} started in {run.path}: {sweep.method} search of {len(sweep.parameters)} parameter(s), "
          f"{sweep.planned_trials() or 'unlimited'} trials, {sweep.workers} at once ({backend.name})", file=sys.stderr)
    return Driver(run, sweep, studies.create(run.path, sweep), backend, threads).drive([])


def _open_trials(root: Path, folder: Path, study) -> tuple[list[int], list[tuple[int, list[str]]]]:
    """(trials already sealed, trials to run again or continue) among those the study holds open."""
    runs, sealed, queued = trial_runs(root, folder.name), [], []
    for trial in studies.open_trials(study):
        run = runs.get(trial.number)
        record = json.loads((run / layout.RECORD).read_text()) if run else None
        if record is None:
            queued.append((trial.number, None))  # never started: run it now, with the parameters it was given
        elif record.get("status") in FINAL:
            sealed.append(trial.number)  # sealed before the kill, never told
        elif record.get("status") == "running" and locks.held(run / layout.LOCK):
            raise UsageError(str(run), "", f"trial {trial.number}'s run is still training (process {record.get('pid')}); "
                             "wait for it, or stop it, then resume the sweep")
        else:
            queued.append((trial.number, ["-m", "trainer", "resume", str(run.resolve())]))
    return sealed, queued


def resume(args: argparse.Namespace) -> int:
    folder = Path(args.resume)
    record = folders.read_record(folder)
    if record.get("kind") != "sweep":
        raise UsageError(str(folder), "", "not a sweep folder (its record is a run's); continue a run with: python -m trainer resume")
    if record.get("status") == "ok":
        raise UsageError(str(folder / layout.RECORD), "status", "the sweep already finished (status ok); there is nothing to resume")
    sweep = space.load(folder / layout.CONFIG, workers=args.workers)
    root = folder.parent
    ledger_ready(root)
    study = studies.load(folder, sweep)
    sealed, queued = _open_trials(root, folder, study)
    threads = threads_per_trial(sweep)
    backend = backends.make(args.backend, sweep.workers, threads or 1, args.address)
    try:
        run = Run.open(folder, claim=True)
    except RunBusy as e:
        raise UsageError(str(folder), "", str(e).replace("this run", "this sweep")) from None
    remove_temporaries(folder)
    told = len(study.get_trials(deepcopy=False)) - len(studies.open_trials(study))
    run.mark_resumed(step=told, checkpoint_sha256=None, elapsed_s=record.get("duration_s") or 0.0, facts={})
    print(f"sweep {run.id} resumed: {told} trials told, {len(sealed)} sealed but untold, {len(queued)} to finish",
          file=sys.stderr)
    driver = Driver(run, sweep, study, backend, threads)
    for number in sealed:
        driver.settle(number, EXIT_OK)
    queued = [(n, argv or driver.trial_argv(n)) for n, argv in queued]
    return driver.drive(queued)


def command(args: argparse.Namespace) -> int:
    if bool(args.file) == bool(args.resume):
        raise UsageError("command line", "sweep", "give a sweep file, or --resume and a sweep folder (not both)")
    return resume(args) if args.resume else start(args)
