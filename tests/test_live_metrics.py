"""A running run's metrics and status reach its folder as they are logged, and resuming cuts them back to the
checkpoint: the metrics log and status file on real files (the browser tests watch a real training run live)."""
from __future__ import annotations

import json

from trainer.tracking import layout, status
from trainer.tracking.metrics import MetricsLog


def test_each_logged_row_is_in_the_file_before_any_checkpoint_flushes_it(tmp_path):
    log = MetricsLog(tmp_path / layout.METRICS, planned=100)
    log.log(1, train_loss=3.0)
    log.log(2, train_loss=2.5)
    assert layout.read_metrics(tmp_path / layout.METRICS) == [{"step": 1, "train_loss": 3.0}, {"step": 2, "train_loss": 2.5}]


def test_the_status_file_says_the_step_the_steps_planned_and_the_last_values(tmp_path):
    log = MetricsLog(tmp_path / layout.METRICS, planned=100)
    log.log(10, train_loss=3.0)
    log.log(10, val_loss=3.2)
    log.flush()  # as at a checkpoint: the status is written whatever the interval
    found = status.read(tmp_path / layout.STATUS)
    assert (found["state"], found["step"], found["steps"], found["checkpoint_step"]) == ("running", 10, 100, 10)
    assert found["last"] == {"train_loss": 3.0, "val_loss": 3.2}


def test_resuming_cuts_the_rows_back_to_the_checkpoint_and_appends_after_them(tmp_path):
    path = tmp_path / layout.METRICS
    log = MetricsLog(path, planned=10)
    for step in range(1, 8):
        log.log(step, train_loss=float(step))
    log.close()  # the process dies at step 7; its checkpoint is at step 4
    resumed = MetricsLog.resume(path, 4, planned=10)
    assert [r["step"] for r in layout.read_metrics(path)] == [1, 2, 3, 4]
    resumed.log(5, train_loss=0.5)
    assert [r["step"] for r in layout.read_metrics(path)] == [1, 2, 3, 4, 5]
    assert status.read(tmp_path / layout.STATUS)["checkpoint_step"] == 4


def test_a_last_line_a_kill_cut_short_is_left_out_when_reading(tmp_path):
    path = tmp_path / layout.METRICS
    path.write_text(json.dumps({"step": 1, "train_loss": 2.0}) + "\n" + '{"step": 2, "train_lo')
    assert layout.read_metrics(path) == [{"step": 1, "train_loss": 2.0}]
