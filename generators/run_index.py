"""What a publish knows about the runs folder from the last one, so that it reads and verifies only what changed.

`runs.load_runs` reads every record and verifies every run: at 10,000 runs, seconds of JSON and of
file checks on every publish, though a sealed run never changes. The index (in `<output>/.trainbook/`, laid out
as the last paragraph says) keeps, for each run folder, the stamps of its files (size, mtime, ctime and inode, as
HashCache does: any write changes the ctime, which nobody can set back), its summary (the record
fields that listings, cards, taxonomies and page keys use: `SUMMARY`), what its pages weigh on the site
(`RunView.footprint`, for the site budget), its verification and state;
and the ledger's size and sha256, with the chain's findings. A publish then

- takes a run from the index when its files' stamps and the ledger are as they were;
- verifies again (trainer.tracking.integrity, as `verify` does) the runs whose files changed, new
  folders, and the runs the ledger's new lines seal when the ledger only grew;
- verifies everything again when the ledger changed in any other way (an edit shows up at once).

A run taken from the index is an `IndexedRun`: its summary answers the listings; its full record is
read from run.json only when one of its pages is rendered. Deleting the index only makes the next
publish read everything.

The index is kept in two parts, each spread over `BUCKETS` files by run id, so that a publish of one new run
rewrites one file of each, not the index of 10,000 runs. The stamps (`STAMP_BUCKETS/<n>.json`: each run
folder's and its files') are all a publish with nothing to do reads. The entries (`ENTRIES/<n>.json`:
summaries, verification, footprints) are read once something changed. `STAMPS` names every bucket with the
sha256 of its file, and the ledger's size and sha256: a bucket that does not match it (a publish stopped
between the writes, an edit) makes the whole index unknown, and the next publish reads and verifies everything.
"""
from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path
from typing import Callable

from trainer.tracking import chain, integrity, layout
from trainer.tracking.files import write_bytes, write_text

from .incremental import STATE_DIR
from .runs import RunView, view_of

STAMPS = "run-stamps.json"
STAMP_BUCKETS = "run-stamps"
ENTRIES = "run-entries"
BUCKETS = 64
OLDER = "runs.json"
"""the whole index in one file, as Trainbook wrote it before (format 3): removed once this format is written"""
FORMAT = "trainbook-run-index-5"
"""5: stamps as strings, in buckets; 4: stamps as lists, in one file"""
WHOLE = ("experiment", "kind", "status", "started_at", "duration_s", "metrics", "key_metric", "reproduction")
"""record fields the summary keeps whole"""
PARTS = ("config.tags", "config.gates", "config.model.type", "config.data.dataset", "data.dataset", "data.source", "data.sha256",
         "code.commit", "code.dirty")
"""nested record fields the summary keeps (with the key metric's comparable_by paths); gates, status, metrics and
reproduction are what trainer.tracking.picks judges a run by, for the experiment pages' best and current model"""


def _get(record: dict, dotted: str):
    value = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


_MISSING = object()


def summary(record: dict) -> dict:
    """The fields of a record the pages that list a run use, in the record's own shape."""
    out = {k: record[k] for k in WHOLE if k in record}
    km = record.get("key_metric") if isinstance(record.get("key_metric"), dict) else {}
    for dotted in (*PARTS, *(p for p in km.get("comparable_by") or [] if isinstance(p, str))):
        value = _get(record, dotted)
        if value is _MISSING:
            continue
        node, *parents, leaf = [out, *dotted.split(".")]
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


class IndexedRun(RunView):
    """A run as the index knows it: its summary serves the listings; the full record is read when a page needs it."""

    @property
    def record(self) -> dict:
        if self._full is None:
            self._full = json.loads((self.folder / layout.RECORD).read_bytes())
        return self._full

    @record.setter
    def record(self, value: dict | None) -> None:
        self._full = value

    @property
    def facts(self) -> dict:
        return self._full if self._full is not None else self.summary


def _file_stamp(name: str, st: os.stat_result) -> str:
    return f"{name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _folder_stamp(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns}:{st.st_ino}"


def unchanged(folder: str, stamp: str) -> bool:
    """Whether a run folder is as `stamp` (stamps') saw it: no file added, removed or renamed (the folder's own stamp,
    which any of those changes), and each file's stamp the same; a stat per file, without listing the folder."""
    head, _, files = stamp.partition("/")
    try:
        if _folder_stamp(os.stat(folder)) != head:
            return False
        for token in files.split("/") if files else ():
            name = token.rsplit(":", 4)[0]
            if _file_stamp(name, os.stat(f"{folder}/{name}")) != token:
                return False
    except OSError:
        return False
    return True


def stamps(folder: Path) -> str | None:
    """A run folder's stamp: the folder's (mtime, inode), then each visible file's name, size, mtime, ctime and inode
    (hidden files are the trainer's locks and temporaries), in one string: "/" is in no file name, and a string is
    what a publish of 10,000 runs reads back fastest. The folder is stamped before it is listed, so a file added
    meanwhile changes the folder's stamp by the next look."""
    try:
        head = _folder_stamp(os.stat(folder))
        with os.scandir(folder) as entries:
            files = sorted((e.name, e.stat()) for e in entries if not e.name.startswith(".") and e.is_file())
    except OSError:
        return None
    return "/".join([head, *(_file_stamp(name, st) for name, st in files)])


def _but_ctimes(stamp: str) -> list[str]:
    """A stamp without its files' ctimes: what linking the files somewhere else leaves as it was"""
    head, *files = stamp.split("/")
    return [head, *(f"{name}:{size}:{mtime}:{ino}" for name, size, mtime, _, ino in (t.rsplit(":", 4) for t in files))]


def _run_names(runs_dir: Path) -> list[str]:
    """The names of the run folders in `runs_dir` (as layout.run_folders, without a stat per entry)."""
    try:
        with os.scandir(runs_dir) as entries:
            return sorted(e.name for e in entries if layout.RUN_ID.fullmatch(e.name) and e.is_dir())
    except OSError:
        return []


def _ledger_facts(runs_dir: Path) -> dict:
    try:
        data = (runs_dir / layout.LEDGER).read_bytes()
    except OSError:
        data = b""
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "bytes": data}


def bucket_of(run: str) -> str:
    return str(zlib.crc32(run.encode()) % BUCKETS)


def _read_stamps(path: Path, runs_dir: Path) -> dict:
    """The index's top file with every run's stamps from the buckets it names; {} when any part is not as written."""
    try:
        saved = json.loads(path.read_bytes())
        assert saved.get("format") == FORMAT and saved.get("runs_dir") == str(runs_dir.resolve())
        assert isinstance(saved.get("stamps"), dict) and isinstance(saved.get("buckets"), dict)
        assert isinstance(saved.get("running"), list)
        runs = _read_buckets(path.parent / STAMP_BUCKETS, saved["stamps"])
        assert runs is not None
        return {**saved, "runs": runs}
    except (OSError, ValueError, AssertionError, AttributeError):
        return {}


def _read_buckets(folder: Path, buckets: dict[str, str]) -> dict[str, dict] | None:
    """Every run's part from the buckets named (bucket -> sha256), or None when one is missing or not as written."""
    found: dict[str, dict] = {}
    for bucket, digest in buckets.items():
        try:
            raw = (folder / f"{bucket}.json").read_bytes()
            if hashlib.sha256(raw).hexdigest() != digest:
                return None
            part = json.loads(raw)
        except (OSError, ValueError):
            return None
        if not isinstance(part, dict):
            return None
        found.update(part)
    return found


def _write_buckets(folder: Path, parts: dict[str, dict[str, dict]], old: dict[str, str], changed: set[str]) -> dict[str, str]:
    """Write the buckets in `changed` (and any not written before); returns every bucket's sha256. A bucket left
    over (no run falls in it now) is removed after the top file stops naming it (see save)."""
    digests = {}
    for bucket, runs in sorted(parts.items()):
        if bucket in changed or bucket not in old:
            data = (json.dumps(runs, separators=(",", ":"), allow_nan=False) + "\n").encode()
            write_bytes(folder / f"{bucket}.json", data)
            digests[bucket] = hashlib.sha256(data).hexdigest()
        else:
            digests[bucket] = old[bucket]
    return digests


def _remove_left(folder: Path, digests: dict[str, str]) -> None:
    for left in folder.glob("*.json"):
        if left.stem not in digests:
            left.unlink(missing_ok=True)


class RunIndex:
    def __init__(self, out_dir: Path, runs_dir: Path, hash_file: Callable[[Path], str]):
        self.runs_dir, self.hash_file = runs_dir, hash_file
        self.stamps_path, self.entries_dir = out_dir / STATE_DIR / STAMPS, out_dir / STATE_DIR / ENTRIES
        self.stamps_dir = out_dir / STATE_DIR / STAMP_BUCKETS
        saved = _read_stamps(self.stamps_path, runs_dir)
        self.old_stamps: dict[str, str] = saved.get("runs", {})
        """run -> its folder's stamp (`stamps`) as the last publish left it"""
        self.was_running: set[str] = set(saved.get("running", []))
        """the runs that were training at the last publish"""
        self.buckets: dict[str, str] = saved.get("buckets", {})
        """entries' bucket -> the sha256 of its file as the last publish wrote it"""
        self.stamp_buckets: dict[str, str] = saved.get("stamps", {})
        """stamps' bucket -> the sha256 of its file as the last publish wrote it"""
        self.old_ledger: dict = saved.get("ledger", {})
        self._old_entries: dict[str, dict] | None = None
        self.new: dict[str, dict] = {}
        self.ledger: dict = {}
        self.changed = True
        """False when the runs folder is exactly as the index knew it (nothing to read, verify or publish anew)"""
        self.verified = 0
        self.found: dict[str, str | None] | None = None
        self.grew: set[str] | None = None
        self.check_now: set[str] = set()
        self.fresh: list[str] = []
        """the runs read and verified by this publish"""
        self._chain: dict[str, list[str]] = {}
        """run -> the chain's findings about its lines, from this publish's verification"""

    @property
    def old_entries(self) -> dict[str, dict]:
        """run -> its entry from the last publish (without its stamps), read when something changed"""
        if self._old_entries is None:
            entries = _read_buckets(self.entries_dir, self.buckets) if self.old_stamps else {}
            if entries is None or entries.keys() != self.old_stamps.keys():  # not what one publish wrote: no index
                entries, self.old_stamps, self.old_ledger, self.buckets, self.stamp_buckets = {}, {}, {}, {}, {}
            self._old_entries = entries
        return self._old_entries

    def scan(self) -> bool:
        """Look at the runs folder (the ledger, every run folder's file stamps): True when anything changed since the
        index was written, so that a publish with nothing to do stops here."""
        ledger = _ledger_facts(self.runs_dir)
        self.ledger = {k: ledger[k] for k in ("size", "sha256")}
        root, old = str(self.runs_dir), self.old_stamps
        self.found = {}
        for name in _run_names(self.runs_dir):  # known and unchanged: its stamp as it was, a stat per file
            known = old.get(name)
            self.found[name] = known if isinstance(known, str) and unchanged(f"{root}/{name}", known) else stamps(self.runs_dir / name)
        self.grew = self._only_grew(ledger)
        if self.grew is None:  # edited, truncated or a first publish: everything again
            self.check_now = set(self.found)
        else:
            self.check_now = {run for run, stamp in self.found.items() if stamp != old.get(run)}
            # a run that said it was running is looked at again: its process may have died without a word
            self.check_now |= self.grew | (self.was_running & self.found.keys())
        self.changed = bool(self.check_now) or self.found.keys() != old.keys() or \
            ledger["sha256"] != self.old_ledger.get("sha256")
        return self.changed

    def load(self) -> list[RunView]:
        """Every run folder with a readable record, newest first, each with its verification result."""
        if self.found is None:
            self.scan()
        if self.found.keys() - self.check_now and not self.old_entries:  # the entries are not those the stamps name
            self.check_now, self.grew = set(self.found), None
        check_now = self.check_now
        result = integrity.verify(self.runs_dir, self.hash_file, only=check_now) if check_now or self.grew is None else None
        self.verified = len(check_now)
        self._chain = {}
        for finding in result.ledger if result is not None else ():
            self._chain.setdefault(finding.run, []).append(str(finding))
        views = []
        for run, files in sorted(self.found.items()):
            if run in check_now:
                view, entry = self._fresh(run, files, result)
                self.fresh.append(run)
            else:
                view, entry = self._known(run, result)
            if view is not None:
                views.append(view)
                self.new[run] = entry
        views.sort(key=lambda r: (r.started, r.id), reverse=True)
        return views

    def _only_grew(self, ledger: dict) -> set[str] | None:
        """The runs the lines added since the last publish seal, when the ledger only grew; None when it changed otherwise."""
        size = self.old_ledger.get("size")
        if not self.old_stamps or size is None or hashlib.sha256(ledger["bytes"][:size]).hexdigest() != self.old_ledger.get("sha256"):
            return None
        entries = [chain.parse_line(raw)[0] for raw in ledger["bytes"][size:].splitlines(keepends=True)]
        if any(e is None for e in entries):
            return None
        return {e["run"] for e in entries}

    def _fresh(self, run: str, files: dict | None, result: integrity.Verification) -> tuple[RunView | None, dict]:
        folder = self.runs_dir / run
        view = view_of(folder, result)
        if view is None:
            return None, {}
        check = result.check(run)
        entry = {"stamps": files, "summary": summary(view.record),
                 "record_sha256": view.record_sha256,
                 "problems": check.problems if check else [], "state": view.state, "sealed": view.sealed,
                 "chain": self._chain.get(run, []), "artifacts": sorted(view.artifacts),
                 "footprint": view.footprint}
        entry = {k: v for k, v in entry.items() if v != []}  # most runs have no problems: an index of 10,000 stays small
        return view, entry

    def _known(self, run: str, result: integrity.Verification | None) -> tuple[RunView | None, dict]:
        entry, folder = {**self.old_entries[run], "stamps": self.old_stamps[run]}, self.runs_dir / run
        if not entry.get("summary"):
            return None, entry
        if result is not None:  # the ledger grew: this run's line is as it was, but the chain's findings are new
            chain = self._chain.get(run)
            if chain:
                entry["chain"] = chain
            else:  # kept as _fresh keeps it (no key for no findings), so that its bucket is not written again
                entry.pop("chain", None)
        view = IndexedRun(id=run, folder=folder, record=None,
                          verification=[*entry.get("chain", []), *entry.get("problems", [])],
                          state=entry["state"], sealed=entry["sealed"], record_sha256=entry["record_sha256"],
                          summary=entry["summary"], artifact_names=entry.get("artifacts", []),
                          known_footprint=entry.get("footprint"))
        return view, entry

    def settle(self) -> None:
        """Take the stamps of the runs verified now again, after the publish linked their files into the site:
        a new link changes a file's ctime and nothing else, and must not make the next publish verify it again."""
        for run in self.fresh:
            entry = self.new.get(run)
            if not entry or not entry.get("stamps"):
                continue
            now = stamps(self.runs_dir / run)
            if now is not None and _but_ctimes(now) == _but_ctimes(entry["stamps"]):
                entry["stamps"] = now

    def save(self) -> None:
        """The buckets whose runs changed, then the top file that names them (see the module's docstring)."""
        self.settle()
        old = self._old_entries or {}  # not read (every run was verified now): every bucket is written
        entries: dict[str, dict[str, dict]] = {}
        stamps_of: dict[str, dict[str, str | None]] = {}
        changed_entries: set[str] = set()
        changed_stamps: set[str] = set()
        running: list[str] = []
        for run, entry in self.new.items():
            bucket = bucket_of(run)
            stamp = entry.get("stamps")
            entry = {k: v for k, v in entry.items() if k != "stamps"}
            if (entry.get("summary") or {}).get("status") == "running":
                running.append(run)
            entries.setdefault(bucket, {})[run] = entry
            stamps_of.setdefault(bucket, {})[run] = stamp
            if self._old_entries is None or old.get(run) != entry:
                changed_entries.add(bucket)
            if self.old_stamps.get(run) != stamp:
                changed_stamps.add(bucket)
        gone = {bucket_of(run) for run in (old.keys() | self.old_stamps.keys()) - self.new.keys()}
        entry_digests = _write_buckets(self.entries_dir, entries, self.buckets, changed_entries | gone)
        stamp_digests = _write_buckets(self.stamps_dir, stamps_of, self.stamp_buckets, changed_stamps | gone)
        write_text(self.stamps_path, json.dumps({"format": FORMAT, "runs_dir": str(self.runs_dir.resolve()), "ledger": self.ledger,
                                                 "buckets": entry_digests, "stamps": stamp_digests, "running": running},
                                                separators=(",", ":"),
                                                allow_nan=False) + "\n")
        _remove_left(self.entries_dir, entry_digests)
        _remove_left(self.stamps_dir, stamp_digests)
        (self.stamps_path.parent / OLDER).unlink(missing_ok=True)
