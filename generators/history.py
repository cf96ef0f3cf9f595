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

A site on the web is fetched with retries (429, 5xx, timeouts: `UrlSource._get`), and a site that answers
nothing becomes a new history only when GitHub says Pages was never deployed (`new_history_note`). Files
that moved to the second store to keep the site within its budget (site_budget.py) are indexed as STORE
and not fetched by a restore (`read_stored`, `export`).
"""
from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from trainer import credentials
from trainer.tracking import integrity, layout, ledger
from trainer.tracking.files import StorageError, dumps_json, replace_folder, sha256_bytes, sha256_file, write_bytes, write_text
from trainer.tracking.layout import runs_dir as default_runs_dir

from . import github, publish_log, site_lock
from .runs import RunView

FORMAT = "trainbook-history-2"
FORMAT_STORE = "trainbook-history-3"
"""format 2 plus STORE: some files live in the second store, whose base address the index names (`store`); an
export writes it only when a file is stored, so a site within its budget stays readable by format-2 code"""
FORMATS = ("trainbook-history-1", FORMAT, FORMAT_STORE)
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
MAX_LEDGER_LINES = 100_000
MAX_LINE_BYTES = 2048
"""a ledger line is about 330 bytes; these bound what parsing a hostile ledger costs (each line becomes a dict)"""
MAX_LEDGER_BYTES = 64 << 20
MAX_INDEX_BYTES = 64 << 20
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PAGE, OWN, STORE = "page", "history", "store"
"""where a carried file lives: on its run page, in the site's history folder, or in the second store"""
STORED = "stored.json"
"""in a restored folder: the files its runs keep in the second store, and the store's base address"""
STORE_SHIPPED = "runs/stored.json"
"""in a built site: the same list, written by the generators (site_budget), read by the export"""
STORE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~%+-]+)*/")
"""a store's base address: plain http(s), no credentials, no query, ending in `/`; a file is `<base><run id>/<name>`"""
FETCH_THREADS = 8
TIMEOUT_S = 60
RETRIES = 5
"""tries after the first for a 429, a 5xx, a timeout or a dropped connection: a restore makes thousands of
fetches, and one bad answer among them must not fail a publish"""
BACKOFF_S = 1.0
"""the first wait before a retry; each next one doubles (1, 2, 4, 8, 16 s: about half a minute in all)"""
MAX_WAIT_S = 60.0
"""the longest wait, even when the site's Retry-After asks for more"""
RETRIED_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_SNAPSHOT_BYTES = 64 << 20


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
        self.opener = _opener(self.base)

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
        """`take(response)` for the file at `rel`; None when the site answers 404; a HistoryError when it still
        fails after RETRIES more tries (429, 5xx, timeouts and dropped connections are tried again)."""
        request = urllib.request.Request(self.url(rel), headers={"User-Agent": "trainbook-history"})
        for attempt in range(RETRIES + 1):
            try:
                with self.opener.open(request, timeout=TIMEOUT_S) as response:
                    return take(response)
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    return None
                if e.code not in RETRIED_STATUS or attempt == RETRIES:
                    raise HistoryError(f"{self.shown(rel)}: HTTP {e.code} {e.reason}{_tries(attempt)}") from None
                asked = _retry_after(e.headers.get("Retry-After"))
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                if attempt == RETRIES:
                    reason = getattr(e, "reason", None) or e
                    raise HistoryError(f"{self.shown(rel)}: cannot be fetched ({reason}){_tries(attempt)}") from None
                asked = None
            time.sleep(backoff(attempt, asked))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def describe(self) -> str:
        return credentials.redact(self.base)


def _opener(base: str) -> urllib.request.OpenerDirector:
    """An opener that sends the address's own user and password (`https://user:token@host/...`) as HTTP basic
    authentication to addresses under `base` only, never to a host a redirect leads to; urllib alone would take
    `user:token@host` for a host name and fail every try."""
    parts = urllib.parse.urlsplit(base)
    if parts.username is None:
        return urllib.request.build_opener()
    passwords = urllib.request.HTTPPasswordMgrWithPriorAuth()
    passwords.add_password(None, urllib.parse.urlunsplit(parts._replace(netloc=_host(parts))), urllib.parse.unquote(parts.username),
                           urllib.parse.unquote(parts.password or ""), is_authenticated=True)
    return urllib.request.build_opener(_WithoutUserinfo, urllib.request.HTTPBasicAuthHandler(passwords))


def _host(parts: urllib.parse.SplitResult) -> str:
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    return host + (f":{parts.port}" if parts.port else "")


class _WithoutUserinfo(urllib.request.BaseHandler):
    """Takes the user and password out of each request's address before it is sent (the auth handler sends them)."""
    handler_order = 100  # before the auth handler reads the request's address

    def _strip(self, request: urllib.request.Request) -> urllib.request.Request:
        parts = urllib.parse.urlsplit(request.full_url)
        if parts.username is not None:
            request.full_url = urllib.parse.urlunsplit(parts._replace(netloc=_host(parts)))
        return request

    http_request = https_request = _strip


def backoff(attempt: int, asked: float | None = None) -> float:
    """Seconds to wait before try `attempt + 2`: doubling from BACKOFF_S with jitter (eight fetch threads should not
    come back in step), or the site's Retry-After when it asks for longer; never more than MAX_WAIT_S."""
    wait = BACKOFF_S * 2 ** attempt * random.uniform(0.5, 1.0)
    return min(max(wait, asked or 0.0), MAX_WAIT_S)


def _retry_after(header: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare for static hosts and is treated as absent)."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def _tries(attempt: int) -> str:
    return f" (after {attempt + 1} tries)" if attempt else ""


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
    stored: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    """run id -> its files in the second store (site_budget), which a restore does not fetch"""
    store: str | None = None
    """the second store's base address, when the history keeps files there"""

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


def _read_index(source: Source) -> Located:
    """Where a site's carried files are (index.json, or a restored folder's STORED list), and the source's format
    (`source.format`)."""
    if source.layout == "runs":
        source.format = _restored_format(source)
        store, stored = read_stored(source.read(STORED, MAX_INDEX_BYTES), f"{source.describe()}/{STORED}")
        return Located(source, {}, stored, store)
    raw = source.read(f"{FOLDER}/{INDEX}", MAX_INDEX_BYTES)
    if raw is None:
        raise HistoryError(f"{source.describe()}: {FOLDER}/{layout.LEDGER} is there but {FOLDER}/{INDEX} is missing")
    try:
        index = json.loads(raw)
        runs = index["runs"]
        assert index.get("format") in FORMATS and isinstance(runs, dict)
        places = (PAGE, OWN, STORE) if index["format"] == FORMAT_STORE else (PAGE, OWN)
        assert all(isinstance(files, dict) and all(w in places for w in files.values()) for files in runs.values())
        stored = {run: {n for n, w in files.items() if w == STORE} for run, files in runs.items()}
        store = index.get("store") if any(stored.values()) else None
        assert store is None or (isinstance(store, str) and STORE_URL.fullmatch(store))
    except (ValueError, KeyError, AssertionError, TypeError):
        raise HistoryError(f"{source.describe()}: {FOLDER}/{INDEX} is not an index of a format this code reads "
                           f"({', '.join(FORMATS)})") from None
    source.format = index["format"]
    return Located(source, runs, {run: names for run, names in stored.items() if names}, store)


def _parse_ledger(raw: bytes, where: str) -> list[dict]:
    lines = raw.splitlines(keepends=True)
    if len(lines) > MAX_LEDGER_LINES:
        raise HistoryError(f"{where}: {len(lines)} lines, more than the {MAX_LEDGER_LINES} a history may hold")
    long = next((n for n, line in enumerate(lines, start=1) if len(line) > MAX_LINE_BYTES), None)
    if long is not None:
        raise HistoryError(f"{where}: line {long} has {len(lines[long - 1])} bytes, more than a ledger line's {MAX_LINE_BYTES}")
    entries, problems = integrity.chain(lines)
    if problems:
        raise HistoryError(f"{where}: the ledger does not verify (edited, truncated or reordered):{_problems_text(problems)}")
    finished: dict[str, int] = {}
    for entry in entries:  # a run is sealed again only when resumed, and only a run that did not finish is resumed
        if entry["run"] in finished:
            raise HistoryError(f"{where}: line {entry['seq']} seals run {entry['run']} again, after line "
                               f"{finished[entry['run']]} sealed it ok; a finished run is never sealed twice")
        if entry["status"] == "ok":
            finished[entry["run"]] = entry["seq"]
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
        if name in located.stored.get(run_id, ()):
            continue  # in the second store: checked against its sha256 when it moved there, not fetched again
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
    located = _read_index(source)
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
        stored = {run: names for run, names in located.stored.items() if run in latest}
        if stored:
            write_text(into / STORED, stored_listing(located.store, stored))
    return raw, len(latest)


def restore(where: str, into: Path, *, new_history: bool = False, repository: str | None = None) -> str:
    """Fetch and verify the history at `where` into the folder `into`, replacing an earlier restore there.

    Returns a line for the log. A site that answers nothing starts an empty history only when that cannot
    drop published runs (`new_history_note`); a site that exists without a history, or a history that does
    not verify, is a HistoryError and `into` is untouched. The site's snapshot of what it showed
    (publish_log.SHIPPED) comes along, so the next publish can say what changed since.
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
            note = new_history_note(source, new_history, repository)
            write_bytes(staging / layout.LEDGER, b"")
            count = 0
        else:
            _, count = read_history(source, staging)
            note = f"{source.describe()}: {count} runs restored and verified into {into}"
            note += carry_snapshot(source, staging)
        write_text(staging / MARKER, dumps_json({"format": source.format, "source": source.describe(), "runs": count}))
        replace_folder(staging, into)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return note


def new_history_note(source: UrlSource, forced: bool, repository: str | None) -> str:
    """The log line for starting an empty history at a site that answers 404 everywhere, or a HistoryError when
    that could drop published runs: GitHub must say the repository never deployed Pages, or the user must ask."""
    where = source.describe()
    if forced:
        return f"{where}: no site answers; starting a new history, as asked (--new-history)"
    how = (f"restore from a copy of the site instead (make publish HISTORY=<folder>, e.g. the unzipped github-pages "
           f"artifact of the last publish), or start a new history on purpose (make history NEW_HISTORY=1; in CI the "
           f"publish workflow's `new_history` input)")
    if not repository:
        raise HistoryError(f"{where}: neither {FOLDER}/{layout.LEDGER} nor the site answers, and without a repository "
                           f"(--repository OWNER/NAME or $GITHUB_REPOSITORY) GitHub cannot be asked whether Pages was ever "
                           f"deployed; refusing to start a new history that could replace a published one: {how}")
    try:
        deployed = github.pages_deployments(repository)
    except github.GitHubError as e:
        raise HistoryError(f"{where}: the site answers nothing and whether {repository} ever deployed Pages is unknown "
                           f"({e}); refusing to start a new history that could replace a published one: {how}") from None
    if deployed.count:
        when = f" (the newest at {deployed.latest})" if deployed.latest else ""
        raise HistoryError(f"{where}: neither {FOLDER}/{layout.LEDGER} nor the site answers, but {repository} has deployed "
                           f"Pages before{when}: the site is unpublished or unreachable, not new. Refusing to start a new "
                           f"history, whose deploy would replace the site and drop every published run. Try again once "
                           f"the site answers, or {how}")
    return f"{where}: no site published yet ({repository} has never deployed Pages); starting a new history"


def carry_snapshot(source: Source, staging: Path) -> str:
    """Copy the site's snapshot of what it showed (publish_log.SHIPPED) into the restore as publish_log.FILE, for
    `--previous-publish`; a missing or unreadable one is only noted (it changes what the home page compares with)."""
    raw = source.read(publish_log.SHIPPED if source.layout == "site" else publish_log.FILE, MAX_SNAPSHOT_BYTES)
    if raw is None:
        return f" (no {publish_log.FILE} there: the home page will compare with nothing)"
    if not publish_log.is_snapshot(raw):
        return f" ({publish_log.FILE} there is not a {publish_log.FORMAT} snapshot; ignored)"
    write_bytes(staging / publish_log.FILE, raw)
    return f", with the snapshot of what it showed ({publish_log.FILE})"


# --- the second store: files of old runs moved off the site (generators/site_budget.py) -------------

def stored_url(base: str, run_id: str, name: str) -> str:
    """The address of a stored file (run ids and names are of a safe alphabet, see layout.RUN_ID and SAFE_NAME)."""
    return f"{base}{run_id}/{name}"


def store_base_of(url: str) -> str:
    return url.rsplit("/", 2)[0] + "/"


def stored_listing(base: str | None, runs: dict[str, set[str]]) -> str:
    """STORED / STORE_SHIPPED: which files of which runs live in the store at `base`."""
    return dumps_json({"format": FORMAT_STORE, "store": base, "runs": {r: sorted(names) for r, names in sorted(runs.items())}})


def read_stored(raw: bytes | None, where: str) -> tuple[str | None, dict[str, set[str]]]:
    """(store base, run id -> stored names) from a STORED or STORE_SHIPPED listing; absent: nothing stored."""
    if raw is None:
        return None, {}
    try:
        data = json.loads(raw)
        runs, base = data["runs"], data["store"]
        assert data.get("format") == FORMAT_STORE and isinstance(runs, dict) and isinstance(base, str) and STORE_URL.fullmatch(base)
        assert all(layout.RUN_ID.fullmatch(r) and isinstance(n, list) and all(isinstance(x, str) and SAFE_NAME.fullmatch(x) for x in n)
                   for r, n in runs.items())
    except (ValueError, KeyError, AssertionError, TypeError):
        raise HistoryError(f"{where}: not a {FORMAT_STORE} list of stored files") from None
    return base, {r: set(n) for r, n in runs.items() if n}


def _shipped_store(site: Path) -> tuple[str | None, dict[str, set[str]]]:
    path = site / STORE_SHIPPED
    return read_stored(path.read_bytes() if path.is_file() else None, str(path))


def _to_store(src: Path, facts: dict, store_dir: Path, run_id: str, name: str) -> int:
    """Copy a file moving off the site into the store folder, checked against its sealed sha256; returns 1 if copied."""
    data = src.read_bytes()
    if len(data) != facts.get("bytes") or sha256_bytes(data) != facts.get("sha256"):
        raise HistoryError(f"{src}: content differs from its recorded sha256; it cannot move to the store")
    target = store_dir / run_id / name
    if target.is_file() and sha256_file(target) == facts["sha256"]:
        return 0
    write_bytes(target, data)
    return 1


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
    base, stored = read_stored((folder / STORED).read_bytes() if (folder / STORED).is_file() else None, str(folder / STORED))
    views = []
    for run_id in {e["run"]: e for e in entries}:
        raw = (folder / run_id / layout.RECORD).read_bytes()
        # Verified above, so sealed with no problems; the record's hash keys its pages like any run's.
        urls = {name: stored_url(base, run_id, name) for name in sorted(stored.get(run_id, ()))} if base else {}
        views.append(PublishedRun(id=run_id, folder=folder / run_id, record=json.loads(raw), sealed=True,
                                  record_sha256=sha256_bytes(raw), published=True, stored=urls))
    views.sort(key=lambda r: (r.started, r.id), reverse=True)
    return views


def merge_views(published: list[RunView], local: list[RunView]) -> list[RunView]:
    """Published and local runs on one site, newest first; a run present in both is shown from runs/ and
    marked published (it is not new to the site, so it gets no comparison with the newest published run)."""
    ids = {r.id for r in published}
    by_id = {r.id: r for r in published} | {r.id: r.copy_with(published=True) if r.id in ids else r for r in local}
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
    finished = {e["run"] for e in entries if e["status"] == "ok"}
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
        if run_id in finished:
            found.append("the published history sealed it ok already; a finished run is never sealed again")
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


def export(site: Path, runs: Path, history: Path | None = None, store_dir: Path | None = None) -> str:
    """Write `site/history/`: the next ledger, and each carried file its run page does not already hold; files the
    generators moved to the second store (STORE_SHIPPED) are indexed there, and those moved now copied into `store_dir`."""
    if history is not None:
        problems = check_folder(history)
        if problems:
            raise HistoryError(problems[0])
    if not site.is_dir():
        raise HistoryError(f"{site}: no built site there (build it first: make publish)")
    data, folders = next_ledger(history, runs)
    for left in [*site.glob(f".{FOLDER}.export-*"), *site.glob(f".{FOLDER}.old-*")]:
        shutil.rmtree(left, ignore_errors=True)  # what a killed export left (the site's lock keeps out a live one)
    store, stored = _shipped_store(site)
    before_store, before = read_stored(_read_if_file(history / STORED) if history else None, f"{history}/{STORED}")
    store = store or before_store
    staging = Path(tempfile.mkdtemp(dir=site, prefix=f".{FOLDER}.export-"))
    index, copied, moved = {}, 0, 0
    try:
        for run_id, folder in folders.items():
            record = json.loads((folder / layout.RECORD).read_text())
            wanted = {layout.RECORD: {"sha256": sha256_file(folder / layout.RECORD), "bytes": (folder / layout.RECORD).stat().st_size}}
            wanted |= carried_files(record)
            index[run_id] = {}
            for name, facts in sorted(wanted.items()):
                if name != layout.RECORD and (name in stored.get(run_id, ()) or name in before.get(run_id, ())):
                    index[run_id][name] = STORE
                    if name not in before.get(run_id, ()):  # moved off the site by this publish: its bytes are here
                        if store_dir is None:
                            raise HistoryError(f"{site}: files moved off the site to the store, but no store folder was "
                                               "given to copy them into (--store DIR; make publish STORE=...)")
                        moved += _to_store(folder / name, facts, store_dir, run_id, name)
                    continue
                on_page = site / "runs" / run_id / name
                if on_page.is_file() and on_page.stat().st_size == facts["bytes"] and sha256_file(on_page) == facts["sha256"]:
                    index[run_id][name] = PAGE
                    continue
                write_bytes(staging / run_id / name, (folder / name).read_bytes(), durable=False)  # carried: <= 16 MiB
                index[run_id][name] = OWN
                copied += 1
        write_bytes(staging / layout.LEDGER, data, durable=False)  # (a built site can be built again: no fsyncs)
        in_store = any(STORE in files.values() for files in index.values())
        header = {"format": FORMAT_STORE, "store": store} if in_store else {"format": FORMAT}
        write_text(staging / INDEX, dumps_json({**header, "runs": index}), durable=False)
        replace_folder(staging, site / FOLDER)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _, count = read_history(FolderSource(site), None)  # what the next publish will restore must verify now
    stored_note = f"; {moved} files newly moved to the store folder {store_dir}" if moved else ""
    return f"{site / FOLDER}: {count} runs in the published history ({copied} files not on run pages copied{stored_note})"


def _read_if_file(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


# --- command line --------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators.history", description="Restore, verify and export the published history.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("restore", help="fetch and verify a published history into a local folder")
    r.add_argument("source", help="the live site's URL, a built site folder, or a history folder")
    r.add_argument("--into", default=FOLDER, help=f"local folder to restore into (default: {FOLDER})")
    r.add_argument("--repository", default=os.environ.get("GITHUB_REPOSITORY") or None, metavar="OWNER/NAME",
                   help="the site's repository, asked through `gh api` whether it ever deployed Pages before a new history "
                        "is started for a site that answers nothing (default: $GITHUB_REPOSITORY)")
    r.add_argument("--new-history", action="store_true",
                   help="start a new, empty history when the site answers nothing, without asking GitHub")
    v = sub.add_parser("verify", help="check a restored history folder or a built site's history")
    v.add_argument("source", help="a history folder, a built site folder or a site URL")
    e = sub.add_parser("export", help="write the next history into a built site")
    e.add_argument("--site", default="public", help="the built site folder (default: public)")
    e.add_argument("--runs-dir", help="folder of runs (default: $TRAINBOOK_RUNS_DIR or ./runs)")
    e.add_argument("--history", help="a restored history folder whose runs stay published")
    e.add_argument("--store", help="the second store's folder: files the generators moved off the site are copied here")
    args = p.parse_args(argv)
    try:
        if args.command == "restore":
            print(restore(args.source, Path(args.into), new_history=args.new_history, repository=args.repository),
                  file=sys.stderr)
        elif args.command == "verify":
            _, count = read_history(source_for(args.source), None)
            print(f"{credentials.redact(args.source)}: history verified ({count} runs)", file=sys.stderr)
        else:
            history = Path(args.history) if args.history else None
            store = Path(args.store) if args.store else None
            with site_lock.site(Path(args.site)):
                print(export(Path(args.site), default_runs_dir(args.runs_dir), history, store), file=sys.stderr)
    except (HistoryError, StorageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
