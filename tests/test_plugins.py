"""Engines from other packages, through the real CLI and the real sites.

The example plugin (examples/plugin, its own pyproject.toml) is pip-installed into a temporary venv, never the
shared one; through its entry point it trains, seals, verifies, passes its gate, reproduces identical, resumes
after a SIGTERM on the same trajectory, and gets its figures and its own page section on Hugo and MkDocs. A
broken plugin is one line naming the package, exit 2, and nothing written, whichever way it is broken; an
engine found by its import path is a plugin too.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.sitebuild import author_pages, build_hugo, build_mkdocs
from tests.venvs import venv_with

PLUGIN = REPO / "examples" / "plugin"
EXPERIMENT = str(PLUGIN / "experiment.yaml")
TINY = ["train.steps=300", "train.eval_interval=100", "train.checkpoint_interval=100"]
"""the example's experiment in well under a second of training (long enough for a signal to land mid-run)"""


def cli(python: Path, *args: str, runs: Path | None = None, env: dict | None = None, module: str = "trainer"):
    full = {**os.environ, **(env or {}), **({"TRAINBOOK_RUNS_DIR": str(runs)} if runs else {})}
    return subprocess.run([str(python), "-m", module, *args], cwd=REPO, env=full, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def python(tmp_path_factory) -> Path:
    """An interpreter with the example plugin installed (pip install -e examples/plugin), in a venv of its own."""
    return venv_with(tmp_path_factory.mktemp("plugin-venv") / "venv", PLUGIN)


@pytest.fixture(scope="module")
def trained(python, tmp_path_factory) -> Path:
    """One run of the plugin's experiment, sealed in a runs folder of its own. Copy it before changing anything."""
    runs = tmp_path_factory.mktemp("plugin-runs")
    result = cli(python, "run", EXPERIMENT, *TINY, runs=runs)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def record_of(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def test_a_plugin_run_is_sealed_naming_its_package_verifies_passes_its_gate_and_is_in_the_report(python, trained):
    record = record_of(trained)
    assert record["status"] == "ok" and record["kind"] == "classifier" and record["key_metric"]["goal"] == "max"
    engine = record["engine"]
    assert (engine["package"], engine["version"], engine["found_by"]) == ("trainbook-toy-classifier", "0.1.0", "entry point")
    assert re.fullmatch(r"[0-9a-f]{64}", engine["source_sha256"])
    assert {f["file"] for f in record["figures"]} == {"boundary.png", "loss.png"}
    assert {"confusion.json", "checkpoint.pt", "metrics.jsonl"} <= set(record["artifacts"])
    verified = cli(python, "verify", runs=trained.parent)
    assert verified.returncode == 0 and f"ok      {trained.name}" in verified.stdout
    gated = cli(python, "gate", EXPERIMENT, runs=trained.parent)
    assert gated.returncode == 0 and "pass  toy-moons  val_accuracy >= 0.9" in gated.stdout
    report = cli(python, "--head", str(trained.parent), module="generators.report")
    assert report.returncode == 0 and "| toy-moons | 🆕 new | val accuracy: – → " in report.stdout
    assert "**Gates:** <code>val&#95;accuracy &#62;= 0.9</code> got" in report.stdout


def test_a_mistake_in_a_plugin_experiment_is_refused_by_its_schema_with_a_did_you_mean(python, tmp_path):
    result = cli(python, "run", EXPERIMENT, "model.hiden=8", runs=tmp_path / "runs")
    assert result.returncode == 2 and not (tmp_path / "runs").exists()
    assert result.stderr.strip() == (f"error: {EXPERIMENT}: model.hiden: unknown key (did you mean 'hidden'?); "
                                     "known keys here: type, hidden")


@pytest.mark.slow
def test_a_plugin_run_reproduces_identical(python, trained, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(trained.parent, runs)
    result = cli(python, "reproduce", str(runs / trained.name))
    assert result.returncode == 0, result.stderr
    assert f"reproduction of {trained.name}: identical" in result.stdout
    copy = Path(result.stdout.strip().splitlines()[-1])
    assert record_of(copy)["reproduction"]["verdict"] == "identical"


@pytest.mark.slow
def test_a_plugin_run_stopped_by_sigterm_resumes_on_the_same_trajectory(python, trained, tmp_path):
    runs = tmp_path / "runs"
    args = [str(python), "-m", "trainer", "run", EXPERIMENT, *TINY, "train.log_interval=1"]
    proc = subprocess.Popen(args, cwd=REPO, env={**os.environ, "TRAINBOOK_RUNS_DIR": str(runs)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # the first progress line: training has begun, a signal now stops it at a step
            if " step " in line and "/300" in line:
                proc.send_signal(signal.SIGTERM)
                break
        proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130
    (stopped,) = [p for p in runs.iterdir() if p.is_dir()]
    assert record_of(stopped)["status"] == "interrupted"

    resumed = cli(python, "resume", str(stopped))

    assert resumed.returncode == 0, resumed.stderr
    assert record_of(stopped)["metrics"] == record_of(trained)["metrics"]
    assert (stopped / "metrics.jsonl").read_bytes() == (trained / "metrics.jsonl").read_bytes()


@pytest.mark.parametrize("engine", ["hugo", "mkdocs"])
def test_a_plugin_run_page_shows_its_figures_and_its_own_section_and_the_reference_its_fields(python, trained, tmp_path, engine):
    pages = author_pages(tmp_path)
    extra = ["--engine", "mkdocs", "--out", str(tmp_path / "mkdocs"), "--site-dir", str(tmp_path / "public-mkdocs")] \
        if engine == "mkdocs" else []
    generated = cli(python, "--runs-dir", str(trained.parent), "--content", str(pages), *extra, module="generators")
    assert generated.returncode == 0, generated.stderr
    public = build_hugo(tmp_path) if engine == "hugo" else build_mkdocs(tmp_path)

    page = (public / "runs" / trained.name / "index.html").read_text()
    assert re.search(r'<img(?=[^>]*src="boundary.png")(?=[^>]*alt="Decision boundary: )', page)  # either engine's order
    assert '<h2 id="confusion-matrix">Confusion matrix' in page and re.search(r"<td>moon 1</td>\s*<td>\d+</td>", page)
    assert (public / "runs" / trained.name / "boundary.png").is_file()
    reference = (public / "guide" / "reference" / "index.html").read_text()
    assert "toy-classifier" in reference and "share of the points held out for validation" in reference


# --- broken plugins ---------------------------------------------------------------------------

def package(root: Path, name: str, entry: str, files: dict[str, str]) -> Path:
    """A one-module-package project named `name`, declaring the engine entry point `entry` (name = module:object)."""
    project = root / name
    module = name.replace("-", "_")
    (project / module).mkdir(parents=True)
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "0.1.0"
        [project.entry-points."trainbook.engines"]
        {entry}
        [tool.setuptools]
        packages = ["{module}"]
        """))
    for file, text in {"__init__.py": "", **files}.items():
        (project / module / file).write_text(textwrap.dedent(text))
    return project


SPEC = """\
    from dataclasses import dataclass, field
    from typing import Literal
    from trainer.plugin import EngineSpec, ExperimentHeader, KeyMetric, LoopConfig

    @dataclass
    class Model:
        type: Literal["{type}"] = "{type}"
        \"\"\"the engine\"\"\"

    @dataclass(kw_only=True)
    class Experiment(ExperimentHeader):
        model: Model
        \"\"\"the model\"\"\"
        train: LoopConfig = field(default_factory=LoopConfig)
        \"\"\"the loop\"\"\"

    SPEC = EngineSpec("{type}", {schema}, "toy", KeyMetric("loss", "min", "loss", "nats"), "{module}.engine")
    """
BROKEN = {
    "import error": ("broken-import", "breaks-on-import", {"spec.py": "import numpyy\n"}),
    "missing schema": ("broken-schema", "lacks-schema", {"spec.py": SPEC.format(type="lacks-schema", schema='"broken_schema.spec:Nope"',
                                                                                    module="broken_schema")}),
    "wrong signature": ("broken-signature", "bad-signature", {
        "spec.py": SPEC.format(type="bad-signature", schema="Experiment", module="broken_signature"),
        "engine.py": "def prepare(cfg, source):\n    return None\n\ndef train(prepared, run):\n    return {}\n"}),
}
"""case -> (package, model type, files): each is refused naming the package"""
EXPECTED = {
    "import error": "error: plugin broken-import 0.1.0: entry point 'breaks-on-import': broken_import.spec:SPEC cannot be loaded "
                    "(ModuleNotFoundError: No module named 'numpyy')",
    "missing schema": "error: plugin broken-schema 0.1.0: entry point 'lacks-schema': schema: 'broken_schema.spec:Nope' cannot be "
                      "loaded (AttributeError: module 'broken_schema.spec' has no attribute 'Nope')",
    "wrong signature": "error: plugin broken-signature 0.1.0: module 'broken_signature.engine': cannot train (TypeError: "
                       "broken_signature.engine.train takes (prepared, run); an engine's train is called as train(prepared, run, resume))",
    "name clash": "error: plugin broken-clash 0.1.0: entry point 'mlp': clashes with the built-in engine 'mlp'; a plugin's "
                  "model type must be a name of its own (group trainbook.engines)",
}


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> dict[str, Path]:
    """Interpreters with broken plugins installed: the three lazily found ones together, the clash alone (it breaks all)."""
    root = tmp_path_factory.mktemp("broken")
    projects = [package(root, name, f'{kind} = "{name.replace("-", "_")}.spec:SPEC"', files) for name, kind, files in BROKEN.values()]
    clash = package(root, "broken-clash", 'mlp = "broken_clash.spec:SPEC"',
                    {"spec.py": SPEC.format(type="mlp", schema="Experiment", module="broken_clash")})
    return {"lazy": venv_with(root / "venv", *projects), "clash": venv_with(root / "clash-venv", clash)}


def experiment_for(tmp_path: Path, model_type: str) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(f"name: broken\nmodel:\n  type: {model_type}\n")
    return path


@pytest.mark.parametrize("case", [*BROKEN, "name clash"])
def test_a_broken_plugin_is_one_error_naming_the_package_exit_2_and_nothing_written(broken, case, tmp_path):
    python = broken["clash" if case == "name clash" else "lazy"]
    experiment = str(REPO / "experiments" / "names-mlp.yaml") if case == "name clash" else str(experiment_for(tmp_path, BROKEN[case][1]))
    runs = tmp_path / "runs"

    result = cli(python, "run", experiment, runs=runs)

    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [EXPECTED[case]]
    assert not runs.exists()


QUICK = """\
    import dataclasses
    from typing import Literal

    from toy_classifier import engine
    from toy_classifier.spec import SPEC as TOY, ClassifierModel, ToyExperiment

    @dataclasses.dataclass
    class QuickModel(ClassifierModel):
        type: Literal["quick_engine"] = "quick_engine"
        \"\"\"the engine, found by its import path\"\"\"

    @dataclasses.dataclass(kw_only=True)
    class QuickExperiment(ToyExperiment):
        model: QuickModel
        \"\"\"the classifier\"\"\"

    prepare, train = engine.prepare, engine.train
    SPEC = dataclasses.replace(TOY, model_type="quick_engine", schema=QuickExperiment, module="quick_engine")
    """


def test_an_engine_found_by_its_import_path_trains_and_the_record_says_where_it_came_from(tmp_path):
    """`model.type: quick_engine` finds the module quick_engine (not an installed package) and its SPEC."""
    (tmp_path / "quick_engine.py").write_text(textwrap.dedent(QUICK))
    experiment = tmp_path / "quick.yaml"
    experiment.write_text(Path(EXPERIMENT).read_text().replace("type: toy-classifier", "type: quick_engine"))
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(PLUGIN / "src")])}

    result = cli(Path(sys.executable), "run", str(experiment), *TINY, runs=tmp_path / "runs", env=env)

    assert result.returncode == 0, result.stderr
    engine = record_of(Path(result.stdout.strip().splitlines()[-1]))["engine"]
    assert (engine["found_by"], engine["model_type"], engine["package"]) == ("import path", "quick_engine", None)
    assert engine["source_sha256"] is not None
