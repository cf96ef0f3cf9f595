"""`python -m generators.retrain`: which experiments a publish trains again, and which published runs it reuses.

An experiment is trained again only when one of its inputs changed since its latest published run was
trained. Its inputs are
  - its experiment file, and any file of the repository the file names by path;
  - the code the training imports: the run command, the training session and the engine its `model.type`
    names, followed through their imports (`modulefinder`) to every module of this repository they reach;
  - the pinned packages and data packages (INPUT_FILES).
The latest published run (from a restored history) records the commit it was trained from, so `git diff`
between that commit and the working tree over those files answers the question. Anything that leaves it
open (no published run, a failed or unverified one, overrides, uncommitted changes, a commit this checkout
does not have) trains again. `--full` trains everything (CI: the weekly schedule, or asked for by hand).

The plan is written as JSON (`--out`): the generators read it to say on the home page which runs were
reused. The experiment files to train are printed on standard output, one a line, for `make train`.
Torch-free: loading an experiment file and reading records never imports the engines.
"""
from __future__ import annotations

import argparse
import json
import modulefinder
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from trainer import experiments
from trainer.config import read_yaml
from trainer.errors import UsageError
from trainer.tracking.files import dumps_json, write_text

from . import history, markup
from .runs import RunView

FORMAT = "trainbook-retrain-1"
REPO = Path(__file__).resolve().parents[1]
INPUT_FILES = ("requirements.txt", "requirements-data.txt")
"""inputs of every experiment besides its own file and code: the pinned packages, the data packages"""
ENTRY_MODULES = ("trainer.__main__", "trainer.commands.run", "trainer.commands.training")
"""where `trainer run` starts; the training session is imported by name (commands.session), so it is named here"""
SHOWN_FILES = 3
"""changed files named in a reason; more are counted"""


@dataclass(frozen=True)
class Decision:
    file: str
    """the experiment file, as given"""
    experiment: str | None
    train: bool
    reason: str
    run: str | None = None
    """the published run reused (or the latest one, when it is trained again)"""
    commit: str | None = None
    """the commit that run was trained from"""


class Repository:
    """The git checkout the experiments live in: what changed between a commit and the working tree."""

    def __init__(self, root: Path):
        self.root = root

    def _git(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(self.root), *args], capture_output=True, text=True)

    def has_commit(self, commit: str) -> bool:
        return self._git("cat-file", "-e", f"{commit}^{{commit}}").returncode == 0

    def changed(self, commit: str, files: list[str]) -> list[str]:
        """Files among `files` (repository-relative) that differ between `commit` and the working tree, new ones included."""
        result = self._git("diff", "--name-only", "--no-renames", commit, "--", *files)
        if result.returncode != 0:
            raise UsageError(f"git diff {commit[:7]} in {self.root}: {result.stderr.strip()}")
        untracked = self._git("ls-files", "--others", "--exclude-standard", "--", *files).stdout.split()
        return sorted(set(result.stdout.split()) | set(untracked))


def imported_files(root: Path, modules: list[str]) -> list[str]:
    """Repository files reached from `modules` through their imports (only this repository's modules are followed)."""
    finder = modulefinder.ModuleFinder(path=[str(root)])
    for name in modules:
        try:
            finder.import_hook(name)
        except ImportError:
            pass  # not a module of this repository (an engine from another package): its version is a pinned input
    found = {Path(m.__file__).resolve() for m in finder.modules.values() if m.__file__}
    return sorted(str(p.relative_to(root.resolve())) for p in found if p.is_relative_to(root.resolve()))


def _named_files(value, root: Path) -> set[str]:
    """Strings of a parsed experiment file that name a file of the repository (a data file, a vocabulary)."""
    if isinstance(value, dict):
        return set().union(*(_named_files(v, root) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_named_files(v, root) for v in value)) if value else set()
    if isinstance(value, str) and 0 < len(value) < 256 and "\n" not in value:
        path = (root / value).resolve()
        if path.is_relative_to(root.resolve()) and path.is_file():
            return {str(path.relative_to(root.resolve()))}
    return set()


def inputs(file: Path, root: Path) -> tuple[str, list[str]]:
    """(experiment name, every repository file its training depends on); UsageError when the file does not load."""
    cfg = experiments.load(file)
    spec = experiments.spec(cfg)
    modules = [*ENTRY_MODULES, spec.module]
    if isinstance(spec.schema, str):
        modules.append(spec.schema.partition(":")[0])
    own = str(file.resolve().relative_to(root.resolve()))
    raw = read_yaml(file)
    files = {own, *INPUT_FILES, *imported_files(root, modules), *_named_files(raw, root)}
    return cfg.name, sorted(f for f in files if (root / f).exists() or f == own)


def latest_published(runs: list[RunView]) -> dict[str, RunView]:
    """The newest run of each experiment in the history (runs come newest first)."""
    latest: dict[str, RunView] = {}
    for run in runs:
        latest.setdefault(run.experiment, run)
    return latest


def _listed(files: list[str]) -> str:
    shown = ", ".join(files[:SHOWN_FILES])
    return shown + (f" and {len(files) - SHOWN_FILES} more" if len(files) > SHOWN_FILES else "")


def _stale_reason(run: RunView, given: str, repo: Repository) -> str | None:
    """Why the record of `run` cannot vouch for today's inputs, or None when only a diff can tell."""
    source = run.record.get("source") or {}
    code = run.record.get("code") or {}
    if run.status != "ok" or run.verification:
        return f"its latest published run {run.id} {'ended ' + run.status if run.status != 'ok' else 'does not verify'}"
    if source.get("overrides"):
        return f"its latest published run {run.id} was trained with overrides ({' '.join(map(str, source['overrides']))})"
    if Path(str(source.get("file") or "")).as_posix() != Path(given).as_posix():
        return f"its latest published run {run.id} was trained from {source.get('file')!r}, not this file"
    if code.get("dirty") or not code.get("commit"):
        return f"its latest published run {run.id} was trained from uncommitted changes"
    if not repo.has_commit(str(code["commit"])):
        return (f"commit {markup.short(code['commit'])} of its latest published run is not in this checkout's history "
                f"(a shallow clone? CI checks out with fetch-depth: 0)")
    return None


def decide(file: str, root: Path, published: dict[str, RunView], repo: Repository, full: str | None) -> Decision:
    path = root / file if not Path(file).is_absolute() else Path(file)
    given = str(path.resolve().relative_to(root.resolve())) if path.resolve().is_relative_to(root.resolve()) else file
    try:
        name, files = inputs(path, root)
    except (UsageError, OSError, ValueError) as e:
        return Decision(file, None, True, f"the experiment file does not load ({e}): training shows the error")
    run = published.get(name)
    if full:
        return Decision(file, name, True, full, run and run.id)
    if run is None:
        return Decision(file, name, True, "no published run yet")
    commit = (run.record.get("code") or {}).get("commit")
    stale = _stale_reason(run, given, repo)
    if stale:
        return Decision(file, name, True, stale, run.id, commit)
    changed = repo.changed(str(commit), files)
    if changed:
        return Decision(file, name, True, f"changed since {markup.short(commit)}: {_listed(changed)}", run.id, commit)
    return Decision(file, name, False, f"inputs unchanged since {markup.short(commit)} ({len(files)} files)", run.id, commit)


def plan(files: list[str], root: Path, history_dir: Path | None, full: str | None = None) -> list[Decision]:
    runs = history.load_views(history_dir) if history_dir and history_dir.exists() else []
    published = latest_published(runs)
    repo = Repository(root)
    return [decide(f, root, published, repo, full) for f in files]


def write_plan(path: Path, decisions: list[Decision]) -> None:
    write_text(path, dumps_json({"format": FORMAT, "experiments": [asdict(d) for d in decisions]}))


def read_reused(path: Path) -> list[Decision]:
    """The reused runs of a plan file; [] for a plan that reuses nothing. ValueError when it is not a plan."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("experiments"), list):
        raise ValueError(f"{path}: not a {FORMAT} plan (written by python -m generators.retrain)")
    fields = set(Decision.__dataclass_fields__)
    decisions = [Decision(**{k: v for k, v in d.items() if k in fields}) for d in data["experiments"] if isinstance(d, dict)]
    return [d for d in decisions if not d.train and d.run]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generators.retrain", description=__doc__.split("\n")[0].split(": ", 1)[1])
    p.add_argument("experiments", nargs="+", help="experiment files")
    p.add_argument("--history", type=Path, help="a restored history folder (make history): the published runs")
    p.add_argument("--full", metavar="REASON", help="train every experiment, for this reason (e.g. 'weekly full retrain')")
    p.add_argument("--out", type=Path, help="write the plan here as JSON")
    p.add_argument("--repo", type=Path, default=Path.cwd(), help="the git checkout (default: the current folder)")
    args = p.parse_args(argv)
    try:
        decisions = plan(args.experiments, args.repo, args.history, args.full)
    except (history.HistoryError, UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for d in decisions:
        print(f"{'train' if d.train else 'reuse'} {d.file}: {d.reason}", file=sys.stderr)
    if args.out:
        write_plan(args.out, decisions)
    sys.stdout.write("".join(f"{d.file}\n" for d in decisions if d.train))
    return 0


if __name__ == "__main__":
    sys.exit(main())
