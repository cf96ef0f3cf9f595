"""A run into MLflow, through MLflow's own client (`mlflow-skinny`'s MlflowClient): one MLflow run per Trainbook
run, in the MLflow experiment of the same name, found again by its tag `trainbook.run_id`.

Parameters are the flattened resolved config; every metric row is logged with its step, the record's final
metrics as `final/<name>`; tags name the run, its engine, commit and status; the published files (record,
config, metrics, figures, samples, model files) become its artifacts, and `trainbook.verified` says whether
it verifies against its ledger. The MLflow run starts and ends at the record's times and ends FINISHED,
FAILED or KILLED as the run did.

A tracking URI is a database (`sqlite:///mlflow.db`, MLflow's recommended local store), a folder or
`file:` URI (MLflow's file store, which MLflow 3 accepts only when asked to; naming one is asking), or a
server (`http(s)://`, with credentials in MLflow's own environment variables). MLflow's usage telemetry is
off unless MLFLOW_DISABLE_TELEMETRY says otherwise: Trainbook sends nothing to anyone not named.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from .. import credentials
from ..tracking import layout
from . import ExportError, facts

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlflow.entities import Metric, Param, RunStatus  # noqa: E402  (after the telemetry default above)
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from mlflow.utils.validation import MAX_METRICS_PER_BATCH, MAX_PARAM_VAL_LENGTH, MAX_PARAMS_TAGS_PER_BATCH  # noqa: E402

ENV = "MLFLOW_TRACKING_URI"
DEFAULT = "sqlite:///mlflow.db"
RUN_TAG = "trainbook.run_id"
STATUSES = {"ok": RunStatus.to_string(RunStatus.FINISHED), "failed": RunStatus.to_string(RunStatus.FAILED),
            "interrupted": RunStatus.to_string(RunStatus.KILLED)}


def default_destination(configured: str = "") -> str:
    """The tracking URI a mirror uses: the experiment's `tracking.mlflow_uri`, else $MLFLOW_TRACKING_URI, else DEFAULT."""
    return configured or os.environ.get(ENV) or DEFAULT


def tracking_uri(where: str) -> str:
    """`where` as MLflow takes it: a bare folder becomes a file: URI (and asks for MLflow's file store)."""
    if "://" not in where:
        where = Path(where).resolve().as_uri()
    if where.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return where


def describe(where: str) -> str:
    return f"MLflow at {credentials.redact(where)}"


def _ms(iso: str | None) -> int | None:
    seconds = facts.epoch(iso)
    return int(seconds * 1000) if seconds is not None else None


class Sink:
    """One Trainbook run as one MLflow run, created when opened. When it is there already (`existing`), it is
    continued with `reopen` (a resumed run's mirror), replaced with `replace`, else left alone (nothing is written)."""

    def __init__(self, where: str, record: dict, *, replace: bool = False, reopen: bool = False):
        self.where, self.record = where, record
        try:
            self.client = MlflowClient(tracking_uri=tracking_uri(where))
            self.experiment_id = self._experiment(record["experiment"])
            found = self._existing()
            if found and replace:
                for run in found:
                    self.client.delete_run(run.info.run_id)
                found = []
            self.existing = bool(found)
            self.run_id = found[0].info.run_id if found else self._create()
            self.writable = reopen or not found
        except MlflowException as e:
            raise ExportError(f"{describe(where)}: {credentials.redact(str(e)).splitlines()[0]}") from None

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = None
        if self.client.tracking_uri.startswith("sqlite:///"):  # artifacts next to the database, not in the working directory
            location = (Path(self.client.tracking_uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except MlflowException:  # created meanwhile by another process
            return self.client.get_experiment_by_name(name).experiment_id

    def _existing(self) -> list:
        return self.client.search_runs([self.experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{self.record['run_id']}'")

    def _create(self) -> str:
        run_tags = {**facts.tags(self.record), "mlflow.runName": self.record["run_id"]}
        note = (self.record.get("config") or {}).get("description")
        if note:
            run_tags["mlflow.note.content"] = str(note)
        if run_tags.get("trainbook.commit"):
            run_tags["mlflow.source.git.commit"] = run_tags["trainbook.commit"]
        run = self.client.create_run(self.experiment_id, start_time=_ms(self.record.get("started_at")), tags=run_tags,
                                     run_name=self.record["run_id"])
        params = [Param(k, v if len(v) <= MAX_PARAM_VAL_LENGTH else v[: MAX_PARAM_VAL_LENGTH - 1] + "…")
                  for k, v in facts.params(self.record).items()]
        for i in range(0, len(params), MAX_PARAMS_TAGS_PER_BATCH):
            self.client.log_batch(run.info.run_id, params=params[i:i + MAX_PARAMS_TAGS_PER_BATCH])
        return run.info.run_id

    @property
    def location(self) -> dict:
        """Which MLflow run it is, for the Trainbook record: ids only (the record is published; a tracking
        server's address may be private)."""
        return {"experiment_id": self.experiment_id, "run_id": self.run_id}

    def points(self, points: list[tuple[str, int, float]], wall_time: float | None = None) -> None:
        stamp = int((wall_time or time.time()) * 1000)
        metrics = [Metric(facts.key_for(k), v, stamp, s) for k, s, v in points]
        try:
            for i in range(0, len(metrics), MAX_METRICS_PER_BATCH):
                self.client.log_batch(self.run_id, metrics=metrics[i:i + MAX_METRICS_PER_BATCH])
        except MlflowException as e:
            raise ExportError(f"{describe(self.where)}: {credentials.redact(str(e)).splitlines()[0]}") from None

    def resumed(self, step: int) -> None:
        """MLflow keeps every point it was sent: the steps after `step` logged before an interruption stay."""

    def finish(self, folder: Path) -> None:
        """The sealed run's final metrics, status, files and verification status; then the MLflow run ends."""
        run = layout.RunFolder.open(folder)
        record, rows = run.record, run.metric_rows()
        try:
            self.points(facts.finals(record, rows), facts.epoch(record.get("ended_at")))
            for key, value in {**facts.tags(record), "trainbook.verified": facts.verification(folder)}.items():
                self.client.set_tag(self.run_id, key, value)
            for path in facts.attachments(run):
                self.client.log_artifact(self.run_id, str(path))
            self.client.set_terminated(self.run_id, STATUSES.get(record.get("status"), STATUSES["failed"]),
                                       end_time=_ms(record.get("ended_at")))
        except MlflowException as e:
            raise ExportError(f"{describe(self.where)}: {credentials.redact(str(e)).splitlines()[0]}") from None
