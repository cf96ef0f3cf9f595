"""Crash safety through real processes and real signals.

A run killed with SIGKILL at seeded-random steps and resumed each time ends exactly where an
uninterrupted run of the same config ends; `verify` calls a killed run interrupted, not tampered
with, and the next `trainer run` seals it as such; SIGTERM and SIGINT stop a run cleanly at a step
boundary with a checkpoint there; concurrent runs never lose or interleave ledger lines; a
non-finite loss fails the run with its step; an atomic write killed mid-way leaves the old file or
the new one. Nothing here sleeps for timing: each test waits for what it can observe (a progress
line, a temporary file appearing, a process exiting) under a watchdog that kills a process after
TIMEOUT seconds.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY_RL, run_cli
from trainer.tracking import integrity, ledger, timing
from trainer.tracking.files import remove_temporaries
from trainer.tracking import layout

TIMEOUT = 300
SEED = 20261126


def draw(purpose: str) -> random.Random:
    """The generator that draws the kill points of one test, seeded by SEED and the test's purpose, so every
    test kills at the same steps on every run, whichever tests run with it."""
    return random.Random(f"{SEED}:{purpose}")


PROGRESS = re.compile(r" step (\d+)/(\d+) ")

MLP = "experiments/names-mlp.yaml"
MLP_ARGS = ["train.steps=1200", "train.checkpoint_interval=400", "train.eval_interval=400", "train.log_interval=10",
            "sample.count=5", "train.threads=1"]
"""names-mlp for 1,200 steps (about 2 s of training), checkpointed at 400, 800 and 1,200, progress every 10 steps."""
RL = "experiments/market-pg.yaml"
RL_ARGS = [*TINY_RL, "train.iterations=60", "train.checkpoint_interval=20", "train.eval_interval=20", "train.log_interval=1"]
"""market-pg for 60 tiny updates, checkpointed every 20, progress after every update."""


# --- real processes -------------------------------------------------------------------------

class Trainer:
    """A real `python -m trainer ...` process whose progress (standard error) is read as it comes.

    A watchdog kills it after TIMEOUT seconds, so a hung process fails the test instead of hanging it."""

    def __init__(self, runs: Path, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "trainer", *args], cwd=REPO, text=True,
                                     env={**os.environ, "TRAINBOOK_RUNS_DIR": str(runs)},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.watchdog = threading.Timer(TIMEOUT, self.proc.kill)
        self.watchdog.start()
        self.lines: list[str] = []
        self.folder: Path | None = None

    def signal_at(self, step: int, sig: signal.Signals) -> int:
        """Send `sig` as soon as the process reports at least `step` steps done; returns the step it reported."""
        for line in self.proc.stderr:
            self.lines.append(line)
            if " started in " in line:
                self.folder = Path(line.split(" started in ", 1)[1].strip())
            done = PROGRESS.search(line)
            if done and int(done.group(1)) >= step:
                self.proc.send_signal(sig)
                return int(done.group(1))
        raise AssertionError(f"the process ended before step {step}:\n{''.join(self.lines[-15:])}")

    def end(self) -> int:
        """Wait for the process to exit; its exit status (negative: the signal that killed it)."""
        out, err = self.proc.communicate()
        self.watchdog.cancel()
        self.lines += err.splitlines(keepends=True)
        self.stdout = out
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return "".join(self.lines)


def model_rows(run: Path) -> list[dict]:
    return [timing.model_values(json.loads(line)) for line in (run / "metrics.jsonl").read_text().splitlines()]


def record(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.tmp"))


def verify(runs: Path) -> subprocess.CompletedProcess:
    return run_cli("trainer", "verify", runs_dir=runs)


def assert_same_result(run: Path, reference: Path, also: tuple[str, ...] = ()) -> None:
    """Metrics row by row, final metrics and every checkpoint value identical, timing aside; `also`: files byte for byte."""
    from trainer.reproduction import checkpoint_difference

    assert model_rows(run) == model_rows(reference)
    assert timing.model_values(record(run)["metrics"]) == timing.model_values(record(reference)["metrics"])
    for name in ("checkpoint.pt", "best.pt"):
        if (reference / name).exists():
            assert checkpoint_difference(run / name, reference / name) is None, name
    for name in also:
        assert (run / name).read_bytes() == (reference / name).read_bytes(), name


# --- one names-mlp run interrupted four times, with an RL run sealing it in between -----------

@dataclass
class Killed:
    """What could be seen right after one SIGKILL, before anything else touched the run."""

    step: int
    """the step the process had reported when the signal was sent"""
    status: str
    verify: subprocess.CompletedProcess
    temporaries: list[str]
    checkpoint_step: int | None
    metrics_steps: list[int]


@dataclass
class Stopped:
    """What could be seen right after a SIGTERM stopped the run."""

    step: int
    """the step the process had reported when the signal was sent"""
    exit_status: int
    stderr: str
    record: dict
    checkpoint_step: int
    metrics_steps: list[int]
    lines: list[dict]
    verify: subprocess.CompletedProcess


@dataclass
class Journey:
    runs: Path
    run: Path | None = None
    kills: list[Killed] = field(default_factory=list)
    sealing_run: Path | None = None
    """the market-pg run whose start sealed the dead names-mlp run (also the RL tests' uninterrupted reference)"""
    sealing_stderr: str = ""
    sealed: dict = field(default_factory=dict)
    """after the sealing run: the dead run's record, its ledger line, verify's result, its hidden temporaries"""
    stopped: Stopped | None = None
    resumes: list[Trainer] = field(default_factory=list)


def interruption_points() -> list[int]:
    """SIGKILL before the first checkpoint (400), between the first and second, between the second and the last
    (1,200); then SIGTERM after the resume from 800."""
    steps = draw("names-mlp interruptions")
    return [steps.randrange(20, 150, 10), steps.randrange(420, 760, 10), steps.randrange(820, 1100, 10),
            steps.randrange(830, 1100, 10)]


def metrics_steps(run: Path) -> list[int]:
    return [row["step"] for row in layout.read_metrics(run / layout.METRICS)]  # a line a kill cut short is left out


def observe_kill(trainer: Trainer, step: int, runs: Path) -> Killed:
    from trainer.tracking import checkpoint

    assert trainer.end() == -signal.SIGKILL, trainer.stderr
    run = trainer.folder
    state = checkpoint.load(run / layout.CHECKPOINT) if (run / layout.CHECKPOINT).exists() else None
    return Killed(step, record(run)["status"], verify(runs), temporaries(run), state and state["step"], metrics_steps(run))


def observe_stop(trainer: Trainer, step: int, runs: Path) -> Stopped:
    from trainer.tracking import checkpoint

    status = trainer.end()
    run = trainer.folder
    return Stopped(step, status, trainer.stderr, record(run), checkpoint.load(run / layout.CHECKPOINT)["step"],
                   metrics_steps(run), integrity.parse(runs)[0], verify(runs))


def resume_until(journey: Journey, step: int, sig: signal.Signals) -> tuple[Trainer, int]:
    resume = Trainer(journey.runs, "resume", str(journey.run))
    resume.folder = journey.run
    journey.resumes.append(resume)
    return resume, resume.signal_at(step, sig)


class Background:
    """A `trainer run` started at once in the background; its run folder is waited for only when needed."""

    def __init__(self, runs: Path, *args: str):
        self.trainer = Trainer(runs, "run", *args)
        self._folder: Path | None = None

    @property
    def folder(self) -> Path:
        if self._folder is None:
            assert self.trainer.end() == 0, self.trainer.stderr
            self._folder = Path(self.trainer.stdout.strip().splitlines()[-1])
        return self._folder


@pytest.fixture(scope="module")
def mlp_reference(tmp_path_factory) -> Background:
    """The uninterrupted names-mlp run, training on the second core while the interrupted ones train on the first."""
    return Background(tmp_path_factory.mktemp("mlp-reference"), MLP, *MLP_ARGS)


@pytest.fixture(scope="module")
def journey(tmp_path_factory, mlp_reference) -> Journey:
    """Start names-mlp; SIGKILL it before its first checkpoint; resume; SIGKILL it between checkpoints; run
    market-pg (which seals the dead run); resume; SIGKILL it again; resume; SIGTERM it; resume to the end."""
    journey = Journey(tmp_path_factory.mktemp("journey"))
    runs = journey.runs
    first, second, third, fourth = interruption_points()
    trainer = Trainer(runs, "run", MLP, *MLP_ARGS)
    reported = trainer.signal_at(first, signal.SIGKILL)
    journey.kills.append(observe_kill(trainer, reported, runs))
    journey.run = trainer.folder

    journey.kills.append(observe_kill(*resume_until(journey, second, signal.SIGKILL), runs))

    other = run_cli("trainer", "run", RL, *RL_ARGS, runs_dir=runs, timeout=TIMEOUT)
    assert other.returncode == 0, other.stderr
    journey.sealing_run, journey.sealing_stderr = Path(other.stdout.strip().splitlines()[-1]), other.stderr
    entries, problems = integrity.parse(runs)
    journey.sealed = {"record": record(journey.run), "lines": [e for e in entries if e["run"] == journey.run.name],
                      "chain_problems": problems, "verify": verify(runs), "temporaries": temporaries(journey.run)}

    journey.kills.append(observe_kill(*resume_until(journey, third, signal.SIGKILL), runs))
    journey.stopped = observe_stop(*resume_until(journey, fourth, signal.SIGTERM), runs)

    last = Trainer(runs, "resume", str(journey.run))
    journey.resumes.append(last)
    assert last.end() == 0, last.stderr
    return journey


@pytest.mark.slow
def test_names_mlp_killed_at_three_random_steps_and_stopped_once_resumes_to_the_uninterrupted_result(
        journey, mlp_reference):
    assert [k.status for k in journey.kills] == ["running"] * 3  # every kill landed mid-run
    assert_same_result(journey.run, mlp_reference.folder,
                       also=("samples.txt", "embeddings.json", "introspection.json", "loss.png"))
    final = record(journey.run)
    assert final["status"] == "ok" and final["reason"] is None
    assert verify(journey.runs).returncode == 0


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_starts_over_and_later_continues_from_its_last(journey):
    before, between, later = journey.kills
    assert before.checkpoint_step is None and before.metrics_steps[-1] >= before.step  # rows reach the folder as logged
    assert between.checkpoint_step == 400 <= between.step and later.checkpoint_step == 800 <= later.step
    history = record(journey.run)["resume_history"]
    assert [h["step"] for h in history] == [0, 400, 800, journey.stopped.checkpoint_step]
    assert [h["previous_status"] for h in history] == ["running", "interrupted", "running", "interrupted"]
    assert history[0]["checkpoint_sha256"] is None and all(len(h["checkpoint_sha256"]) == 64 for h in history[1:])
    assert "(no checkpoint yet: starting over)" in journey.resumes[0].stderr


@pytest.mark.slow
def test_verify_names_a_killed_run_as_interrupted_not_as_tampering(journey):
    for killed in journey.kills:
        out = killed.verify.stdout
        assert killed.verify.returncode == 0, out
        assert re.search(rf"^interrupted {journey.run.name}: interrupted: .*python -m trainer resume", out, re.M), out
        assert "FAILED" not in out and "LEDGER" not in out


@pytest.mark.slow
def test_a_killed_run_keeps_complete_files_and_a_loadable_checkpoint(journey):
    for killed in journey.kills[1:]:
        # rows are appended as they are logged, so they run past the checkpoint to the step the process had reported,
        # every step in order; resuming cuts them back (the resumed run's rows equal the reference's, above)
        steps = killed.metrics_steps
        assert steps == sorted(steps) and set(steps) == set(range(1, steps[-1] + 1))
        assert steps[-1] >= killed.step > killed.checkpoint_step
        assert all(name.startswith(".") for name in killed.temporaries)  # leftovers of cut writes stay hidden


@pytest.mark.slow
def test_the_next_run_seals_a_killed_run_as_interrupted_in_the_ledger(journey):
    sealed = journey.sealed
    assert f"note: run {journey.run.name} had stopped without sealing its record; sealed it as interrupted" in journey.sealing_stderr
    (line,) = sealed["lines"]
    assert line["status"] == "interrupted" and sealed["chain_problems"] == []
    dead = sealed["record"]
    assert dead["status"] == "interrupted" and dead["sealed"]["ledger_line"] == line["seq"]
    assert "stopped without sealing" in dead["reason"] and "step 400" in dead["reason"]
    assert f"python -m trainer resume {journey.run}" in dead["reason"]
    assert sealed["temporaries"] == [] and not any(name.startswith(".") for name in dead["artifacts"])
    assert {"checkpoint.pt", "metrics.jsonl", "config.yaml"} <= set(dead["artifacts"])
    assert sealed["verify"].returncode == 0, sealed["verify"].stdout
    assert f"ok      {journey.run.name}" in sealed["verify"].stdout


def assert_stopped_cleanly(stopped: Stopped, run: Path, sig: signal.Signals) -> None:
    """Exit 130, the record sealed as interrupted at the step it stopped after, a checkpoint and the metrics there."""
    assert stopped.exit_status == 130, stopped.stderr
    reason = stopped.record["reason"]
    at = re.fullmatch(rf"stopped by {sig.name} after (?:step|update) (\d+), with a checkpoint there", reason)
    assert at and stopped.record["status"] == "interrupted", reason
    assert int(at.group(1)) == stopped.record["stopped_at_step"] == stopped.checkpoint_step == stopped.metrics_steps[-1] >= stopped.step
    assert stopped.lines[-1]["run"] == run.name and stopped.lines[-1]["status"] == "interrupted"
    assert stopped.verify.returncode == 0, stopped.verify.stdout
    assert f"continue it with: python -m trainer resume {run}" in stopped.stderr


@pytest.mark.slow
def test_sigterm_stops_a_run_at_a_step_boundary_with_a_checkpoint_there(journey):
    assert_stopped_cleanly(journey.stopped, journey.run, signal.SIGTERM)
    assert journey.stopped.checkpoint_step % 400  # a step of its own, not one of the periodic checkpoints


@pytest.mark.slow
def test_every_interruption_and_resume_is_in_the_ledger_and_the_chain_verifies(journey):
    entries, problems = integrity.parse(journey.runs)
    assert problems == []
    assert [(e["run"], e["status"]) for e in entries] == [
        (journey.run.name, "interrupted"), (journey.sealing_run.name, "ok"),
        (journey.run.name, "interrupted"), (journey.run.name, "ok")]


# --- other engines --------------------------------------------------------------------------

@pytest.mark.slow
def test_rl_run_killed_between_checkpoints_resumes_to_the_uninterrupted_result(journey, tmp_path):
    step = draw("market-pg SIGKILL").randrange(25, 45)
    trainer = Trainer(tmp_path, "run", RL, *RL_ARGS)
    killed = observe_kill(trainer, trainer.signal_at(step, signal.SIGKILL), tmp_path)
    assert killed.status == "running" and killed.checkpoint_step in (20, 40) and killed.checkpoint_step <= killed.step
    resumed = run_cli("trainer", "resume", str(trainer.folder), timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr
    reference = journey.sealing_run  # the same config, never interrupted
    assert_same_result(trainer.folder, reference, also=("scenarios.json", "trace-bull.json", "trace-crash.json"))
    assert record(trainer.folder)["resumed_from"]["step"] == killed.checkpoint_step
    assert verify(tmp_path).returncode == 0


@pytest.mark.slow
def test_sigint_stops_an_rl_run_cleanly_and_resume_reaches_the_uninterrupted_result(journey, tmp_path):
    step = draw("market-pg SIGINT").randrange(22, 38)
    trainer = Trainer(tmp_path, "run", RL, *RL_ARGS)
    stopped = observe_stop(trainer, trainer.signal_at(step, signal.SIGINT), tmp_path)
    assert_stopped_cleanly(stopped, trainer.folder, signal.SIGINT)
    resumed = run_cli("trainer", "resume", str(trainer.folder), timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_result(trainer.folder, journey.sealing_run)
    assert record(trainer.folder)["resumed_from"]["step"] == stopped.checkpoint_step
    assert record(trainer.folder)["resumed_from"]["previous_status"] == "interrupted"
    assert "stopped_at_step" not in record(trainer.folder)  # it describes the stopped session; resume_history keeps it
    assert verify(tmp_path).returncode == 0


# --- non-finite losses ----------------------------------------------------------------------

DIVERGING = {
    # a weight decay this large multiplies every weight by -2 each step, until the loss overflows
    "names-mlp": ([MLP, *MLP_ARGS, "optim.weight_decay=30"], r"training loss became nan at step (\d+)"),
    "market-pg": ([RL, *RL_ARGS, "train.iterations=200", "optim.weight_decay=3000"],
                  r"policy-gradient loss became (?:inf|-inf|nan) at update (\d+)"),
}


def test_a_non_finite_loss_fails_the_run_at_its_step_and_keeps_the_curve_before_it(tmp_path):
    trainers = {name: Trainer(tmp_path / name, "run", *args) for name, (args, _) in DIVERGING.items()}  # side by side
    for name, trainer in trainers.items():
        runs, reason = tmp_path / name, DIVERGING[name][1]
        assert trainer.end() == 1, trainer.stderr
        (run,) = [p for p in runs.iterdir() if p.is_dir()]
        failed = record(run)
        step = int(re.fullmatch(reason, failed["reason"]).group(1))
        assert failed["status"] == "failed" and failed["failed_at_step"] == step > 1
        assert metrics_steps(run)[0] == 1 and metrics_steps(run)[-1] == step - 1  # every step before the failing one
        assert f"run {run.name} failed: {failed['reason']}" in trainer.stderr
        (line,) = integrity.parse(runs)[0]
        assert line["status"] == "failed" and line["run"] == run.name
        assert verify(runs).returncode == 0


# --- concurrency ----------------------------------------------------------------------------

@pytest.mark.slow
def test_eight_concurrent_runs_on_one_runs_folder_add_eight_chained_lines(tmp_path):
    from benchmarks.synthetic_runs import make_runs

    make_runs(tmp_path, 3)  # a ledger that already has lines
    before = ledger.read_lines(tmp_path)
    trainers = [Trainer(tmp_path, "run", RL, *TINY_RL, "train.iterations=2", "eval.paths=1", f"seed={seed}")
                for seed in range(8)]
    for trainer in trainers:
        assert trainer.end() == 0, trainer.stderr
    lines = ledger.read_lines(tmp_path)
    assert lines[:len(before)] == before and len(lines) == len(before) + 8
    entries, problems = integrity.chain(lines)
    assert problems == [] and [e["seq"] for e in entries] == list(range(1, len(lines) + 1))
    folders = {Path(t.stdout.strip().splitlines()[-1]).name for t in trainers}
    assert {e["run"] for e in entries[len(before):]} == folders and len(folders) == 8
    assert all(record(tmp_path / run)["status"] == "ok" for run in folders)
    result = verify(tmp_path)
    assert result.returncode == 0 and len(re.findall(r"^ok ", result.stdout, re.M)) == 3 + 8, result.stdout


def append_lines(runs: Path, worker: int, count: int, start: multiprocessing.synchronize.Event) -> None:
    """One of many processes sealing `count` records into one ledger at once: half through `seal`, half `append`."""
    from trainer.tracking.files import write_json

    start.wait()
    for i in range(count):
        run_id = f"stress-{worker}-20260101T000000Z-{i:07x}"
        folder = runs / run_id
        folder.mkdir()
        rec = {"run_id": run_id, "experiment": f"stress-{worker}", "status": "ok"}
        if i % 2:
            ledger.seal(runs, run_id, rec)
        else:
            write_json(folder / layout.RECORD, rec)
            ledger.append(runs, run_id, rec["experiment"], "ok")


def test_the_ledger_takes_appends_from_eight_processes_at_once_without_losing_or_mixing_lines(tmp_path):
    workers, each = 8, 25
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    processes = [spawn.Process(target=append_lines, args=(tmp_path, w, each, start)) for w in range(workers)]
    for p in processes:
        p.start()
    start.set()
    for p in processes:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    lines = ledger.read_lines(tmp_path)
    entries, problems = integrity.chain(lines)
    assert problems == [] and len(entries) == len(lines) == workers * each
    assert sorted(e["run"] for e in entries) == sorted(f"stress-{w}-20260101T000000Z-{i:07x}"
                                                       for w in range(workers) for i in range(each))
    for w in range(workers):  # each process's lines in the order it wrote them
        mine = [e["run"] for e in entries if e["experiment"] == f"stress-{w}"]
        assert mine == sorted(mine)
    assert integrity.verify(tmp_path).problems == 0


# --- atomic writes --------------------------------------------------------------------------

WRITER = """
import sys
from pathlib import Path
from trainer.tracking.files import write_bytes

target, contents = Path(sys.argv[1]), [b"old " * (2 << 20), b"new!" * (3 << 20)]  # 8 MiB, then 12 MiB
for i in range(10**9):
    write_bytes(target, contents[i % 2])
    print(i + 1, flush=True)
"""


def test_a_write_killed_mid_way_leaves_the_old_or_the_new_file_never_a_partial_one(tmp_path):
    target = tmp_path / "big.bin"
    old, new = b"old " * (2 << 20), b"new!" * (3 << 20)
    kills = draw("atomic write")
    left_behind = []
    for _ in range(8):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        watchdog = threading.Timer(TIMEOUT, writer.kill)
        watchdog.start()
        wanted = kills.randint(1, 4)
        for line in writer.stdout:  # wait until `wanted` writes have finished ...
            if int(line) >= wanted:
                break
        deadline = time.monotonic() + TIMEOUT
        while not any(tmp_path.glob(".*.tmp")):  # ... and the next one has begun
            assert time.monotonic() < deadline, "the writer never began another write"
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        watchdog.cancel()
        writer.stdout.close()
        assert writer.returncode == -signal.SIGKILL
        assert target.read_bytes() in (old, new)
        left_behind += remove_temporaries(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]
    assert left_behind, "no kill landed inside a write, so nothing was tested"
