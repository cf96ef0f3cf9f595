"""The GitHub Actions workflows: lint clean, pinned, least privilege, and calling the same make targets as a person."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generators import report
from tests.conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent  # actionlint and shellcheck come from requirements.txt


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / f"{name}.yml").read_text())


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # so it finds shellcheck
    return subprocess.run([str(BIN / "actionlint"), "-no-color", *map(str, paths)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_every_workflow_passes_actionlint_with_shellcheck():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.stem for f in files} >= {"test", "publish", "pr-audit", "pr-comment"}
    result = actionlint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_catch_a_broken_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n"
                   "      - uses: actions/checkout@v9\n        with: {unknown-input: 1}\n")
    result = actionlint(bad)
    assert result.returncode == 1 and "potentially untrusted" in result.stdout


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version_in_a_comment():
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert re.search(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), f"{path.name}: {line.strip()}"


def test_workflows_default_to_read_only_and_grant_writes_only_to_the_jobs_that_need_them():
    writes = {}
    for path in WORKFLOWS.glob("*.yml"):
        flow = yaml.safe_load(path.read_text())
        top = flow["permissions"]
        assert top == {} or set(top.values()) <= {"read"}, path.name
        assert "concurrency" in flow, path.name
        for name, job in flow["jobs"].items():
            granted = job.get("permissions", {})
            writes.update({f"{path.stem}.{name}.{scope}": level for scope, level in granted.items() if level == "write"})
    assert writes == {"publish.deploy.pages": "write", "publish.deploy.id-token": "write", "pr-comment.comment.pull-requests": "write"}


def test_the_privileged_comment_job_never_checks_out_or_runs_pull_request_code():
    flow = load("pr-comment")
    assert list(flow[True]) == ["workflow_run"]  # YAML reads the key `on` as True
    steps = flow["jobs"]["comment"]["steps"]
    assert not any("checkout" in step.get("uses", "") for step in steps)
    scripts = " ".join(step.get("run", "") for step in steps)
    assert not re.search(r"\b(make|python3?|pip|bash \S+\.sh|source)\b", scripts)
    assert flow["jobs"]["comment"]["steps"][1]["env"]["MARKER"] == report.MARKER  # finds the comment the report marks


def test_ci_runs_the_same_make_targets_a_person_runs_locally():
    def commands(name: str) -> str:
        return "\n".join(step.get("run", "") for job in load(name)["jobs"].values() for step in job["steps"])

    assert "make test" in commands("test")
    publish = commands("publish")
    assert re.search(r"make history HISTORY=.*\n.*make train.*\n.*make publish HISTORY=history", publish, re.S)
    audit = commands("pr-audit")
    for target in ("make history", "make train", "make report", "make publish", "make gate"):
        assert target in audit, target
    assert audit.index("make report") < audit.index("make gate")  # the report is out before a failed gate stops the job


@pytest.mark.parametrize("name", ["test", "publish", "pr-audit"])
def test_pip_downloads_are_cached_by_the_requirement_files(name):
    for job in load(name)["jobs"].values():
        setup = [s for s in job["steps"] if "setup-python" in s.get("uses", "")]
        for step in setup:
            assert step["with"]["cache"] == "pip"
            assert set(step["with"]["cache-dependency-path"].split()) == {"requirements.txt", "requirements-data.txt"}
