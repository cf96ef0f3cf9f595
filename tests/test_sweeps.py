"""Sweeps: a search space checked before anything runs, trials as sealed runs N at once, the sweep sealed on the
ledger and verified, a SIGKILL survived, the same trials on a Ray head, and a page for it. Real processes and
real (tiny) training throughout: 60 steps of names-mlp on 3,000 surnames per trial."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
import yaml

from tests.conftest import REPO, run_cli
from trainer import cli
from trainer.engines.contract import TrialPruned
from trainer.sweeps import pruning, space, study as studies
from trainer.tracking import layout

TRIAL_STEPS = 60


def words_file(folder: Path) -> Path:
    """3,000 real census surnames, so each trial loads its data in milliseconds."""
    import names
    lines = (Path(names.__file__).parent / "dist.all.last").read_text().splitlines()[:3000]
    path = folder / "surnames.txt"
    path.write_text("".join(line.split()[0].lower() + "\n" for line in lines))
    return path


def sweep_file(folder: Path, **changes) -> Path:
    body = {
        "name": "tiny-sweep", "base": str(REPO / "experiments" / "names-mlp.yaml"),
        "fixed": {"train.steps": TRIAL_STEPS, "train.eval_interval": 20, "train.log_interval": 20, "introspect.interval": 0,
                  "sample.count": 1, "data.path": str(words_file(folder))},
        "method": "random", "seed": 3, "budget": {"trials": 4}, "workers": 2,
        "parameters": {"optim.lr": {"low": 0.01, "high": 1.0, "log": True}, "model.n_hidden": {"choices": [16, 32, 64]}},
    }
    body.update(changes)
    path = folder / "tiny-sweep.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def sweep(*args: str, runs: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_cli("trainer", "sweep", *args, "--runs-dir", str(runs), timeout=timeout)


def records(runs: Path) -> dict[str, dict]:
    return {f.name: json.loads((f / layout.RECORD).read_text()) for f in layout.run_folders(runs)}


def the_sweep(runs: Path) -> tuple[Path, dict]:
    (name, record), = [(n, r) for n, r in records(runs).items() if r.get("kind") == "sweep"]
    return runs / name, record


def configurations(runs: Path) -> dict[int, dict]:
    """Trial number -> sampled parameters, read from the trials' own run records."""
    found = {}
    for name, record in records(runs).items():
        if record.get("kind") != "sweep" and record.get("sweep"):
            assert record["sweep"]["trial"] not in found, f"trial {record['sweep']['trial']} has two runs"
            found[record["sweep"]["trial"]] = record["sweep"]["params"]
    return found


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """(sweep file, runs folder) of one uninterrupted 4-trial sweep, 2 workers."""
    folder = tmp_path_factory.mktemp("sweep")
    file, runs = sweep_file(folder), folder / "runs"
    result = sweep(str(file), runs=runs)
    assert result.returncode == 0, result.stderr
    return file, runs


# --- the sweep file -----------------------------------------------------------------------------

BAD = {
    "unknown key": ({"parameters": {"optim.lr": {"low": 0.01, "high": 1.0}}, "budgets": {"trials": 2}}, "budgets: unknown key"),
    "empty choices": ({"parameters": {"model.n_hidden": {"choices": []}}}, "parameters.model.n_hidden.choices: expected a non-empty list"),
    "inverted range": ({"parameters": {"optim.lr": {"low": 1.0, "high": 0.01}}}, "parameters.optim.lr: low must be below high"),
    "log range with 0": ({"parameters": {"optim.lr": {"low": 0, "high": 1.0, "log": True}}}, "parameters.optim.lr.low: a log range needs low > 0"),
    "range outside the schema's": ({"parameters": {"optim.lr": {"low": 0.1, "high": 20.0}}}, "parameters.optim.lr.high: must be <= 10"),
    "setting the engine lacks": ({"parameters": {"model.n_layer": {"choices": [1, 2]}}}, "has no setting model.n_layer"),
    "setting a trial cannot change": ({"parameters": {"model.type": {"choices": ["mlp", "gpt"]}}}, "names the experiment"),
    "pruner on a metric never logged": ({"pruner": {"type": "median", "metric": "train_loss"}}, "pruner.metric: the 'mlp' engine logs val_loss"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_sweep_file_is_one_line_exit_2_and_nothing_written(case, tmp_path, capsys):
    changes, expected = BAD[case]
    file, runs = sweep_file(tmp_path, **changes), tmp_path / "runs"
    code = cli.main(["sweep", str(file), "--runs-dir", str(runs)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and str(file) in err and expected in err, err
    assert not runs.exists()


def test_a_sweep_file_reads_back_from_its_resolved_form(tmp_path):
    loaded = space.load(sweep_file(tmp_path))
    again = tmp_path / "resolved.yaml"
    again.write_text(space.dump(loaded.as_file()))
    assert space.load(again) == loaded.__class__(**{**loaded.__dict__, "source": str(again)})


def test_trial_configurations_depend_on_seed_and_number_only(tmp_path):
    s = space.load(sweep_file(tmp_path))
    first, second = optuna.create_study(), optuna.create_study()
    picked = [studies.ask(first, s).params for _ in range(3)]
    second.enqueue_trial(picked[0])  # a different history before trial 1 ...
    second.ask()
    assert studies.ask(second, s).params == picked[1]  # ... the same trial 1


# --- a sweep, sealed and verified ---------------------------------------------------------------

def test_every_trial_is_a_sealed_run_naming_its_sweep_and_the_sweep_is_sealed_too(reference):
    _, runs = reference
    folder, record = the_sweep(runs)
    trials = {n: r for n, r in records(runs).items() if r.get("kind") != "sweep"}
    assert len(trials) == 4 and all(r["status"] == "ok" and r["sweep"]["id"] == folder.name for r in trials.values())
    assert sorted(configurations(runs)) == [0, 1, 2, 3]
    assert all(r["config"]["train"]["threads"] == 1 for r in trials.values())  # 2 cores shared by 2 workers
    assert record["status"] == "ok" and len(record["sweep"]["trials"]) == 4
    best = record["sweep"]["best"]
    assert best["value"] == min(r["metrics"]["val_loss"] for r in trials.values())
    assert trials[best["run"]]["sweep"]["params"] == best["params"]
    lines = [json.loads(line) for line in (runs / layout.LEDGER).read_text().splitlines()]
    assert [e["run"] for e in lines].count(folder.name) == 1 and len(lines) == 5
    assert {layout.STUDY, *layout.SWEEP_FIGURES[:3]} <= set(record["artifacts"])


def test_verify_covers_the_sweep_and_names_an_edited_study(reference, tmp_path):
    _, runs = reference
    assert run_cli("trainer", "verify", "--runs-dir", str(runs)).returncode == 0
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    folder, _ = the_sweep(copy)
    with open(folder / layout.STUDY, "a") as journal:
        journal.write("{}\n")
    result = run_cli("trainer", "verify", "--runs-dir", str(copy))
    assert result.returncode == 1 and f"{layout.STUDY}: edited" in result.stdout + result.stderr


def test_the_best_trial_reproduces_identical_and_the_sweep_its_configurations(reference):
    file, runs = reference
    folder, record = the_sweep(runs)
    result = run_cli("trainer", "reproduce", str(runs / record["sweep"]["best"]["run"]))
    assert result.returncode == 0 and "identical" in result.stdout, result.stderr
    from trainer.commands import reproduce_sweep
    assert reproduce_sweep.configurations(space.load(folder / layout.CONFIG), record["sweep"]["trials"]) == [None] * 4


# --- killed and resumed ----------------------------------------------------------------------------

@pytest.mark.slow
def test_a_sweep_killed_with_sigkill_resumes_to_the_same_trials_each_sealed_once(reference, tmp_path):
    file, reference_runs = reference
    runs = tmp_path / "runs"
    env = {**os.environ, "TRAINBOOK_RUNS_DIR": str(runs)}
    process = subprocess.Popen([sys.executable, "-m", "trainer", "sweep", str(file)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:  # wait (on the ledger, not the clock) until one trial is sealed, then kill the sweep and its trials
        while process.poll() is None and len((runs / layout.LEDGER).read_bytes().splitlines() if (runs / layout.LEDGER).exists() else []) < 1:
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    folder, record = the_sweep(runs)
    assert record["status"] == "running"  # killed: unsealed
    result = sweep("--resume", str(folder), runs=runs)
    assert result.returncode == 0, result.stderr
    assert configurations(runs) == configurations(reference_runs)
    _, record = the_sweep(runs)
    assert record["status"] == "ok" and [t["status"] for t in record["sweep"]["trials"]] == ["ok"] * 4
    assert run_cli("trainer", "verify", "--runs-dir", str(runs)).returncode == 0


# --- pruning -------------------------------------------------------------------------------------

def test_the_reporter_prunes_a_trial_worse_than_its_peers_at_the_same_step():
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    done = study.ask()
    done.report(2.0, 20)
    study.tell(done, 2.0)
    reporter = pruning.Reporter(study.ask(), "val_loss")
    reporter({"step": 20, "train_loss": 9.0})  # not the watched metric: nothing happens
    with pytest.raises(TrialPruned) as stopped:
        reporter({"step": 20, "val_loss": 3.0})
    assert stopped.value.step == 20


@pytest.mark.slow
def test_a_pruned_trial_is_sealed_pruned_with_its_step_and_the_sweep_goes_on(tmp_path):
    changes = {"method": "grid", "workers": 1, "parameters": {"optim.lr": {"choices": [0.5, 0.0001]}},
               "pruner": {"type": "median", "startup_trials": 1}, "budget": {}}
    seed = next(seed for seed in range(50) if studies.ask(optuna.create_study(), space.load(
        sweep_file(tmp_path, **changes, seed=seed))).params["optim.lr"] == 0.5)  # the good rate first, the bad one pruned
    file, runs = sweep_file(tmp_path, **changes, seed=seed), tmp_path / "runs"
    result = sweep(str(file), runs=runs)
    assert result.returncode == 0, result.stderr
    _, record = the_sweep(runs)
    first, second = record["sweep"]["trials"]
    assert (first["status"], second["status"], second["pruned_at_step"]) == ("ok", "pruned", 20)
    assert records(runs)[second["run"]]["status"] == "pruned"
    assert run_cli("trainer", "verify", "--runs-dir", str(runs)).returncode == 0
    assert "pruned" in run_cli("trainer", "resume", str(runs / second["run"])).stderr


# --- on a Ray head ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_head(ray: Path, port: int, temp: Path) -> subprocess.Popen:
    """A real Ray head on 127.0.0.1, in a process group of its own, so the test ends exactly the processes it started
    (`ray stop` would end every Ray process of the machine, other people's included)."""
    head = subprocess.Popen([str(ray), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
                             "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", str(temp)],
                            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    for line in head.stdout:  # ready when it says so (or gone, when it could not start)
        if "Ray runtime started" in line:
            return head
    raise AssertionError(f"ray start --head exited with status {head.wait()}")


def stop(head: subprocess.Popen) -> None:
    os.killpg(head.pid, signal.SIGTERM)  # --block: the head stops the processes it started
    try:
        head.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(head.pid, signal.SIGKILL)  # whatever of the group is left
    except ProcessLookupError:
        pass


@pytest.mark.slow
def test_a_ray_head_runs_the_same_trials_with_the_same_verdicts(reference, tmp_path):
    ray = Path(sys.executable).with_name("ray")
    if not ray.exists():
        pytest.skip("ray is not installed in this environment")
    file, reference_runs = reference
    port, runs, temp = free_port(), tmp_path / "runs", Path(tempfile.mkdtemp(prefix="tb-ray-"))  # short: Ray's socket paths
    head = ray_head(ray, port, temp)
    try:
        result = sweep(str(file), "--backend", "ray", "--address", f"127.0.0.1:{port}", runs=runs)
        assert result.returncode == 0, result.stderr
    finally:
        stop(head)
        shutil.rmtree(temp, ignore_errors=True)
    assert configurations(runs) == configurations(reference_runs)
    ours, theirs = the_sweep(runs)[1]["sweep"], the_sweep(reference_runs)[1]["sweep"]
    assert ours["backend"] == "ray"
    assert [(t["status"], t["value"]) for t in ours["trials"]] == [(t["status"], t["value"]) for t in theirs["trials"]]


# --- the site ------------------------------------------------------------------------------------

def test_the_sweep_page_lists_every_trial_links_the_best_and_the_experiment_lists_the_sweep(reference):
    from generators import catalog, sweep_pages
    from generators.runs import load_runs
    _, runs = reference
    folder, record = the_sweep(runs)
    for target in ("hugo", "mkdocs"):
        pages = {p.path: p for p in catalog.all_pages(load_runs(runs), target)}
        assert f"runs/{folder.name}/index.md" not in pages  # a sweep is not a run
        page = pages[sweep_pages.path_of_id(folder.name)].text()
        assert page.count("<tr data-status=") == 4 and f"runs/{record['sweep']['best']['run']}/" in page
        assert "best/" in page and pages[sweep_pages.path_of_id(folder.name, "best")].text().count("<tr data-status=") == 4
        assert folder.name in pages["experiments/names-mlp/_index.md"].text()


def test_the_report_summarises_the_sweep_and_compares_no_trial_as_the_experiment(reference):
    from generators import report
    from generators.runs import load_runs
    _, runs = reference
    folder, record = the_sweep(runs)
    text = report.render_report([], load_runs(runs), base_note="none", head_note="test")
    section = text[text.index("### Sweeps"):]
    assert folder.name in section and "4 trials (4 ok, 0 pruned, 0 failed)" in section
    base_lr = yaml.safe_load((REPO / "experiments" / "names-mlp.yaml").read_text())["optim"]["lr"]  # what the sweep changed from
    assert f"at trial {record['sweep']['best']['number']}" in section and f"optim.lr {base_lr:.4f} →" in section
    assert "names-mlp: ➖ not run" in text or "| names-mlp |" not in text  # only trials of it: nothing to compare


def test_a_published_sweep_builds_with_hugo_and_survives_history_export_and_restore(reference, tmp_path):
    """A sweep's ledger line is a run's line: the published history carries and restores it like any sealed folder."""
    from generators import catalog, history, sweep_pages
    from tests.test_history import publish
    _, runs = reference
    folder, _ = the_sweep(runs)
    site = publish(runs, tmp_path / "site")
    assert (site / "sweeps" / folder.name / "index.html").is_file() and (site / "sweeps" / folder.name / "objective.png").is_file()
    restored = tmp_path / "restored"
    history.restore(str(site), restored)
    views = history.load_views(restored)
    assert {v.id for v in views} == {f.name for f in layout.run_folders(runs)}  # the sweep, its trials and a reproduction
    pages = {p.path for p in catalog.all_pages(views)}
    assert sweep_pages.path_of_id(folder.name) in pages and f"runs/{folder.name}/index.md" not in pages
