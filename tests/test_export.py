"""Runs in the trackers a team already uses: `trainer export` into MLflow (a file store and SQLite) and TensorBoard,
read back through MLflow's own client and TensorBoard's own event reader, every metric row compared; a live
mirror logs a real training run as it goes."""
from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing import plugin_event_accumulator
from tensorboard.util import tensor_util

from trainer import cli
from trainer.exporters import facts, to_tensorboard
from trainer.tracking import layout
from tests.conftest import TINY, REPO, run_cli


def trainer(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(args))
    return status, out.getvalue(), err.getvalue()


def only_run(runs: Path) -> layout.RunFolder:
    (folder,) = layout.run_folders(runs)
    return layout.RunFolder.open(folder)


def expected_series(run: layout.RunFolder) -> dict[str, list[tuple[int, float]]]:
    """Every metric row of the run, by key: the (step, value) pairs a tracker must give back."""
    series: dict[str, list[tuple[int, float]]] = {}
    for key, step, value in facts.points(run.metric_rows()):
        series.setdefault(key, []).append((step, value))
    return series


def same(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> bool:
    return len(a) == len(b) and all(s == t and (v == w or math.isnan(v) and math.isnan(w)) for (s, v), (t, w) in zip(a, b))


def mlflow_run(uri: str, run: layout.RunFolder):
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(run.experiment)
    (found,) = client.search_runs([experiment.experiment_id], filter_string=f"tags.`trainbook.run_id` = '{run.id}'")
    return client, found


def check_mlflow(uri: str, run: layout.RunFolder) -> None:
    client, found = mlflow_run(uri, run)
    for key, expected in expected_series(run).items():
        history = sorted((m.step, m.value) for m in client.get_metric_history(found.info.run_id, key))
        assert same(history, sorted(expected)), key
    assert found.info.status == "FINISHED" and found.data.tags["trainbook.status"] == "ok"
    assert found.data.tags["trainbook.verified"] == "verified (sealed by ledger line 1)"
    assert found.data.params == facts.params(run.record) and found.data.params["optim.lr"] == str(run.record["config"]["optim"]["lr"])
    assert found.data.metrics["final/val_loss"] == run.metrics["val_loss"]
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {layout.RECORD, layout.CONFIG, layout.METRICS, "loss.png", layout.WEIGHTS} <= artifacts
    assert layout.CHECKPOINT not in artifacts
    assert found.info.start_time == int(facts.epoch(run.record["started_at"]) * 1000)


def test_export_to_an_mlflow_file_store_gives_back_every_metric_row(tiny_runs, tmp_path):
    status, out, err = trainer("export", "--runs-dir", str(tiny_runs), "--to", "mlflow", str(tmp_path / "mlruns"))
    assert status == 0, err
    run = only_run(tiny_runs)
    assert f"exported {run.id} to MLflow" in out
    check_mlflow((tmp_path / "mlruns").resolve().as_uri(), run)

    status, out, _ = trainer("export", "--runs-dir", str(tiny_runs), "--to", "mlflow", str(tmp_path / "mlruns"))
    assert status == 0 and f"skipped {run.id}: already in MLflow" in out  # once is enough; --replace sends it again
    status, out, _ = trainer("export", str(run.path), "--replace", "--to", "mlflow", str(tmp_path / "mlruns"))
    assert status == 0 and "exported" in out
    check_mlflow((tmp_path / "mlruns").resolve().as_uri(), run)  # one live MLflow run: the old one was deleted


def test_export_to_an_mlflow_sqlite_database_gives_back_every_metric_row(gpt_runs, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    status, _, err = trainer("export", "--runs-dir", str(gpt_runs), "--to", "mlflow", uri)
    assert status == 0, err
    check_mlflow(uri, only_run(gpt_runs))
    assert (tmp_path / "mlartifacts").is_dir()  # artifacts next to the database, never in the working directory


def tensorboard_series(folder: Path) -> tuple[dict[str, list[tuple[int, float]]], dict]:
    events = plugin_event_accumulator.EventAccumulator(str(folder), size_guidance={plugin_event_accumulator.TENSORS: 0})
    events.Reload()
    series = {tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto).item())) for e in events.Tensors(tag)]
              for tag in events.Tags()["tensors"] if events.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"}
    text = {tag: tensor_util.make_ndarray(events.Tensors(tag)[-1].tensor_proto).item().decode()
            for tag in events.Tags()["tensors"] if events.SummaryMetadata(tag).plugin_data.plugin_name == "text"}
    return series, {"text": text, "tags": events.Tags()["tensors"]}


def test_export_to_tensorboard_gives_back_every_metric_row_through_its_event_reader(tiny_runs, tmp_path):
    status, _, err = trainer("export", "--runs-dir", str(tiny_runs), "--to", "tensorboard", str(tmp_path / "tb"))
    assert status == 0, err
    run = only_run(tiny_runs)
    series, other = tensorboard_series(tmp_path / "tb" / run.experiment / run.id)
    for key, expected in expected_series(run).items():
        assert same(series[key], expected), key  # 64-bit scalars: exact
    assert series["final/val_loss"][0][1] == run.metrics["val_loss"]
    assert other["text"]["verification"] == "verified (sealed by ledger line 1)"
    assert json.loads(other["text"]["record"].strip("`\n")) == run.record
    assert "figures/loss.png" in other["tags"] and "_hparams_/session_start_info" in other["tags"]


def test_a_resumed_mirror_makes_tensorboard_drop_the_points_an_interruption_left_behind(tiny_runs, tmp_path):
    record = only_run(tiny_runs).record
    first = to_tensorboard.Sink(str(tmp_path), record)
    first.points([("loss", step, 10.0 + step) for step in range(1, 9)])  # steps 1-8; the last checkpoint was at 5
    first.writer.close()
    again = to_tensorboard.Sink(str(tmp_path), record, reopen=True)
    again.resumed(5)
    again.points([("loss", step, 20.0 + step) for step in range(6, 11)])
    again.writer.close()

    series, _ = tensorboard_series(to_tensorboard.run_dir(str(tmp_path), record))

    assert series["loss"] == [(s, 10.0 + s) for s in range(1, 6)] + [(s, 20.0 + s) for s in range(6, 11)]


@pytest.mark.slow
def test_a_live_mirror_logs_a_training_run_into_mlflow_and_tensorboard(tmp_path):
    runs, uri, logs = tmp_path / "runs", f"sqlite:///{tmp_path / 'live.db'}", tmp_path / "tb"
    result = run_cli("trainer", "run", str(REPO / "experiments/names-mlp.yaml"), *TINY, "tracking.mirror=[mlflow, tensorboard]",
                     f"tracking.mlflow_uri={uri}", f"tracking.tensorboard_dir={logs}", runs_dir=runs)
    assert result.returncode == 0, result.stderr
    run = only_run(runs)
    check_mlflow(uri, run)
    series, other = tensorboard_series(logs / run.experiment / run.id)
    assert all(same(series[key], expected) for key, expected in expected_series(run).items())
    assert other["text"]["verification"] == "verified (sealed by ledger line 1)"
    _, found = mlflow_run(uri, run)
    assert run.record["mirrors"] == {"mlflow": {"experiment_id": found.info.experiment_id, "run_id": found.info.run_id},
                                     "tensorboard": {"run": f"{run.experiment}/{run.id}"}}


@pytest.mark.slow
def test_an_unreachable_mirror_is_named_once_and_the_run_goes_on(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the log folder should be")
    result = run_cli("trainer", "run", str(REPO / "experiments/names-mlp.yaml"), *TINY, "tracking.mirror=[tensorboard]",
                     f"tracking.tensorboard_dir={blocked}", runs_dir=tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("warning: not mirroring to tensorboard") == 1
    assert "mirrors" not in only_run(tmp_path / "runs").record


@pytest.mark.parametrize("args, expected", [
    (["--to", "wandb", "x"], "--to: expected mlflow or tensorboard and a destination, got 'wandb'"),
    (["--to", "mlflow", " "], "--to: mlflow: expected a destination (a tracking URI)"),
    (["nowhere-20200101T000000Z-0000000", "--to", "tensorboard", "tb"], "no such run folder"),
])
def test_export_refuses_a_bad_command_with_one_line(tiny_runs, tmp_path, args, expected):
    status, out, err = trainer("export", "--runs-dir", str(tiny_runs), *args)
    assert status == 2 and expected in err and err.count("\n") == 1


def test_a_run_still_training_is_not_exported(tiny_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(tiny_runs, runs)
    run = only_run(runs)
    record = dict(run.record, status="running")
    (run.path / layout.RECORD).write_text(json.dumps(record))
    status, _, err = trainer("export", str(run.path), "--to", "tensorboard", str(tmp_path / "tb"))
    assert status == 2 and "not sealed yet" in err and not (tmp_path / "tb").exists()


@pytest.mark.parametrize("override, key", [
    ("tracking.mirror=[wandb]", "tracking.mirror[0]"),
    ("tracking.mirror=[mlflow, mlflow]", "tracking.mirror"),
    ("tracking.mlflow_uri=https://user:secret@mlflow.example", "tracking.mlflow_uri"),
])
def test_a_mistaken_tracking_section_is_refused_before_training(tmp_path, override, key):
    result = run_cli("trainer", "run", str(REPO / "experiments/names-mlp.yaml"), override, runs_dir=tmp_path / "runs")
    assert result.returncode == 2 and f": {key}: " in result.stderr and "secret" not in result.stderr
    assert not (tmp_path / "runs").exists()
