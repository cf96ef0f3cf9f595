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
from tests import gh_stub
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
    assert writes == {"publish.deploy.pages": "write", "publish.deploy.id-token": "write", "publish.store.contents": "write",
                      "pr-comment.comment.pull-requests": "write"}


def test_the_privileged_comment_job_never_checks_out_or_runs_pull_request_code():
    flow = load("pr-comment")
    assert list(flow[True]) == ["workflow_run"]  # YAML reads the key `on` as True
    steps = flow["jobs"]["comment"]["steps"]
    checkouts = [step for step in steps if "checkout" in step.get("uses", "")]
    # Only this repository's own scripts, from its default branch: never the pull request's head or repository.
    assert [c["with"] for c in checkouts] == [{"ref": "${{ github.event.repository.default_branch }}",
                                              "persist-credentials": False, "sparse-checkout": ".github/scripts"}]
    scripts = " ".join(step.get("run", "") for step in steps)
    assert scripts.strip() == ".github/scripts/pr-comment.sh"
    assert not re.search(r"\b(make|python3?|pip|source)\b", scripts + (REPO / ".github/scripts/pr-comment.sh").read_text())
    assert steps[-1]["env"]["MARKER"] == report.MARKER  # finds the comment the report marks


def test_ci_runs_the_same_make_targets_a_person_runs_locally():
    def commands(name: str) -> str:
        return "\n".join(step.get("run", "") for job in load(name)["jobs"].values() for step in job["steps"])

    assert "make test" in commands("test") and "make ci-dry-run" in commands("test")
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


# --- the steps' scripts (.github/scripts/), driven through a stand-in `gh` that answers as GitHub does --------

SCRIPTS = REPO / ".github" / "scripts"
REPOSITORY = "octo/trainbook"
NOT_FOUND = {"status": 404, "body": {"message": "Not Found", "documentation_url": "https://docs.github.com/rest/pages/pages"}}


def script(name: str, stub: Path, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run one step's script as its workflow does (bash, the step's env), with `gh` answered by the stub."""
    output = tmp_path / "github-output"
    full = {**os.environ, "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output),
            "GITHUB_REPOSITORY": REPOSITORY, **env}
    return subprocess.run(["bash", str(SCRIPTS / name), *args], env=full, capture_output=True, text=True, timeout=120)


def outputs(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "github-output").read_text().splitlines() if (tmp_path / "github-output").exists() else []
    return dict(line.split("=", 1) for line in lines)


def test_shellcheck_passes_on_every_step_script_and_catches_a_broken_one(tmp_path):
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert {s.name for s in scripts} >= {"find-site.sh", "pr-comment.sh", "push-store.sh"}
    clean = subprocess.run([str(BIN / "shellcheck"), *map(str, scripts)], capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nurl=$(gh api x)\nmake history HISTORY=$url\n")
    assert subprocess.run([str(BIN / "shellcheck"), str(bad)], capture_output=True, text=True).returncode == 1


def test_a_repository_without_pages_gets_an_audit_against_nothing_not_an_error_page_as_its_url(tmp_path):
    stub = gh_stub.install(tmp_path / "bin", {f"GET repos/{REPOSITORY}/pages": NOT_FOUND})
    audit = script("find-site.sh", stub, tmp_path)
    assert audit.returncode == 0, audit.stderr
    assert outputs(tmp_path) == {"url": ""} and "none yet" in audit.stdout
    publish = script("find-site.sh", stub, tmp_path, "--require")
    assert publish.returncode == 1 and "Pages is not switched on" in publish.stdout and "Source: GitHub Actions" in publish.stdout


def test_the_site_address_comes_from_the_pages_api_after_a_server_error_or_from_the_variable(tmp_path):
    pages = {"status": 200, "body": {"html_url": "https://octo.github.io/trainbook", "build_type": "workflow", "status": "built"}}
    stub = gh_stub.install(tmp_path / "bin", {f"GET repos/{REPOSITORY}/pages": [{"status": 502, "body": {"message": "Bad Gateway"}}, pages]})
    found = script("find-site.sh", stub, tmp_path, FIND_SITE_WAIT_S="0")
    assert found.returncode == 0, found.stdout + found.stderr
    assert outputs(tmp_path) == {"url": "https://octo.github.io/trainbook/"}  # with the slash a base URL needs
    assert [c["path"] for c in gh_stub.calls(stub)] == [f"repos/{REPOSITORY}/pages"] * 2
    (tmp_path / "github-output").unlink()
    configured = script("find-site.sh", stub, tmp_path, CONFIGURED_URL="https://example.org/site/")
    assert outputs(tmp_path) == {"url": "https://example.org/site/"} and len(gh_stub.calls(stub)) == 2


def test_a_token_that_may_not_read_pages_warns_and_compares_with_nothing(tmp_path):
    forbidden = {"status": 403, "body": {"message": "Resource not accessible by integration"}}
    stub = gh_stub.install(tmp_path / "bin", {f"GET repos/{REPOSITORY}/pages": forbidden})
    audit = script("find-site.sh", stub, tmp_path)
    assert audit.returncode == 0 and "::warning::" in audit.stdout and outputs(tmp_path) == {"url": ""}


MARKER = report.MARKER
SHA, OLD_SHA = "a" * 40, "b" * 40


def comment_routes(pr: int = 7, head: str = SHA, comments: list | None = None) -> dict:
    return {
        f"GET repos/{REPOSITORY}/pulls/{pr}": {"status": 200, "body": {"number": pr, "head": {"sha": head}}},
        f"GET repos/{REPOSITORY}/pulls?head=fork-owner%3Afeature&per_page=100&state=open":
            {"status": 200, "body": [{"number": pr, "head": {"sha": head}}]},
        f"GET repos/{REPOSITORY}/issues/{pr}/comments": {"status": 200, "body": comments or []},
        f"POST repos/{REPOSITORY}/issues/{pr}/comments": {"status": 201, "body": {"id": 99}},
        f"PATCH repos/{REPOSITORY}/issues/comments/11": {"status": 200, "body": {"id": 11}},
    }


def comment(stub: Path, tmp_path: Path, conclusion: str, report_dir: Path | None, **env) -> subprocess.CompletedProcess:
    return script("pr-comment.sh", stub, tmp_path, REPO=REPOSITORY, HEAD_SHA=SHA, HEAD_OWNER="fork-owner", HEAD_BRANCH="feature",
                  CONCLUSION=conclusion, RUN_URL="https://github.com/octo/trainbook/actions/runs/5", MARKER=MARKER,
                  REPORT_DIR=str(report_dir or tmp_path / "no-artifact"), **env)


def posted(stub: Path) -> list[tuple[str, str, str]]:
    return [(c["method"], c["path"], c["input"]["body"]) for c in gh_stub.calls(stub) if c["method"] in ("POST", "PATCH")]


def test_an_audit_waiting_for_approval_gets_a_comment_saying_there_is_no_report_yet(tmp_path):
    old = {"id": 11, "user": {"login": "github-actions[bot]"}, "body": f"{MARKER}\nthe report of an older commit"}
    stub = gh_stub.install(tmp_path / "bin", comment_routes(comments=[old]))
    result = comment(stub, tmp_path, "action_required", None)
    assert result.returncode == 0, result.stdout + result.stderr
    ((method, path, body),) = posted(stub)
    assert (method, path) == ("PATCH", f"repos/{REPOSITORY}/issues/comments/11")  # the stale report is replaced
    assert body.startswith(MARKER) and f"No report for commit {SHA}" in body and "approve" in body


def test_an_audit_that_failed_before_its_artifact_gets_a_comment_not_a_red_run(tmp_path):
    stub = gh_stub.install(tmp_path / "bin", comment_routes())
    result = comment(stub, tmp_path, "failure", tmp_path / "download-failed")
    assert result.returncode == 0, result.stdout + result.stderr
    ((method, path, body),) = posted(stub)
    assert method == "POST" and f"No report for commit {SHA}" in body and "`failure`" in body and "actions/runs/5" in body


def test_the_report_updates_the_first_of_several_marker_comments_and_skips_a_superseded_commit(tmp_path):
    ours = [{"id": i, "user": {"login": "github-actions[bot]"}, "body": f"{MARKER}\nold {i}"} for i in (11, 12, 13)]
    theirs = {"id": 10, "user": {"login": "someone"}, "body": f"{MARKER} quoted by a person"}
    stub = gh_stub.install(tmp_path / "bin", comment_routes(comments=[theirs, *ours]))
    artifact = tmp_path / "pr-audit"
    artifact.mkdir()
    (artifact / "report.md").write_text(f"{MARKER}\n## Trainbook audit report\n\nall good\n")
    (artifact / "pr-number").write_text("123\n")  # written by the pull request's code: the event's answer wins
    result = comment(stub, tmp_path, "success", artifact)
    assert result.returncode == 0, result.stdout + result.stderr
    assert posted(stub) == [("PATCH", f"repos/{REPOSITORY}/issues/comments/11", (artifact / "report.md").read_text())]

    moved_on = gh_stub.install(tmp_path / "bin2", comment_routes(head=OLD_SHA))
    result = comment(moved_on, tmp_path, "success", artifact)
    assert result.returncode == 0 and "a newer audit will comment" in result.stdout and posted(moved_on) == []


def test_the_store_only_grows_on_its_own_orphan_branch(tmp_path):
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    store = tmp_path / "store"
    (store / "names-mlp-20200101T000000Z-aaaaaaa").mkdir(parents=True)
    (store / "names-mlp-20200101T000000Z-aaaaaaa" / "loss.png").write_bytes(b"png one")
    env = {"STORE_DIR": str(store), "REMOTE": str(remote), "STORE_BRANCH": "trainbook-store"}

    first = script("push-store.sh", tmp_path, tmp_path, **env)
    again = script("push-store.sh", tmp_path, tmp_path, **env)
    (store / "names-mlp-20200101T000000Z-aaaaaaa" / "loss.png").write_bytes(b"png edited")
    rewrite = script("push-store.sh", tmp_path, tmp_path, **env)

    assert first.returncode == 0 and "pushed 1 files of 1 runs" in first.stdout, first.stderr
    assert again.returncode == 0 and "already in the store" in again.stdout
    assert rewrite.returncode == 1 and "never rewritten" in rewrite.stdout
    tree = subprocess.run(["git", "-C", str(remote), "ls-tree", "-r", "--name-only", "trainbook-store"], capture_output=True, text=True)
    assert tree.stdout.split() == ["names-mlp-20200101T000000Z-aaaaaaa/loss.png"]
    parents = subprocess.run(["git", "-C", str(remote), "rev-list", "--parents", "trainbook-store"], capture_output=True, text=True)
    assert [len(line.split()) for line in parents.stdout.splitlines()] == [1]  # an orphan: one commit, no parent


def test_publish_deploys_only_from_main_after_the_store_and_outlasts_deploy_pages():
    flow = load("publish")
    deploy, store, build = flow["jobs"]["deploy"], flow["jobs"]["store"], flow["jobs"]["build"]
    assert "github.ref == 'refs/heads/main'" in deploy["if"] and "github.ref == 'refs/heads/main'" in store["if"]
    assert deploy["needs"] == ["build", "store"] and "needs.store.result == 'skipped'" in deploy["if"]
    assert deploy["timeout-minutes"] > 10  # deploy-pages' own timeout is 10 minutes
    assert any(s.get("cron") for s in flow[True]["schedule"])  # the weekly full retrain
    assert {"full_retrain", "new_history"} <= set(flow[True]["workflow_dispatch"]["inputs"])
    checkout = build["steps"][0]
    assert "checkout" in checkout["uses"] and checkout["with"]["fetch-depth"] == 0  # the published runs' commits
    text = "\n".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    assert "configure-pages" not in text  # a node20 action; the site's address comes from find-site.sh
    assert "PIP_EXTRA_INDEX_URL" not in text and "TORCH_INDEX: https://download.pytorch.org/whl/cpu" in text
