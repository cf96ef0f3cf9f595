"""What GitHub says about a repository's Pages site, asked through the `gh` command line (`gh api`).

Only one question is asked today: has this repository ever deployed Pages? A restore asks it before it
starts a new, empty history for a site that answers nothing, because an empty history published over a
site that is only unreachable (unpublished, a Pages incident) would replace it and drop every run.

`gh api` exits 1 on an HTTP error, with GitHub's JSON error on standard output and `gh: <message>
(HTTP <status>)` on standard error; both are read here, so the message names what GitHub said.
GH_TOKEN (or `gh auth login`) gives the credentials; in Actions the job needs `deployments: read`.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass

PAGES_ENVIRONMENT = "github-pages"
"""the environment every Pages deployment is recorded in (actions/deploy-pages and branch builds alike)"""
REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
TIMEOUT_S = 60


class GitHubError(Exception):
    """GitHub could not answer the question; the message says what it said."""


@dataclass(frozen=True)
class Deployments:
    count: int
    """0 when the repository never deployed Pages; else at least 1 (only the newest is listed)"""
    latest: str | None = None
    """when the newest deployment was created (ISO time), if any"""


def _api(path: str) -> object:
    if shutil.which("gh") is None:
        raise GitHubError("the GitHub CLI `gh` is not installed (https://cli.github.com), so GitHub cannot be asked")
    try:
        result = subprocess.run(["gh", "api", "-H", "Accept: application/vnd.github+json", path],
                                capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise GitHubError(f"gh api {path}: no answer in {TIMEOUT_S} s") from None
    if result.returncode != 0:
        said = result.stderr.strip().splitlines()[-1:] or [result.stdout.strip()[:200]]
        raise GitHubError(f"gh api {path}: {said[0]}")
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise GitHubError(f"gh api {path}: the answer is not JSON") from None


def pages_deployments(repository: str) -> Deployments:
    """Whether `repository` (owner/name) has ever deployed Pages, from its deployments in PAGES_ENVIRONMENT."""
    if not REPOSITORY.fullmatch(repository):
        raise GitHubError(f"{repository!r} is not a repository name (expected owner/name)")
    found = _api(f"repos/{repository}/deployments?environment={PAGES_ENVIRONMENT}&per_page=1")
    if not isinstance(found, list):
        raise GitHubError(f"repos/{repository}/deployments: expected a list of deployments")
    if not found:
        return Deployments(0)
    newest = found[0] if isinstance(found[0], dict) else {}
    return Deployments(len(found), str(newest.get("created_at") or "") or None)
