"""A folder served over HTTP on a free local port, quietly, in a daemon thread: how the benchmark and the browser
tests read a built site as a browser does (the published site is static files; any file server would do)."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """The running server (call .shutdown() when done) and its base URL, ending in '/'."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"
