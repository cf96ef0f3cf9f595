"""The published history: the ledger and every run's record and small artifacts, carried by the site so
that the next publish restores them, appends its new runs, and republishes without losing one.

In a built site, `history/` holds
  ledger.jsonl      every ledger line ever published, byte for byte, then the lines of new runs
  index.json        where each run's carried files are: on its run page (`runs/<id>/<file>`, which the
                    site publishes anyway) or, when the page does not carry one, in `history/<id>/<file>`
A restore (`restore`) copies it into a local folder with the layout of a runs folder (`ledger.jsonl`,
`<id>/<file>`), by default `history/` next to `runs/`, never into `runs/` itself: runs/ keeps its own
ledger and checkpoints, and `trainer verify` stays strict there. The publish merges the two (`export`).

What is carried is fixed by the history format, not by taste: every artifact of a CARRIED kind up to
MAX_CARRIED_BYTES, plus run.json; since format 2, also each run's model files (weights only, and a learned
vocabulary) that its record's `weights` section names, up to the cap recorded there (`layout.model_files`,
the rule the run pages follow). Checkpoints and any other kind are "not published by design", so a
restore can tell a file left out on purpose (allowed) from one that went missing (refused): every file
that should be there must be, with its sealed sha256, and the chain must verify line by line. A format-1
history (published before weights were) still restores: its runs are held to format 1's rule.

Everything read from a history (ledger lines, records, the index) is hostile input: run ids must match
layout.RUN_ID, file names SAFE_NAME, sizes are bounded, symbolic links are refused, and nothing is
written outside the target folder. Torch-free.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from trainer import credentials
from trainer.tracking import integrity, layout, ledger
from trainer.tracking.files import dumps_json, sha256_bytes, sha256_file, write_bytes, write_text
from trainer.tracking.layout import runs_dir as default_runs_dir

from .runs import RunView

FORMAT = "trainbook-history-2"
FORMATS = ("trainbook-history-1", FORMAT)
"""the formats a restore reads, oldest first; what each carries is `carried_files`"""
FOLDER = layout.SITE_HISTORY
"""the history's folder inside a built site, and the default local folder a restore writes"""
INDEX = "index.json"
MARKER = ".trainbook-history"
"""written by a restore into the folder it fills; a folder without it is never replaced"""
CARRIED = layout.PUBLISHED_KINDS
"""artifact kinds the history carries: the kinds run pages publish. FORMAT fixes them (.png .json .jsonl .yaml .txt,
tests/test_history.py holds them to it): should PUBLISHED_KINDS change, spell this tuple out or bump FORMAT, so that a
published format-1 history still restores"""
MAX_CARRIED_BYTES = 16 << 20
MAX_LEDGER_BYTES = 256 << 20
MAX_INDEX_BYTES = 256 << 20
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PAGE, OWN = "page", "history"
"""where a carried file lives in a site: on its run page, or in the history folder"""
FETCH_THREADS = 8
TIMEOUT_S = 60


class HistoryError(Exception):
    """The history cannot be used as it is; the message says where and what."""


def carried(name: str, facts: dict) -> bool:
    """Whether every history format carries this artifact (a small file of a CARRIED kind)."""
    size = facts.get("bytes") if isinstance(facts, dict) else None
    return name.endswith(CARRIED) and isinstance(size, int) and 0 <= size <= MAX_CARRIED_BYTES


def carried_files(record: dict, format: str = FORMAT) -> dict[str, dict]:
    """The artifacts a history of `format` carries for this run, with their sealed facts (decided from the record alone)."""
    artifacts = record.get("artifacts") if isinstance(record.get("artifacts"), dict) else {}
    small = {name: facts for name, facts in artifacts.items() if carried(name, facts)}
    return small if format == FORMATS[0] else small | layout.model_files(record)


def _problems_text(problems: list[str], limit: int = 20) -> str:
    shown = problems[:limit] + ([f"... and {len(problems) - limit} more"] if len(problems) > limit else [])
    return "\n  " + "\n  ".join(shown)


# --- sources: a built site or history folder on disk, or a site on the web ---------------------

class Source:
    """Reads a file of a published site by its site-relative path; None when it does not exist."""

    layout = "site"
    """'site': history/ledger.jsonl + index; 'runs': ledger.jsonl + <id>/<file> (a runs or history folder)"""
    format = FORMAT
    """the history format it was written in (read from index.json, or from a restore's marker)"""

    def read(self, rel: str, limit: int) -> bytes | None:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class FolderSource(Source):
    def __init__(self, root: Path):
        self.root = root
        if (root / FOLDER / layout.LEDGER).is_file():
            self.layout = "site"
        elif (root / layout.LEDGER).is_file():
            self.layout = "runs"
        else:
            raise HistoryError(f"{root}: neither a built site with {FOLDER}/{layout.LEDGER} nor a history or runs "
                               f"folder with {layout.LEDGER}")

    def read(self, rel: str, limit: int) -> bytes | None:
        path = self.root
        for part in rel.split("/"):
            path = path / part
            if path.is_symlink():
                raise HistoryError(f"{path}: a symbolic link; a history holds plain files only")
        if not path.is_file():
            return None
        if path.stat().st_size > limit:
            raise HistoryError(f"{path}: {path.stat().st_size} bytes, more than the {limit} expected")
        return path.read_bytes()

    def describe(self) -> str:
        return str(self.root)


class UrlSource(Source):
    def __init__(self, url: str):
        self.base = url if url.endswith("/") else url + "/"

    def url(self, rel: str) -> str:
        return urllib.parse.urljoin(self.base, urllib.parse.quote(rel))

    def shown(self, rel: str) -> str:
        """The address of `rel` as messages and the restore marker show it: without credentials."""
        return credentials.redact(self.url(rel))

    def read(self, rel: str, limit: int) -> bytes | None:
        data = self._get(rel, lambda response: response.read(limit + 1))
        if data is not None and len(data) > limit:
            raise HistoryError(f"{self.shown(rel)}: more than the {limit} bytes expected")
        return data

    def exists(self, rel: str) -> bool:
        return self._get(rel, lambda response: True) is not None

    def _get(self, rel: str, take):
        """`take(response)` for the file at `rel`; None when the site answers 404; a HistoryError otherwise."""
        request = urllib.request.Request(self.url(rel), headers={"User-Agent": "trainbook-history"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return take(response)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise HistoryError(f"{self.shown(rel)}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError) as e:
            raise HistoryError(f"{self.shown(rel)}: cannot be fetched ({getattr(e, 'reason', e)})") from None

    def describe(self) -> str:
        return credentials.redact(self.base)


def source_for(where: str) -> Source:
    if re.match(r"https?://", where):
        return UrlSource(where)
    path = Path(where)
    if not path.is_dir():
        raise HistoryError(f"{where}: no such folder (expected a site URL, a built site folder or a history folder)")
    return FolderSource(path)


# --- reading and checking a history --------------------------------------------------------------

@dataclass
class Located:
    """Where each run's carried files are in a source, read from its layout (and index.json for a site)."""

    source: Source
    index: dict

    def path(self, run_id: str, name: str) -> str:
        if self.source.layout == "runs":
            return f"{run_id}/{name}"
        where = self.index.get(run_id, {}).get(name, PAGE)
        return f"runs/{run_id}/{name}" if where == PAGE else f"{FOLDER}/{run_id}/{name}"


def _restored_format(source: Source) -> str:
    """The format of a folder a restore wrote (its marker says), else today's (a runs folder holds every file)."""
    try:
        found = json.loads(source.read(MARKER, 4096) or b"{}").get("format")
    except (ValueError, AttributeError):
        found = None
    return found if found in FORMATS else FORMAT


def _read_index(source: Source) -> dict:
    """Where a site's carried files are (index.json), and the source's format (`source.format`)."""
    if source.layout == "runs":
        source.format = _restored_format(source)
        return {}
    raw = source.read(f"{FOLDER}/{INDEX}", MAX_INDEX_BYTES)
    if raw is None:
        raise HistoryError(f"{source.describe()}: {FOLDER}/{layout.LEDGER} is there but {FOLDER}/{INDEX} is missing")
    try:
        index = json.loads(raw)
        runs = index["runs"]
        assert index.get("format") in FORMATS and isinstance(runs, dict)
        assert all(isinstance(files, dict) and all(w in (PAGE, OWN) for w in files.values()) for files in runs.values())
    except (ValueError, KeyError, AssertionError, TypeError):
        raise HistoryError(f"{source.describe()}: {FOLDER}/{INDEX} is not an index of a format this code reads "
                           f"({', '.join(FORMATS)})") from None
    source.format = index["format"]
    return runs


def _parse_ledger(raw: bytes, where: str) -> list[dict]:
    entries, problems = integrity.chain(raw.splitlines(keepends=True))
    if problems:
        raise HistoryError(f"{where}: the ledger does not verify (edited, truncated or reordered):{_problems_text(problems)}")
    return entries


def _check_record(raw: bytes | None, run_id: str, entry: dict) -> tuple[dict | None, list[str]]:
    if raw is None:
        return None, [f"{layout.RECORD} is missing"]
    if sha256_bytes(raw) != entry.get("record_sha256"):
        return None, [f"{layout.RECORD} differs from the ledger's hash (record edited)"]
    try:
        record = json.loads(raw)
        artifacts = record["artifacts"]
        assert isinstance(artifacts, dict)
    except (ValueError, KeyError, AssertionError, TypeError):
        return None, [f"{layout.RECORD} is not a run record"]
    problems = []
    if record.get("run_id") != run_id:
        problems.append(f"{layout.RECORD} names another run ({record.get('run_id')!r})")
    if not layout.EXPERIMENT.fullmatch(str(record.get("experiment"))) or record.get("experiment") != entry.get("experiment"):
        problems.append(f"{layout.RECORD}'s experiment does not match its ledger line")
    bad = [n for n in artifacts if not isinstance(n, str) or not SAFE_NAME.fullmatch(n) or n == layout.RECORD]
    problems += [f"artifact name {n!r} is not a plain file name" for n in bad]
    return record, problems


def _check_file(data: bytes | None, name: str, facts: dict) -> str | None:
    if data is None:
        return f"{name}: missing (the history carries every {', '.join(CARRIED)} artifact)"
    if len(data) != facts.get("bytes") or sha256_bytes(data) != facts.get("sha256"):
        return f"{name}: content differs from its recorded sha256 (artifact edited)"
    return None


def _restore_run(located: Located, run_id: str, entry: dict, into: Path | None) -> list[str]:
    """Read, check and (when `into` is given) write one run's record and carried files."""
    source = located.source
    raw = source.read(located.path(run_id, layout.RECORD), MAX_CARRIED_BYTES)
    record, problems = _check_record(raw, run_id, entry)
    if record is None or problems:
        return problems
    files = {layout.RECORD: raw}
    for name, facts in sorted(carried_files(record, source.format).items()):  # the rest: not published by design
        data = source.read(located.path(run_id, name), max(facts["bytes"], MAX_CARRIED_BYTES))
        problem = _check_file(data, name, facts)
        if problem:
            problems.append(problem)
        else:
            files[name] = data
    if into is not None and not problems:
        for name, data in files.items():
            write_bytes(into / run_id / name, data)
    return problems


def read_history(source: Source, into: Path | None) -> tuple[bytes, int]:
    """Check a whole history (and copy it into `into` when given); (ledger bytes, runs) or HistoryError."""
    ledger_rel = layout.LEDGER if source.layout == "runs" else f"{FOLDER}/{layout.LEDGER}"
    raw = source.read(ledger_rel, MAX_LEDGER_BYTES)
    if raw is None:
        raise HistoryError(f"{source.describe()}: {ledger_rel} is missing")
    entries = _parse_ledger(raw, f"{source.describe()} {ledger_rel}")
    located = Located(source, _read_index(source))
    latest = {e["run"]: e for e in entries}  # a resumed run is re-sealed; its last line counts
    threads = FETCH_THREADS if isinstance(source, UrlSource) else 1
    with ThreadPoolExecutor(threads) as pool:
        results = pool.map(lambda item: (item[0], _restore_run(located, item[0], item[1], into)), latest.items())
        problems = [f"{run_id}: {p}" for run_id, found in results for p in found]
    if problems:
        raise HistoryError(f"{source.describe()}: the published history does not verify; refusing to publish over it "
                           f"(that would drop or alter runs):{_problems_text(problems)}")
    if into is not None:
        write_bytes(into / layout.LEDGER, raw)
    return raw, len(latest)


def _swap(staging: Path, target: Path) -> None:
    """Put the finished folder `staging` in place of `target` with renames, so a reader never sees half of it."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old)
    else:
        os.replace(staging, target)


def restore(where: str, into: Path) -> str:
    """Fetch and verify the history at `where` into the folder `into`, replacing an earlier restore there.

    Returns a line for the log. A site that does not exist yet restores as an empty history; a site that
    exists without a history, or a history that does not verify, is a HistoryError and `into` is untouched.
    """
    source = source_for(where)
    if isinstance(source, FolderSource) and source.root.resolve() == into.resolve():
        _, count = read_history(source, None)
        return f"{into}: history verified in place ({count} runs)"
    if into.exists() and any(into.iterdir()) and not (into / MARKER).is_file():
        raise HistoryError(f"{into}: exists and was not written by a restore; refusing to replace it (choose another folder)")
    into.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=into.parent, prefix=f".{into.name}.restore-"))
    try:
        if isinstance(source, UrlSource) and not source.exists(f"{FOLDER}/{layout.LEDGER}"):
            if source.exists(""):
                raise HistoryError(f"{source.describe()}: the site exists but has no {FOLDER}/{layout.LEDGER}; refusing to "
                                   "publish over it and drop its runs (leave HISTORY empty to start a new history on purpose)")
            write_bytes(staging / layout.LEDGER, b"")
            count, note = 0, f"{source.describe()}: no site published yet; starting a new history"
        else:
            _, count = read_history(source, staging)
            note = f"{source.describe()}: {count} runs restored and verified into {into}"
        write_text(staging / MARKER, dumps_json({"format": source.format, "source": source.describe(), "runs": count}))
        _swap(staging, into)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return note


# --- runs restored locally, as the generators see them -------------------------------------------

class PublishedRun(RunView):
    """A run read from a restored history: its record and carried files verified, its checkpoint not published."""

    from_history = True


def check_folder(folder: Path) -> list[str]:
    """Problems with a local history folder (the same rules as a restore, read from disk)."""
    try:
        read_history(FolderSource(folder), None)
    except HistoryError as e:
        return [str(e)]
    return []


def load_views(folder: Path) -> list[PublishedRun]:
    """Every run of a restored history folder, verified, newest first; HistoryError if it does not verify."""
    problems = check_folder(folder)
    if problems:
        raise HistoryError(problems[0])
    entries, _ = integrity.parse(folder)
    views = []
    for run_id in {e["run"]: e for e in entries}:
        raw = (folder / run_id / layout.RECORD).read_bytes()
        # Verified above, so sealed with no problems; the record's hash keys its pages like any run's.
        views.append(PublishedRun(id=run_id, folder=folder / run_id, record=json.loads(raw), sealed=True,
                                  record_sha256=sha256_bytes(raw), published=True))
    views.sort(key=lambda r: (r.started, r.id), reverse=True)
    return views


def merge_views(published: list[RunView], local: list[RunView]) -> list[RunView]:
    """Published and local runs on one site, newest first; a run present in both is shown from runs/ and
    marked published (it is not new to the site, so it gets no comparison with the newest published run)."""
    ids = {r.id for r in published}
    by_id = {r.id: r for r in published} | {r.id: dataclasses.replace(r, published=True) if r.id in ids else r for r in local}
    return sorted(by_id.values(), key=lambda r: (r.started, r.id), reverse=True)


# --- the next history: published lines, then the new runs, written into a built site ------------------

def next_ledger(history: Path | None, runs: Path) -> tuple[bytes, dict[str, Path]]:
    """The published ledger followed by a line for each local run it lacks (or holds in an older state).

    Returns the ledger bytes and, for each run it seals, the folder its files come from. A local run
    that does not verify stops the publish: sealing it into the public chain would publish tampering.
    """
    lines = ledger.read_lines(history) if history else []
    entries = _parse_ledger(b"".join(lines), f"{history}/{layout.LEDGER}") if history else []
    folders = {e["run"]: history / e["run"] for e in entries}
    published = {e["run"]: e["record_sha256"] for e in entries}
    local, chain_problems = integrity.parse(runs)
    if chain_problems:
        raise HistoryError(f"{runs}/{layout.LEDGER} does not verify; run `python -m trainer verify`:{_problems_text(chain_problems)}")
    latest = {e["run"]: e for e in local}
    problems = []
    for run_id, entry in sorted(latest.items(), key=lambda item: item[1]["seq"]):
        if published.get(run_id) == entry["record_sha256"]:
            continue  # already in the history, unchanged
        if not (runs / run_id).exists():
            print(f"note: {run_id} is in {runs}/{layout.LEDGER} but its folder was removed; not published", file=sys.stderr)
            continue
        found = integrity.check_run(runs / run_id, entry)
        if found:
            problems += [f"{run_id}: {p}" for p in found]
            continue
        prev = sha256_bytes(lines[-1]) if lines else ledger.GENESIS
        lines.append(ledger.line(ledger.entry(len(lines) + 1, run_id, entry["experiment"], entry["status"],
                                              entry["record_sha256"], prev, entry["sealed_at"])))
        folders[run_id] = runs / run_id
    if problems:
        raise HistoryError(f"{runs}: runs that do not verify cannot join the published history; fix or remove them "
                           f"(`python -m trainer verify`):{_problems_text(problems)}")
    return b"".join(lines), folders


def export(site: Path, runs: Path, history: Path | None = None) -> str:
    """Write `site/history/`: the next ledger, and each carried file its run page does not already hold."""
    if history is not None:
        problems = check_folder(history)
        if problems:
            raise HistoryError(problems[0])
    if not site.is_dir():
        raise HistoryError(f"{site}: no built site there (build it first: make publish)")
    data, folders = next_ledger(history, runs)
    staging = Path(tempfile.mkdtemp(dir=site, prefix=f".{FOLDER}.export-"))
    index, copied = {}, 0
    try:
        for run_id, folder in folders.items():
            record = json.loads((folder / layout.RECORD).read_text())
            wanted = {layout.RECORD: {"sha256": sha256_file(folder / layout.RECORD), "bytes": (folder / layout.RECORD).stat().st_size}}
            wanted |= carried_files(record)
            index[run_id] = {}
            for name, facts in sorted(wanted.items()):
                on_page = site / "runs" / run_id / name
                if on_page.is_file() and on_page.stat().st_size == facts["bytes"] and sha256_file(on_page) == facts["sha256"]:
                    index[run_id][name] = PAGE
                    continue
                (staging / run_id).mkdir(exist_ok=True)
                shutil.copyfile(folder / name, staging / run_id / name)
                index[run_id][name] = OWN
                copied += 1
        (staging / layout.LEDGER).write_bytes(data)
        (staging / INDEX).write_text(dumps_json({"format": FORMAT, "runs": index}))
        _swap(staging, site / FOLDER)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _, count = read_history(FolderSource(site), None)  # what the next publish will restore must verify now
    return f"{site / FOLDER}: {count} runs in the published history ({copied} files not on run pages copied)"


# --- command line --------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators.history", description="Restore, verify and export the published history.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("restore", help="fetch and verify a published history into a local folder")
    r.add_argument("source", help="the live site's URL, a built site folder, or a history folder")
    r.add_argument("--into", default=FOLDER, help=f"local folder to restore into (default: {FOLDER})")
    v = sub.add_parser("verify", help="check a restored history folder or a built site's history")
    v.add_argument("source", help="a history folder, a built site folder or a site URL")
    e = sub.add_parser("export", help="write the next history into a built site")
    e.add_argument("--site", default="public", help="the built site folder (default: public)")
    e.add_argument("--runs-dir", help="folder of runs (default: $TRAINBOOK_RUNS_DIR or ./runs)")
    e.add_argument("--history", help="a restored history folder whose runs stay published")
    args = p.parse_args(argv)
    try:
        if args.command == "restore":
            print(restore(args.source, Path(args.into)), file=sys.stderr)
        elif args.command == "verify":
            _, count = read_history(source_for(args.source), None)
            print(f"{credentials.redact(args.source)}: history verified ({count} runs)", file=sys.stderr)
        else:
            history = Path(args.history) if args.history else None
            print(export(Path(args.site), default_runs_dir(args.runs_dir), history), file=sys.stderr)
    except HistoryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
