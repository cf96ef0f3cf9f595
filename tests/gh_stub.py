"""A stand-in for the GitHub CLI's `gh api`, answering as GitHub does, so the workflows' scripts run here.

`install(folder, routes)` writes an executable `gh` into `folder` (put it first on PATH) that answers
`gh api [-X METHOD] [-H ...] [-f key=value ...] [--paginate] [--jq EXPR] [--input FILE] PATH` from `routes`:

    {"GET repos/o/r/pages": {"status": 404, "body": {"message": "Not Found"}}, ...}

keyed by method and path (the query string, if any, is part of the path). A route may give a list of answers,
used in turn (the last one repeats), for an API that fails before it works. Like the real `gh`, a 2xx prints
the body (through `jq -r` when --jq is given, as gh prints strings raw) and exits 0; any other status prints
GitHub's error JSON on standard output, `gh: <message> (HTTP <status>)` on standard error, and exits 1.
Every call is appended to `calls.jsonl` next to the stub: method, path, fields and the --input body.
"""
from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

STUB = '''#!{python}
import json, subprocess, sys, urllib.parse
from pathlib import Path

here = Path(__file__).resolve().parent
args = sys.argv[1:]
if not args or args[0] != "api":
    sys.exit(f"gh stub: only `gh api` is answered, not {{args}}")
method, fields, jq, body, path, i = None, {{}}, None, None, None, 1
while i < len(args):
    a = args[i]
    if a in ("-X", "--method"):
        method, i = args[i + 1], i + 2
    elif a in ("-f", "-F", "--raw-field", "--field"):
        key, _, value = args[i + 1].partition("=")
        fields[key], i = value, i + 2
    elif a in ("-H", "--header"):
        i += 2
    elif a == "--jq":
        jq, i = args[i + 1], i + 2
    elif a == "--input":
        body, i = json.loads(Path(args[i + 1]).read_text()), i + 2
    elif a == "--paginate":
        i += 1
    else:
        path, i = a, i + 1
method = method or ("POST" if fields or body is not None else "GET")
if method == "GET" and fields:
    path += ("&" if "?" in path else "?") + urllib.parse.urlencode(sorted(fields.items()))
with open(here / "calls.jsonl", "a") as log:
    log.write(json.dumps({{"method": method, "path": path, "fields": fields, "input": body}}) + "\\n")
routes = json.loads((here / "routes.json").read_text())
answers = routes.get(f"{{method}} {{path}}", {{"status": 404, "body": {{"message": "Not Found"}}}})
if isinstance(answers, list):
    used = here / "used.json"
    counts = json.loads(used.read_text()) if used.exists() else {{}}
    n = counts.get(f"{{method}} {{path}}", 0)
    counts[f"{{method}} {{path}}"] = n + 1
    used.write_text(json.dumps(counts))
    answers = answers[min(n, len(answers) - 1)]
status, payload = answers["status"], answers.get("body", {{}})
text = json.dumps(payload)
if 200 <= status < 300:
    if jq is not None:
        out = subprocess.run(["jq", "-r", jq], input=text, capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stderr)
        text = out.stdout.rstrip("\\n")
    print(text)
    sys.exit(0)
print(text)
message = payload.get("message", "error") if isinstance(payload, dict) else "error"
print(f"gh: {{message}} (HTTP {{status}})", file=sys.stderr)
sys.exit(1)
'''


def install(folder: Path, routes: dict) -> Path:
    """An executable `gh` in `folder` answering `routes`; returns the folder (to put first on PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    gh = folder / "gh"
    gh.write_text(STUB.format(python=sys.executable))
    gh.chmod(gh.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    set_routes(folder, routes)
    return folder


def set_routes(folder: Path, routes: dict) -> None:
    (folder / "routes.json").write_text(json.dumps(routes))
    (folder / "used.json").unlink(missing_ok=True)


def calls(folder: Path) -> list[dict]:
    log = folder / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
