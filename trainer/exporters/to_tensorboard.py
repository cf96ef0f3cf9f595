"""A run into TensorBoard, written with TensorBoard's own event writer (`tensorboard.summary.writer`): one log
folder per run, `<DIR>/<experiment>/<run id>/`, so `tensorboard --logdir DIR` groups runs by experiment.

Every metric row becomes scalars at its step (as 64-bit floats, so a value reads back exactly), the record's
final metrics `final/<name>`; the flattened config goes to the HParams dashboard with the run id as its trial;
the record, the config, the tags and the verification status are text, the figures images. A resumed run's
mirror writes TensorBoard's own restart marker (SessionLog START) at the step it continues from, so the
points an interruption left behind after its last checkpoint are dropped by TensorBoard, not shown twice.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import time
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.plugins.text import summary_v2 as text
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

from ..tracking import layout
from . import ExportError, facts

ENV = "TRAINBOOK_TENSORBOARD_DIR"
DEFAULT = "tensorboard"
EVENTS = "events.out.tfevents."
"""how every TensorBoard event file's name begins"""
FLUSH_S = 5


def default_destination(configured: str = "") -> str:
    """The log folder a mirror uses: the experiment's `tracking.tensorboard_dir`, else $TRAINBOOK_TENSORBOARD_DIR, else DEFAULT."""
    return configured or os.environ.get(ENV) or DEFAULT


def describe(where: str) -> str:
    return f"TensorBoard log folder {where}"


def run_dir(where: str, record: dict) -> Path:
    return Path(where) / str(record["experiment"]) / str(record["run_id"])


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def _hparam(value):
    """A config value as the HParams dashboard takes it: a number, a bool or text."""
    return value if isinstance(value, (bool, int, float, str)) and not (isinstance(value, float) and not np.isfinite(value)) \
        else json.dumps(value, sort_keys=True)


class Sink:
    """One Trainbook run as one TensorBoard run folder. When it is there already (`existing`), it is continued with
    `reopen` (in a new event file: TensorBoard reads them all), replaced with `replace`, else left alone."""

    def __init__(self, where: str, record: dict, *, replace: bool = False, reopen: bool = False):
        self.where, self.record = where, record
        self.folder = run_dir(where, record)
        existing = self.folder.is_dir() and any(p.name.startswith(EVENTS) for p in self.folder.iterdir())
        if existing and replace:
            shutil.rmtree(self.folder)
            existing = False
        self.existing, self.writable = existing, reopen or not existing
        if not self.writable:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.writer = EventFileWriter(str(self.folder), flush_secs=FLUSH_S)
        except OSError as e:
            raise ExportError(f"{describe(where)}: {e}") from None
        if not existing:
            start = facts.epoch(record.get("started_at")) or time.time()
            self._start(0, start)  # TensorBoard reads a later START as a restart (see `resumed`)
            params = {k: _hparam(v) for k, v in facts.flatten_config(record).items()}
            self._summary(hparams.hparams_pb(params, trial_id=str(record["run_id"]), start_time_secs=int(start)), 0, start)
            self._summary(text.text_pb("tags", self._table(facts.tags(record))), 0, start)

    @property
    def location(self) -> dict:
        """Which TensorBoard run it is, for the Trainbook record: relative to the log folder (the record is published)."""
        return {"run": f"{self.record['experiment']}/{self.record['run_id']}"}

    def _summary(self, summary: summary_pb2.Summary, step: int, wall_time: float) -> None:
        self.writer.add_event(event_pb2.Event(wall_time=wall_time, step=step, summary=summary))

    @staticmethod
    def _table(rows: dict) -> str:
        return "| | |\n| --- | --- |\n" + "".join(f"| {k} | {str(v).replace('|', '/')} |\n" for k, v in rows.items())

    def points(self, points: list[tuple[str, int, float]], wall_time: float | None = None) -> None:
        stamp = wall_time or time.time()
        for key, step, value in points:
            summary = summary_pb2.Summary()
            summary.value.add(tag=facts.key_for(key), tensor=tensor_util.make_tensor_proto(np.float64(value)),
                              metadata=scalar_metadata.create_summary_metadata(display_name=key, description=""))
            self._summary(summary, step, stamp)

    def _start(self, step: int, wall_time: float) -> None:
        self.writer.add_event(event_pb2.Event(wall_time=wall_time, step=step,
                                              session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)))

    def resumed(self, step: int) -> None:
        """TensorBoard's restart marker: it forgets this run's points after `step` (logged before an interruption)."""
        self._start(step + 1, time.time())

    def finish(self, folder: Path) -> None:
        run = layout.RunFolder.open(folder)
        record, rows = run.record, run.metric_rows()
        end = facts.epoch(record.get("ended_at")) or time.time()
        last = max((r["step"] for r in rows if isinstance(r.get("step"), int)), default=0)
        self.points(facts.finals(record, rows), end)
        self._summary(text.text_pb("verification", facts.verification(folder)), last, end)
        self._summary(text.text_pb("record", "```\n" + json.dumps(record, indent=2, sort_keys=True) + "\n```"), last, end)
        self._summary(text.text_pb("config", "```\n" + run.config_yaml + "\n```"), last, end)
        for figure in record.get("figures") or []:
            path = folder / str(figure.get("file"))
            if path.is_file() and path.suffix == ".png" and "/" not in str(figure.get("file")):
                data = path.read_bytes()
                try:
                    width, height = _png_size(data)
                except ValueError:
                    continue  # listed as a figure but not a PNG: nothing TensorBoard could show
                summary = summary_pb2.Summary()
                summary.value.add(tag=f"figures/{figure['file']}", image=summary_pb2.Summary.Image(
                    height=height, width=width, colorspace=4, encoded_image_string=data))
                self._summary(summary, last, end)
        self.writer.close()
