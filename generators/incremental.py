"""What lets a publish redo only what changed, kept in `<output>/.trainbook/` between publishes.

- `Manifest`: for every generated page, a key hashed from everything the page is made of (the
  run records it shows, their verification, the generators' own code and templates, the target
  engine). A page whose key is unchanged and whose file is still there is neither rendered nor
  written again.
- `HashCache`: the sha256 of each run file, reused while the file's size, mtime, ctime and inode
  are unchanged (as `git status` does), so checking the ledger of 10,000 runs does not re-read
  every artifact on every publish. Any write to a file changes its ctime, which the owner of the
  file cannot set back, so a tampered artifact is still hashed again and caught.

Both files are plain JSON, written atomically, each with the sha256 of its own contents: a file
that is damaged (truncated, edited, of another shape) is noticed, said so, and not used, so the
next publish hashes and renders everything again. Deleting the folder only makes the next publish
a full one.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

from trainer.tracking.files import sha256_file, write_bytes

STATE_DIR = ".trainbook"
_CODE = Path(__file__).parent
FORMAT = "trainbook-publish-state-2"
DIGEST = re.compile(r"[0-9a-f]{64}")
PLAIN_NAME = re.compile(r"[^/\\]+")
"""a file name next to a page: never a path (a damaged manifest must not make a prune reach outside a page's folder)"""


def code_version() -> str:
    """A hash of the generators' source and templates: any change to them re-renders every page."""
    h = hashlib.sha256()
    for path in sorted(p for p in _CODE.rglob("*") if p.suffix in (".py", ".j2") and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(_CODE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def key(*parts) -> str:
    """A stable hash of JSON-able inputs."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


def file_key(path: Path) -> str:
    """A file's sha256, or why it cannot be read (the error is then the reader's to report)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        return f"unreadable: {e}"


def read_state(path: Path) -> dict:
    """A plain state file of the publish (.trainbook/*.json: Hugo's pending and built records, the search index's)
    as a dict; {} when it is missing, unreadable or not an object (a publish then does everything again, as if it
    were the first)."""
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def read_saved(path: Path) -> dict:
    """The state a publish saved in `path` (_save: the manifest, inputs, hash cache), or {} (with a note) when it is
    missing or not exactly what was saved."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError:
        raw = b""
    header, _, body = raw.partition(b"\n")
    try:
        head = json.loads(header)
        if isinstance(head, dict) and head.get("format") == FORMAT and head.get("sha256") == hashlib.sha256(body).hexdigest():
            data = json.loads(body)
            if isinstance(data, dict):
                return data
    except ValueError:
        pass
    print(f"note: {path} is damaged or from an older Trainbook (its sha256 does not match); not using it, so this "
          "publish hashes and renders everything again", file=sys.stderr)
    return {}


def _save(path: Path, data: dict) -> None:
    """A header line (format, the sha256 of the rest) and the data: the hash is of the bytes as written, so that
    reading a manifest of 10,000 pages back need not write it out again to check it."""
    body = (json.dumps(data, separators=(",", ":")) + "\n").encode()
    header = json.dumps({"format": FORMAT, "sha256": hashlib.sha256(body).hexdigest()}).encode()
    write_bytes(path, header + b"\n" + body)


def _pages(found) -> dict[str, str]:
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(found, dict) else {}


def _files(found) -> dict[str, list[str]]:
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(v, list) and all(isinstance(n, str) and PLAIN_NAME.fullmatch(n)
                                                                           and n not in (".", "..") for n in v)}


class Manifest:
    """Page path -> input key of its last write, and the files written next to each page."""

    FILE = "pages.json"

    def __init__(self, out_dir: Path, enabled: bool = True):
        self.path = out_dir / STATE_DIR / self.FILE
        saved = read_saved(self.path)
        self.old: dict[str, str] = _pages(saved.get("keys")) if enabled else {}
        self.old_files: dict[str, list[str]] = _files(saved.get("files"))
        """kept even for a full publish: they say which files a removed page leaves behind"""
        self.previous: set[str] | None = set(saved["pages"]) if isinstance(saved.get("pages"), list) else None
        """every page the last publish generated (None when no publish recorded them: every page is looked at)"""
        self.new: dict[str, str] = {}
        self.files: dict[str, list[str]] = {}
        self.pages: list[str] = []

    def fresh(self, path: str, page_key: str | None, target: Path | str) -> bool:
        return page_key is not None and self.old.get(path) == page_key and os.path.isfile(target)

    def kept(self, path: str, page_key: str, target: Path | str) -> list[str] | None:
        """The names of the files next to a page the last publish wrote with this key, if it is still there; else None."""
        return self.old_files.get(path, []) if self.fresh(path, page_key, target) else None

    def record(self, path: str, page_key: str | None, files: list[str]) -> None:
        if page_key is not None:
            self.new[path] = page_key
        if files:
            self.files[path] = files
        self.pages.append(path)

    def save(self) -> None:
        _save(self.path, {"keys": self.new, "files": self.files, "pages": self.pages})


class Inputs:
    """Everything besides the runs that pages are made of (the generators' code, the guide's sources, the options),
    as a key kept between publishes: with it and the runs unchanged (run_index), a publish has nothing to do."""

    FILE = "inputs.json"

    STATE = ("hashes.json", "pages.json")
    """the state files a no-op publish does not read: one changed since the last publish (damaged, say) is read again"""

    def __init__(self, out_dir: Path, *parts):
        self.path = out_dir / STATE_DIR / self.FILE
        self.state = [out_dir / STATE_DIR / name for name in self.STATE]
        self.key = key(code_version(), *parts)

    def _stamps(self) -> list:
        found = []
        for path in self.state:
            try:
                st = os.stat(path)
            except OSError:
                found.append(None)
                continue
            found.append([st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
        return found

    def same(self, pages: list[Path]) -> bool:
        """True when the last publish had these inputs, its `pages` are still there, and its state files are as it
        left them."""
        saved = read_saved(self.path)
        return saved.get("key") == self.key and saved.get("state") == self._stamps() and all(p.is_file() for p in pages)

    def state_changed(self) -> bool:
        """Whether a state file changed since the last publish left it (then it is read, and a damaged one said so)."""
        return read_saved(self.path).get("state") != self._stamps()

    def save(self) -> None:
        """Called last, after the hash cache and the manifest were saved."""
        _save(self.path, {"key": self.key, "state": self._stamps()})


class HashCache:
    FILE = "hashes.json"

    def __init__(self, out_dir: Path):
        self.path = out_dir / STATE_DIR / self.FILE
        self._old: dict | None = None
        self.new: dict[str, list] = {}
        self.hashed = 0

    @property
    def old(self) -> dict:
        """The last publish's hashes, read when a file is first hashed (a publish that hashes nothing never reads them)."""
        if self._old is None:
            self._old = read_saved(self.path)
        return self._old

    def sha256(self, path: Path) -> str:
        st = os.stat(path)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        name = os.path.abspath(path)
        cached = self.old.get(name)
        if isinstance(cached, list) and cached[:4] == stamp and len(cached) == 5 and DIGEST.fullmatch(str(cached[4])):
            digest = cached[4]
        else:
            digest = sha256_file(path)
            self.hashed += 1
        self.new[name] = [*stamp, digest]
        return digest

    def save(self) -> None:
        _save(self.path, self.new)
