"""A GitHub cycle on this machine (`make ci-dry-run`): the workflows' own jobs and steps, played in order.

GitHub is played by a git repository (the project with two tiny experiments), a stand-in `gh` answering
the Pages, deployments and pull-request APIs, a "live site" folder served on 127.0.0.1 as Pages would
serve it, a bare repository for the store branch, and handlers for the actions (artifacts, deploy-pages).
Every job runs in a fresh clone, as on a fresh runner; every `run:` step is the workflow's own text.

    audit, Pages off -> publish (never deployed) -> outage -> audit with a failing run -> comment -> publish again
"""
from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from generators import history, site_budget
from tests import gh_stub
from tests.conftest import REPO
from tests.workflow_runner import Job, environment, run_workflow

REPOSITORY = "octo/trainbook"
WORKFLOWS = REPO / ".github" / "workflows"
TINY = {"train": {"steps": 200, "eval_interval": 100, "log_interval": 50}, "sample": {"count": 5}}


def tiny(source: str, name: str, **changes) -> str:
    """An experiment file of this repository, cut to seconds of training, under another name."""
    data = yaml.safe_load((REPO / "experiments" / source).read_text())
    data.pop("gates", None)
    data["name"] = name
    for section, values in {**TINY, **changes}.items():
        data.setdefault(section, {}).update(values)
    return yaml.safe_dump(data, sort_keys=False)


class GitHub:
    """The repository on GitHub, its Pages site, its API (through the stand-in gh), artifacts and the store branch."""

    def __init__(self, root: Path, port: int):
        self.root, self.runs = root, 0
        self.repo = root / "repository"
        self.live = root / "live" / "octo" / "trainbook"
        self.url = f"http://127.0.0.1:{port}/octo/trainbook/"
        self.store = root / "server" / "octo" / "trainbook.git"
        self.artifacts = root / "artifacts"
        self.deployments: list[dict] = []
        self.pages_enabled = False
        self.comments: list[dict] = []
        self.gh = gh_stub.install(root / "gh", {})
        self._create_repository()
        subprocess.run(["git", "init", "--quiet", "--bare", str(self.store)], check=True)

    # --- the repository ----------------------------------------------------------------------------
    def git(self, *args: str, cwd: Path | None = None) -> str:
        return subprocess.run(["git", "-C", str(cwd or self.repo), *args], check=True, capture_output=True, text=True).stdout.strip()

    def _create_repository(self) -> None:
        tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                                 capture_output=True, text=True, check=True).stdout.split()
        for name in tracked:
            if name.startswith("experiments/") or not (REPO / name).is_file():
                continue
            (self.repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, self.repo / name)
        self.write("experiments/names-mlp.yaml", tiny("names-mlp.yaml", "names-mlp"))
        self.write("experiments/names-mlp-wide.yaml", tiny("names-mlp.yaml", "names-mlp-wide", model={"n_hidden": 64}))
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("config", "user.email", "dev@example.org")
        self.git("config", "user.name", "A developer")
        self.commit("The project with two tiny experiments")

    def write(self, rel: str, text: str) -> None:
        (self.repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.repo / rel).write_text(text)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "--quiet", "-m", message)
        return self.git("rev-parse", "HEAD")

    def checkout(self, ref: str):
        """A fresh clone at `ref` for each job, with this machine's virtual environment and caches."""

        def clone(job: str) -> Path:
            self.runs += 1
            folder = self.root / "runners" / f"{self.runs}-{job}"
            subprocess.run(["git", "clone", "--quiet", str(self.repo), str(folder)], check=True)
            self.git("checkout", "--quiet", ref, cwd=folder)
            for shared in (".venv", ".cache"):
                (folder / shared).symlink_to(REPO / shared)
            with open(folder / ".git" / "info" / "exclude", "a") as exclude:
                exclude.write(".venv\n.cache\n")  # the symlinks are this machine's, not the checkout's: not dirty
            return folder

        return clone

    # --- the API, as the stand-in gh answers it ------------------------------------------------------
    def answer(self, pulls: dict[int, str] | None = None) -> None:
        pages = ({"status": 200, "body": {"html_url": self.url.rstrip("/"), "build_type": "workflow"}} if self.pages_enabled
                 else {"status": 404, "body": {"message": "Not Found"}})
        routes = {f"GET repos/{REPOSITORY}/pages": pages,
                  f"GET repos/{REPOSITORY}/deployments?environment=github-pages&per_page=1":
                      {"status": 200, "body": self.deployments[-1:]}}
        for number, sha in (pulls or {}).items():
            routes[f"GET repos/{REPOSITORY}/pulls/{number}"] = {"status": 200, "body": {"number": number, "head": {"sha": sha}}}
            routes[f"GET repos/{REPOSITORY}/issues/{number}/comments"] = {"status": 200, "body": self.comments}
            routes[f"POST repos/{REPOSITORY}/issues/{number}/comments"] = {"status": 201, "body": {"id": 1}}
        gh_stub.set_routes(self.gh, routes)

    # --- the actions ----------------------------------------------------------------------------------
    def actions(self, run_id: int) -> dict:
        here = self.artifacts / str(run_id)

        def upload(inputs, context, folder):
            shutil.copytree(folder / inputs["path"], here / inputs["name"])

        def download(inputs, context, folder):
            source = self.artifacts / str(inputs.get("run-id") or run_id) / inputs["name"]
            if not source.is_dir():
                raise FileNotFoundError(f"no artifact {inputs['name']}")
            shutil.copytree(source, Path(inputs["path"]), dirs_exist_ok=True)

        def upload_pages(inputs, context, folder):
            shutil.copytree(folder / inputs["path"], here / "github-pages")

        def deploy(inputs, context, folder):
            shutil.rmtree(self.live, ignore_errors=True)
            shutil.copytree(here / "github-pages", self.live)
            self.deployments.append({"id": run_id, "environment": "github-pages", "created_at": f"2026-12-01T0{run_id}:00:00Z"})
            self.answer()

        nothing = lambda inputs, context, folder: None  # noqa: E731 - the runner's checkout and Python are set up already
        return {"actions/checkout": nothing, "actions/setup-python": nothing, "actions/upload-artifact": upload,
                "actions/download-artifact": download, "actions/upload-pages-artifact": upload_pages,
                "actions/deploy-pages": deploy}

    def play(self, workflow: str, ref: str, github: dict, **context) -> dict[str, Job]:
        self.runs += 1
        run_id = self.last_run = self.runs
        full = {"github": {"token": "ghs_stand-in", "repository": REPOSITORY, "server_url": f"file://{self.root / 'server'}",
                           "run_id": run_id, "sha": self.git("rev-parse", ref), **github},
                "inputs": {}, "vars": {}, **context}
        base = environment(self.gh, MAKEFLAGS="READY=")  # READY= : use this machine's virtual environment as it is
        return run_workflow(WORKFLOWS / f"{workflow}.yml", full, self.checkout(ref), self.actions(run_id), base)

    def publish(self, **vars) -> dict[str, Job]:
        self.answer()
        return self.play("publish", "main", {"event_name": "push", "ref": "refs/heads/main"}, vars=vars)

    def audit(self, branch: str, number: int) -> tuple[dict[str, Job], int]:
        sha = self.git("rev-parse", branch)
        self.answer()
        event = {"number": number, "pull_request": {"number": number, "head": {"sha": sha}}}
        jobs = self.play("pr-audit", branch, {"event_name": "pull_request", "ref": f"refs/pull/{number}/merge", "event": event})
        return jobs, self.last_run

    def comment(self, audit_run: int, branch: str, number: int, conclusion: str) -> dict[str, Job]:
        sha = self.git("rev-parse", branch)
        self.answer({number: sha})
        run = {"id": audit_run, "event": "pull_request", "conclusion": conclusion, "head_sha": sha, "head_branch": branch,
               "head_repository": {"full_name": REPOSITORY, "owner": {"login": "octo"}}, "pull_requests": [{"number": number}],
               "html_url": f"https://github.com/{REPOSITORY}/actions/runs/{audit_run}"}
        return self.play("pr-comment", "main", {"event_name": "workflow_run", "ref": "refs/heads/main",
                                                "event": {"workflow_run": run, "repository": {"default_branch": "main"}}})


def live_ledger(github: GitHub) -> list[str]:
    return [json.loads(line)["run"] for line in (github.live / "history" / "ledger.jsonl").read_text().splitlines()]


@pytest.fixture
def github(tmp_path):
    live_root = tmp_path / "live"
    live_root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(live_root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield GitHub(tmp_path, server.server_address[1])
    server.shutdown()


@pytest.mark.slow
@pytest.mark.cycle  # minutes on 2 cores: `make ci-dry-run` and CI run it, `make test` does not
def test_a_github_cycle_from_the_first_push_keeps_the_history_and_compares_with_the_live_site(github):
    # 0. A pull request before Pages is switched on: the audit runs, against nothing.
    github.git("branch", "first")
    jobs, _ = github.audit("first", 1)
    audit = jobs["audit"]
    assert audit.result == "success", [(s.name, s.outcome, s.stdout[-2000:]) for s in audit.steps]
    assert audit.step("site").outputs == {"url": ""} and audit.step("Restore and verify the published history (the base)").outcome == "skipped"
    report = (github.artifacts / "1" / "pr-audit" / "report.md").read_text()
    assert "Base: none yet" in report and "**2 experiment(s):** 2 new" in report

    # 1. The first push to main once Pages is on (never deployed): a new history, trained, deployed.
    github.pages_enabled = True
    jobs = github.publish()
    build = jobs["build"]
    assert build.result == "success" and jobs["deploy"].result == "success", [(s.name, s.outcome, s.stdout[-2000:]) for s in build.steps]
    assert jobs["store"].result == "skipped"  # nothing over the budget yet
    assert "has never deployed Pages); starting a new history" in build.step("Restore and verify the published history").stdout
    first = (github.live / "history" / "ledger.jsonl").read_bytes()
    assert len(live_ledger(github)) == 2 and "This is the first publish" in (github.live / "index.html").read_text()

    # 1b. An outage: the site answers 404 everywhere although it was deployed. The publish stops before training.
    gone = github.live.with_name("trainbook-hidden")
    github.live.rename(gone)
    jobs = github.publish()
    restore = jobs["build"].step("Restore and verify the published history")
    assert restore.outcome == "failure" and "has deployed Pages before" in restore.stdout
    assert jobs["build"].step("train").outcome == "skipped" and jobs["deploy"].result == "skipped"
    assert not github.live.exists()  # nothing was deployed over it
    gone.rename(github.live)

    # 2. A pull request that changes one experiment and adds one that fails: every experiment still trains.
    github.git("checkout", "--quiet", "-b", "feature")
    github.write("experiments/names-mlp-wide.yaml", tiny("names-mlp.yaml", "names-mlp-wide", model={"n_hidden": 64}, optim={"lr": 0.2}))
    github.write("experiments/names-mlp-broken.yaml", tiny(  # first in the list; its gradient check cannot pass
        "names-mlp-manual.yaml", "names-mlp-broken", model={"grad_check_rtol": 0.0, "grad_check_atol": 0.0}))
    github.commit("Wider learning rate; a manual-backprop variant")
    github.git("checkout", "--quiet", "main")
    jobs, audit_run = github.audit("feature", 2)
    audit = jobs["audit"]
    assert audit.result == "failure" and audit.step("train").outcome == "failure"
    assert "make train: failed: experiments/names-mlp-broken.yaml (exit 1); every other experiment was trained" in audit.step("train").stdout
    report = (github.artifacts / str(audit_run) / "pr-audit" / "report.md").read_text()
    assert "Base: 2 runs of" in report and "names-mlp-broken: ❌ failed" in report
    assert "names-mlp-wide: " in report and "### names-mlp: " in report  # trained after the failure, and reported
    assert (github.artifacts / str(audit_run) / "site-preview" / "index.html").is_file()

    jobs = github.comment(audit_run, "feature", 2, "failure")
    assert jobs["comment"].result == "success"
    (posted,) = [c for c in gh_stub.calls(github.gh) if c["method"] == "POST"]
    assert posted["path"] == f"repos/{REPOSITORY}/issues/2/comments" and posted["input"]["body"] == report

    # 3. The change is merged (without the broken experiment) and published, the site now over its budget.
    github.git("checkout", "--quiet", "feature", "--", "experiments/names-mlp-wide.yaml")
    github.commit("Merge the wider learning rate")
    restored = github.root / "sizing"
    history.restore(github.url, restored)
    budget = sum(site_budget.footprint(history.load_views(restored)).values())  # 2 runs' worth: a third run must push some out
    jobs = github.publish(TRAINBOOK_SITE_BUDGET=str(budget))
    build = jobs["build"]
    assert build.result == "success" and jobs["store"].result == "success" and jobs["deploy"].result == "success", \
        [(s.name, s.outcome, s.stdout[-3000:]) for j in jobs.values() for s in j.steps]
    trained = build.step("train").stdout
    assert "reuse experiments/names-mlp.yaml: inputs unchanged since" in trained
    assert "train experiments/names-mlp-wide.yaml: changed since" in trained and "experiments/names-mlp-wide.yaml" in trained

    ledger = (github.live / "history" / "ledger.jsonl").read_bytes()
    assert ledger.startswith(first) and len(live_ledger(github)) == 3  # the first publish's history, restored and extended
    home = (github.live / "index.html").read_text()
    assert "Compared with the publish of" in home and "1 new run(s)" in home and "first publish" not in home
    assert "1 experiment(s) not trained again" in home and "inputs unchanged since" in home

    index = json.loads((github.live / "history" / "index.json").read_text())
    stored = sorted(f"{run}/{name}" for run, files in index["runs"].items() for name, where in files.items() if where == "store")
    assert stored and index["store"] == f"https://raw.githubusercontent.com/{REPOSITORY}/trainbook-store/"
    branch = subprocess.run(["git", "-C", str(github.store), "ls-tree", "-r", "--name-only", "trainbook-store"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert branch == stored and not any((github.live / "runs" / rel).exists() for rel in stored)
