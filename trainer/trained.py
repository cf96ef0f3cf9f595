"""A trained run to use the model of, named as a person names it, and checked before anything is loaded.

`trainer sample` and `trainer eval` take RUN as

- a run folder (`runs/<run id>`) or a bare run id under the runs folder,
- a published run's page (`https://<site>/runs/<run id>/`, or a built site served anywhere),
- `EXPERIMENT@current`, `EXPERIMENT@best` or `EXPERIMENT@latest` (tracking/picks.py), among the runs
  folder's runs, or among a published site's with `--site URL`.

Whatever the source, the record must be the one its ledger line seals (the ledger's chain verified first),
and every file used (config, weights, vocabulary) must have the sha256 the record lists; a published file is
downloaded into the cache under that hash and refused, naming both hashes, when it differs. Only then does a
command load the weights, with `weights_only=True`. Torch-free.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import credentials
from .data import cache
from .errors import UsageError
from .tracking import integrity, layout, ledger, picks
from .tracking.files import sha256_bytes, sha256_file

WEIGHTS_CHOICES = ("final", "best")
MAX_RECORD_BYTES = 16 << 20
MAX_LEDGER_BYTES = 256 << 20
TIMEOUT_S = 60
RUN_URL = re.compile(rf"(?P<site>https?://.+?/)(?:{layout.SITE_RUNS})/(?P<run>{layout.RUN_ID.pattern})(?:/(?:index\.html)?)?")
Accept = Callable[[str, dict], None]
"""called with the run's name and its verified record; raises UsageError to refuse it"""
NAMED = re.compile(rf"(?P<experiment>{layout.EXPERIMENT.pattern})@(?P<which>{'|'.join(picks.WHICH)})")


@dataclass
class TrainedRun:
    """A run's verified files, as local paths: what a command loads a model from."""

    name: str
    """the run as the person named it (a path, an address, EXPERIMENT@best), for messages"""
    run_id: str
    record: dict
    files: dict[str, Path]
    """run-folder name -> a local file whose sha256 is the record's (the record, config and model files)"""
    weights: Path
    """the file holding the model's state: a weights file, or (for a local run without one) its checkpoint"""
    weights_name: str
    """that file's name in the run folder (a download is cached under its sha256)"""
    whole_checkpoint: bool
    """True when `weights` is a training checkpoint, whose `model` entry is the state"""
    step: int | None


# --- the two places a run can be: a folder, or a published site -------------------------------------

class Folder:
    """A run folder on this machine, checked against the ledger of the runs folder it is in."""

    def __init__(self, path: Path):
        self.path, self.shown, self.run_id = path, str(path), path.name

    def record(self, run_id: str) -> tuple[dict, bytes]:
        try:
            run = layout.RunFolder.open(self.path)
        except layout.NotARun as e:
            raise UsageError(str(e.path), "", e.message) from None
        return run.record, run.raw_record

    def ledger(self) -> list[bytes]:
        return ledger.read_lines(self.path.parent)

    def ledger_name(self) -> str:
        return str(self.path.parent / layout.LEDGER)

    def file(self, name: str, facts: dict) -> Path:
        path = self.path / name
        if not path.is_file():
            raise UsageError(str(path), "", f"missing (listed in {layout.RECORD} with sha256 {facts.get('sha256')})")
        found = sha256_file(path)
        if found != facts.get("sha256"):
            raise UsageError(str(path), "", f"edited: its sha256 is {found}, the record's is {facts.get('sha256')}; refusing to load it")
        return path


class Site:
    """A published site (its run pages and history) on the web, or served from a built folder."""

    def __init__(self, root: str, run_id: str = ""):
        self.root = root if root.endswith("/") else root + "/"
        self.shown, self.run_id = credentials.redact(self.root), run_id

    def url(self, rel: str) -> str:
        return urllib.parse.urljoin(self.root, urllib.parse.quote(rel))

    def get(self, rel: str, limit: int) -> bytes | None:
        """The file at `rel`, None when the site answers 404; a UsageError when it cannot be read."""
        url = self.url(rel)
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "trainbook"}), timeout=TIMEOUT_S) as r:
                data = r.read(limit + 1)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise UsageError(credentials.redact(url), "", f"HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise UsageError(credentials.redact(url), "", f"cannot be fetched ({getattr(e, 'reason', e)})") from None
        if len(data) > limit:
            raise UsageError(credentials.redact(url), "", f"more than the {limit} bytes expected")
        return data

    def run_rel(self, run_id: str, name: str) -> str:
        return f"{layout.SITE_RUNS}/{run_id}/{name}"

    def record(self, run_id: str) -> tuple[dict, bytes]:
        for rel in (self.run_rel(run_id, layout.RECORD), f"{layout.SITE_HISTORY}/{run_id}/{layout.RECORD}"):
            raw = self.get(rel, MAX_RECORD_BYTES)
            if raw is not None:
                try:
                    record = json.loads(raw)
                except ValueError:
                    raise UsageError(credentials.redact(self.url(rel)), "", "not a run record (not JSON)") from None
                if not isinstance(record, dict) or record.get("run_id") != run_id:
                    raise UsageError(credentials.redact(self.url(rel)), "", f"not the record of run {run_id}")
                return record, raw
        raise UsageError(credentials.redact(self.url(self.run_rel(run_id, ""))), "", "no such run on this site (no run.json)")

    def ledger(self) -> list[bytes]:
        raw = self.get(f"{layout.SITE_HISTORY}/{layout.LEDGER}", MAX_LEDGER_BYTES)
        if raw is None:
            raise UsageError(self.ledger_name(), "", "missing: a site without its ledger cannot show that a record is authentic")
        return raw.splitlines(keepends=True)

    def ledger_name(self) -> str:
        return credentials.redact(self.url(f"{layout.SITE_HISTORY}/{layout.LEDGER}"))

    def file(self, name: str, facts: dict) -> Path:
        sha, size = facts.get("sha256"), facts.get("bytes")
        url = self.url(self.run_rel(self.run_id, name))
        try:
            return cache.download(url, str(sha), size if isinstance(size, int) else None)
        except cache.DownloadError as e:
            raise UsageError(credentials.redact(str(e)), "", "refusing to load it (the record's sha256 is the one sealed "
                             "in the ledger)") from None

    def models(self) -> dict:
        raw = self.get(layout.SITE_MODELS, MAX_RECORD_BYTES)
        try:
            return json.loads(raw)["experiments"] if raw is not None else {}
        except (ValueError, KeyError, TypeError):
            raise UsageError(credentials.redact(self.url(layout.SITE_MODELS)), "", "not a Trainbook models.json") from None


# --- checking a run, then its files ----------------------------------------------------------------

def sealed_record(place: Folder | Site, run_id: str) -> dict:
    """The run's record, refused unless the ledger's chain verifies and its latest line for the run seals these bytes."""
    record, raw = place.record(run_id)
    entries, problems = integrity.chain(place.ledger())
    if problems:
        raise UsageError(place.ledger_name(), "", f"does not verify ({'; '.join(problems[:3])}); no record it seals can be trusted")
    entry = next((e for e in reversed(entries) if e["run"] == run_id), None)
    if entry is None:
        raise UsageError(place.ledger_name(), "", f"no line seals run {run_id}; its record cannot be verified")
    if sha256_bytes(raw) != entry["record_sha256"]:
        raise UsageError(f"{place.shown}: {layout.RECORD}", "", f"edited: its sha256 is {sha256_bytes(raw)}, ledger line "
                         f"{entry['seq']} sealed {entry['record_sha256']}; refusing to use it")
    return record


def _weights_entry(record: dict, which: str) -> dict | None:
    section = record.get("weights") if isinstance(record.get("weights"), dict) else {}
    entry = section.get(which)
    return entry if isinstance(entry, dict) and isinstance(entry.get("file"), str) else None


def _no_weights(name: str, record: dict, which: str) -> str:
    section = record.get("weights") if isinstance(record.get("weights"), dict) else {}
    if section.get("left_out"):
        return f"{name} has no {which} weights published: {section['left_out']}"
    return f"{name} has no {which} weights (trained before Trainbook exported weights, or without a {which} state)"


def _files(place: Folder | Site, record: dict, names: list[str]) -> dict[str, Path]:
    artifacts = record.get("artifacts") if isinstance(record.get("artifacts"), dict) else {}
    found = {}
    for name in names:
        facts = artifacts.get(name)
        if not isinstance(facts, dict):
            raise UsageError(f"{place.shown}: {name}", "", f"not listed in the run's {layout.RECORD}")
        found[name] = place.file(name, facts)
    return found


def open_run(place: Folder | Site, name: str, run_id: str, which: str, accept: Accept) -> TrainedRun:
    """The run's verified record and the files its model is loaded from (`which`: final or best weights); `accept`
    may refuse the record (an engine that cannot do what is asked) before any file is fetched."""
    record = sealed_record(place, run_id)
    accept(name, record)
    if record.get("status") != "ok":
        raise UsageError(name, "", f"run {run_id} {record.get('status')}; only a finished run's model is used")
    entry = _weights_entry(record, which)
    published = layout.model_files(record)
    vocabulary = _weights_entry(record, "vocabulary")
    model_files = [vocabulary["file"]] if vocabulary and vocabulary["file"] in published else []
    if entry is not None and entry["file"] in (published if isinstance(place, Site) else record.get("artifacts", {})):
        files = _files(place, record, [layout.CONFIG, entry["file"], *model_files])
        return TrainedRun(name, run_id, record, files, files[entry["file"]], entry["file"], False, entry.get("step"))
    checkpoint = layout.CHECKPOINT if which == "final" else layout.BEST
    if isinstance(place, Folder) and checkpoint in (record.get("artifacts") or {}):
        tokenizer = [layout.TOKENIZER] if layout.TOKENIZER in (record.get("artifacts") or {}) else []
        files = _files(place, record, [layout.CONFIG, checkpoint, *tokenizer])  # a local run from before weights files
        return TrainedRun(name, run_id, record, files, files[checkpoint], checkpoint, True, None)
    raise UsageError(name, "", _no_weights(name, record, which))


# --- naming a run ------------------------------------------------------------------------------------

def _local_candidates(root: Path, experiment: str) -> list[picks.Candidate]:
    entries, _ = integrity.parse(root)
    latest = {e["run"]: e for e in entries if e["experiment"] == experiment}
    found = []
    for run_id in latest:
        try:
            found.append(picks.Candidate(run_id, layout.RunFolder.open(root / run_id).record))
        except layout.NotARun:
            continue  # a sealed run whose folder was removed: nothing to load from
    return found


def resolve(name: str, which: str, runs_dir: Path, site: str | None, accept: Accept = lambda name, record: None) -> TrainedRun:
    """The run `name` means, verified, with the files of its `which` weights (see the module's docstring)."""
    if which not in WEIGHTS_CHOICES:
        raise UsageError("--weights", "", f"expected one of {', '.join(WEIGHTS_CHOICES)}, got {which!r}")
    named = NAMED.fullmatch(name)
    url = RUN_URL.fullmatch(name)
    if url:
        return open_run(Site(url.group("site"), url.group("run")), credentials.redact(name), url.group("run"), which, accept)
    if named and site:
        registry = Site(site)
        entry = registry.models().get(named.group("experiment"))
        run_id = entry.get(named.group("which")) if isinstance(entry, dict) else None
        if not isinstance(run_id, str) or not layout.RUN_ID.fullmatch(run_id):
            raise UsageError(name, "", f"{registry.shown} names no {named.group('which')} run of {named.group('experiment')} "
                             f"(see {layout.SITE_MODELS} there)")
        return open_run(Site(site, run_id), name, run_id, which, accept)
    if named:
        candidates = _local_candidates(runs_dir, named.group("experiment"))
        chosen = picks.pick(named.group("which"), candidates)
        if chosen is None:
            what = {"current": "that passed its gates", "best": "that finished with a key metric", "latest": ""}[named.group("which")]
            raise UsageError(name, "", f"no sealed run of {named.group('experiment')} {what} in {runs_dir}".rstrip())
        return open_run(Folder(runs_dir / chosen.run_id), name, chosen.run_id, which, accept)
    if re.match(r"[a-z][a-z0-9+.-]*://", name):
        raise UsageError(credentials.redact(name), "", f"expected a run page's address, https://<site>/{layout.SITE_RUNS}/<run id>/")
    path = Path(name)
    folder = path if path.is_dir() or "/" in name else runs_dir / name
    return open_run(Folder(folder), name, folder.name, which, accept)
