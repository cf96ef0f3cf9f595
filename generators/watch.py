"""`python -m generators.watch` (`make serve`): the site on 127.0.0.1, following the runs folder while runs train.

It publishes the runs folder, running runs included, into folders of its own (`build/live/` by default;
never `content/` or `public/`, which `make publish` owns), serves the built site, and publishes again
when a run starts or is sealed, and every REPUBLISH_S while a run trains (so the home and experiment
pages show its step, also without JavaScript). A running run's page asks this server, at
`/live/<run id>/status.json` and `/live/<run id>/curves.json`, for the run's status file and its curves,
read from the run folder as they are (never written), so the page follows the run as fast as it logs;
once the server has published the run sealed, its status answer says so and the page reloads as the
run's full page. The site `make publish` builds stays static files; this server is for watching runs.
"""
from __future__ import annotations

import argparse
import contextlib
import http.server
import io
import json
import re
import shutil
import sys
import threading
import time
import traceback
import urllib.parse
from pathlib import Path

from trainer.tracking import layout, status
from trainer.tracking.files import write_bytes

from . import content, curves, hugo_build, incremental, publish_log, site_lock
from .__main__ import main as generate

POLL_S = 1.0
"""how often the runs folder is looked at for runs that started or were sealed"""
REPUBLISH_S = 10.0
"""while a run trains, the pages that list it are published again this often"""
LIVE = re.compile(r"/live/(?P<run>[^/]+)/(?P<file>status\.json|curves\.json)")


def author_pages(source: Path, into: Path) -> None:
    """Copy the author's pages of `source` (everything but generated pages, their bundles and the publish state)."""
    for path in sorted(source.rglob("*")) if source.is_dir() else []:
        rel = path.relative_to(source)
        if not path.is_file() or incremental.STATE_DIR in rel.parts or path.name.startswith("."):
            continue
        if path.suffix == ".md" and content.is_generated(path):
            continue
        if path.suffix != ".md" and any(content.is_generated(p) for p in path.parent.glob("*.md")):
            continue  # a file of a generated bundle: a run's figure, for instance
        target = into / rel
        if not target.is_file() or target.read_bytes() != path.read_bytes():
            write_bytes(target, path.read_bytes(), durable=False)


def snapshot(runs: Path) -> tuple:
    """What makes a publish necessary: the ledger, and each run folder's record (a run starts, is sealed, resumes)."""
    def stamp(path: Path) -> tuple:
        try:
            st = path.stat()
        except OSError:
            return ()
        return st.st_size, st.st_mtime_ns

    return stamp(runs / layout.LEDGER), tuple((f.name, stamp(f / layout.RECORD)) for f in layout.run_folders(runs))


class Watch:
    """The runs folder, the folders it is published into, and what the last publish showed of each run."""

    def __init__(self, runs: Path, authored: Path, work: Path):
        self.runs, self.authored = runs, authored
        self.content, self.public = work / "content", work / "public"
        self.base_url = "/"
        self.published: dict[str, str] = {}
        """run id -> its status on the pages now served ("running" while its live page is up)"""
        self.seen: tuple = ()
        self.published_at = 0.0

    def due(self) -> bool:
        now = snapshot(self.runs)
        running = "running" in self.published.values()
        return now != self.seen or (running and time.monotonic() - self.published_at >= REPUBLISH_S)

    def publish(self) -> bool:
        """Publish the runs folder (running runs as live pages) and build the site; False, said why, on a failure."""
        self.seen, self.published_at = snapshot(self.runs), time.monotonic()
        author_pages(self.authored, self.content)
        log = io.StringIO()
        try:
            with contextlib.redirect_stderr(log):
                code = generate(["--runs-dir", str(self.runs), "--content", str(self.content), "--live"])
        except Exception:  # a bug must not take the server down with it: it is shown, and the next publish retries
            log.write(traceback.format_exc())
            code = 1
        if code != 0:
            print(f"watch: publishing failed, still serving the last site:\n{log.getvalue().strip()}", file=sys.stderr)
            return False
        try:
            with site_lock.both(self.content, self.public) as keep:
                hugo_build.build(self.content, self.public, self.base_url, Path(sys.executable).parent / "hugo", keep=keep)
        except SystemExit:
            print("watch: Hugo failed (above), still serving the last site", file=sys.stderr)
            return False
        self.published = self.statuses()
        training = sum(status == "running" for status in self.published.values())
        print(f"watch: published {len(self.published)} runs ({training} training) in {time.monotonic() - self.published_at:.1f} s",
              file=sys.stderr, flush=True)
        return True

    def statuses(self) -> dict[str, str]:
        try:
            state = json.loads((self.content / incremental.STATE_DIR / publish_log.FILE).read_text())
            return {run: facts["status"] for run, facts in state["current"]["runs"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def live(self, run_id: str, name: str) -> dict | None:
        """The answer to /live/<run id>/<name>, or None for a run this folder does not hold."""
        folder = self.runs / run_id
        if not layout.RUN_ID.fullmatch(run_id) or not folder.is_dir():
            return None
        if name == "status.json":
            return {"published": self.published.get(run_id), "status": status.read(folder / layout.STATUS)}
        return curves.compact(layout.read_metrics(folder / layout.METRICS))


def handler(watch: Watch):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(watch.public), **kwargs)

        def do_GET(self):
            found = LIVE.fullmatch(urllib.parse.urlsplit(self.path).path)
            if not found:
                return super().do_GET()
            try:
                answer = watch.live(found["run"], found["file"])
            except (OSError, ValueError) as e:  # a file caught mid-replace: the page asks again
                self.send_error(503, str(e))
                return
            if answer is None:
                self.send_error(404, "no such run")
                return
            body = json.dumps(answer, separators=(",", ":"), allow_nan=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def end_headers(self):
            if not self.path.startswith("/live/"):
                self.send_header("Cache-Control", "no-cache")  # pages change as runs train
            super().end_headers()

        def log_message(self, *args):
            pass

    return Handler


def serve(watch: Watch, host: str, port: int, stop: threading.Event | None = None) -> int:
    server = http.server.ThreadingHTTPServer((host, port), handler(watch))
    watch.base_url = f"http://{host}:{server.server_port}/"
    stop = stop or threading.Event()
    try:
        if not watch.publish() and not (watch.public / "index.html").is_file():
            return 1
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(f"watch: serving {watch.base_url} (runs in {watch.runs}, live pages included); Ctrl-C stops it",
              file=sys.stderr, flush=True)
        while not stop.wait(POLL_S):
            if watch.due():
                watch.publish()
    except KeyboardInterrupt:
        print("watch: stopped", file=sys.stderr)
    finally:
        server.shutdown()
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators.watch", description=__doc__.split("\n")[0])
    p.add_argument("--runs-dir", help="folder of runs (default: $TRAINBOOK_RUNS_DIR or ./runs)")
    p.add_argument("--content", type=Path, default=Path("content"), help="where the author's pages are (default: content)")
    p.add_argument("--work", type=Path, default=Path("build/live"), help="folder for the live content and site (default: build/live)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1313, help="port (default: 1313; 0 picks a free one)")
    p.add_argument("--fresh", action="store_true", help="start from an empty work folder")
    args = p.parse_args(argv)
    if args.fresh:
        shutil.rmtree(args.work, ignore_errors=True)
    return serve(Watch(layout.runs_dir(args.runs_dir), args.content, args.work), args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
