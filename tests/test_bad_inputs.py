"""The bad-input catalogue: malformed and hostile inputs fed to the real CLI, each refused the same way.

Every case runs `python -m trainer ...` in a subprocess against its own copy of a real runs folder
(a finished run, a run interrupted by SIGTERM with its checkpoint, and their ledger) and checks what
a person and the audit trail see: exit status 2; exactly one line on stderr, starting with `error: `
and naming the file, the key where there is one, and what was expected; nothing on stdout and no
traceback; no payload executed; and every file and folder under the runs folder as it was, byte for
byte. Most cases are refused before `import torch`; mistakes in data files and checkpoints of the
right format are found only by the engine, after torch's import, which a new process would spend seconds
on per case: those cases call the same command line (`trainer.cli.main`) in this process and check the
same things on its exit status and on what it wrote to the process's stdout and stderr.
"""
from __future__ import annotations

import io
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import REPO, run_cli, snapshot
from trainer.tracking import layout

EXPERIMENTS = REPO / "experiments"
NAMES_MLP = EXPERIMENTS / "names-mlp.yaml"
CHAR_GPT = EXPERIMENTS / "shakespeare-char-gpt.yaml"
FORECAST_CO2 = EXPERIMENTS / "forecast-co2.yaml"
DIGITS_CNN = EXPERIMENTS / "digits-cnn.yaml"
HEADER = "name: x\nmodel: {type: mlp}\n"
"""the smallest valid experiment; a case appends its mistake to it"""
PAYLOAD_MARKER = "pwned"
"""the file a hostile payload would create in the case's folder if it ever ran"""


@dataclass(frozen=True)
class Runs:
    root: Path
    finished: str
    """id of a sealed run with status ok"""
    interrupted: str
    """id of a sealed run stopped by SIGTERM after its first step, with a checkpoint: resumable"""


@dataclass(frozen=True)
class Place:
    """Where one case happens: its own folder for the files it writes, and its own copy of the runs."""

    tmp: Path
    runs: Path
    finished: Path
    interrupted: Path

    @property
    def marker(self) -> Path:
        return self.tmp / PAYLOAD_MARKER

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path


def _stop_after_first_step(root: Path) -> str:
    """Start a real names-mlp run, SIGTERM it once its first step is logged, and return its id.

    The progress line is printed from inside the training loop, so the clean-stop handler is
    installed by then: the run saves a checkpoint at its step boundary and is sealed as interrupted."""
    process = subprocess.Popen(
        [sys.executable, "-m", "trainer", "run", str(NAMES_MLP), "train.steps=1000000", "train.log_interval=1",
         "train.eval_interval=1000000", "introspect.interval=0", "sample.count=1"],
        cwd=REPO, env={**os.environ, "TRAINBOOK_RUNS_DIR": str(root)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        for line in process.stderr:
            seen.append(line)
            if " step 1/" in line:
                process.send_signal(signal.SIGTERM)
                break
        seen.append(process.communicate(timeout=120)[1])
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, "".join(seen)
    (run_id,) = [line.split()[1] for line in seen if line.startswith("run ") and " started in " in line]
    assert (root / run_id / "checkpoint.pt").is_file(), "".join(seen)
    return run_id


@pytest.fixture(scope="module")
def runs_template(tiny_runs, tmp_path_factory) -> Runs:
    """The runs folder every case copies: the session's tiny finished run, and one interrupted for real."""
    root = tmp_path_factory.mktemp("bad-inputs") / "runs"
    shutil.copytree(tiny_runs, root)
    (finished,) = [p.name for p in root.iterdir() if p.is_dir()]
    return Runs(root, finished, _stop_after_first_step(root))


@pytest.fixture
def place(runs_template, tmp_path) -> Place:
    runs = tmp_path / "runs"
    shutil.copytree(runs_template.root, runs)
    case = tmp_path / "case"
    case.mkdir()
    return Place(case, runs, runs / runs_template.finished, runs / runs_template.interrupted)


def _everything(folder: Path) -> tuple[dict[str, bytes], list[str]]:
    """Every file's bytes and every path (empty folders included) under `folder`."""
    return snapshot(folder), sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_refused(place: Place, args: list[str], expected: list[str]) -> None:
    """`python -m trainer ARGS` exits 2 with one `error:` line holding every text in `expected`, and changes nothing."""
    before = _everything(place.runs)
    result = run_cli("trainer", *args, runs_dir=place.runs, env={"TRAINBOOK_CACHE_DIR": str(place.tmp / "cache")}, timeout=120)
    _refused_alike(place, before, result.returncode, result.stdout, result.stderr, expected)


def _refused_alike(place: Place, before, code: int, stdout: str, stderr: str, expected: list[str]) -> None:
    """What every refusal must look like, however the command was called."""
    shown = f"exit {code}\nstdout: {stdout}\nstderr: {stderr}"
    assert "Traceback" not in stderr + stdout, shown
    assert code == 2, shown
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), shown
    missing = [text for text in expected if text not in lines[0]]
    assert not missing, f"{missing} not in: {lines[0]}"
    assert stdout == "", shown
    assert not place.marker.exists(), "a hostile payload ran"
    assert _everything(place.runs) == before, "the runs folder or the ledger changed"


@pytest.fixture
def refused_here(place, capfd, monkeypatch) -> Callable[[list[str], list[str]], None]:
    """`assert_refused`, with the command line called in this process (the cases that need the engine)."""
    from trainer import cli

    monkeypatch.setenv("TRAINBOOK_RUNS_DIR", str(place.runs))
    monkeypatch.setenv("TRAINBOOK_CACHE_DIR", str(place.tmp / "cache"))

    def check(args: list[str], expected: list[str]) -> None:
        before = _everything(place.runs)
        capfd.readouterr()
        code = cli.main(args)
        _refused_alike(place, before, code, *capfd.readouterr(), expected)
    return check


# --- experiment files -------------------------------------------------------------------------

def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return HEADER + "\n".join(lines) + "\nnotes: *a9\n"


def _png(place: Place) -> bytes:
    """A real PNG: a figure of the finished run."""
    return next(place.finished.glob("*.png")).read_bytes()


def _python_tag(place: Place) -> str:
    return HEADER + f'notes: !!python/object/apply:os.system ["touch {place.marker}"]\n'


CONFIG_FILES: dict[str, tuple[str | bytes | Callable[[Place], str | bytes], str, str]] = {
    # id: (file content, the key named, the expectation named)
    "wrong type: a list where an integer goes": (HEADER + "train: {steps: [10]}\n", "train.steps", "expected integer, got list"),
    "wrong type: true where an integer goes": (HEADER + "train: {batch_size: true}\n", "train.batch_size", "expected integer, got True"),
    "wrong type: 1e-3, which YAML reads as text": (HEADER + "optim: {lr: 1e-3}\n", "optim.lr", "YAML reads 1e-3 as text; write a decimal point"),
    "wrong type: a quoted number": (HEADER + 'optim: {lr: "0.1"}\n', "optim.lr", "a quoted number is text"),
    "wrong type: a string where a list goes": (HEADER + "tags: rl\n", "tags", "expected list of string, got 'rl'"),
    "wrong type: a number where a section goes": (HEADER + "optim: 0.1\n", "optim", "expected a mapping of OptimConfig settings, got float"),
    "wrong type: a list as model.type": ("name: x\nmodel: {type: [mlp]}\n", "model.type", "expected one of 'mlp', 'gpt', 'policy', 'forecast', 'image', got ['mlp']"),
    "wrong type: a date where an integer goes": (HEADER + "seed: 2001-12-14\n", "seed", "expected integer, got datetime.date(2001, 12, 14)"),
    "missing model.type": ("name: x\nmodel: {n_hidden: 5}\n", "model.type", "missing; expected one of 'mlp'"),
    "out of range: zero context": (HEADER + "data: {context: 0}\n", "data.context", "must be >= 1, got 0"),
    "out of range: zero learning rate": (HEADER + "optim: {lr: 0}\n", "optim.lr", "must be > 0, got 0.0"),
    "out of range: momentum of 1": (HEADER + "optim: {momentum: 1.0}\n", "optim.momentum", "must be < 1, got 1.0"),
    "out of range: an empty split": (HEADER + "data: {split: [0.9, 0.1, 0.0]}\n", "data.split", "every fraction must be > 0"),
    "out of range: decreasing milestones": (HEADER + "optim: {milestones: [0.75, 0.5]}\n", "optim.milestones", "must be increasing"),
    "unknown top-level key": (HEADER + "sede: 1\n", "sede", "unknown key (did you mean 'seed'?)"),
    "unknown nested key": ("name: x\nmodel: {type: mlp, n_hiden: 5}\n", "model.n_hiden", "unknown key (did you mean 'n_hidden'?)"),
    "a number as a key": (HEADER + "1: 2\n", "1", "unknown key; known keys here: name"),
    "YAML bomb (billion laughs)": (_billion_laughs(), "", "aliases (*name) are not allowed in experiment files"),
    "anchor and alias reusing a section": (HEADER + "optim: &o {lr: 0.1}\nsample: *o\n", "", "aliases (*name) are not allowed"),
    "merge key from an alias": (HEADER + "base: &b {lr: 0.1}\noptim: {<<: *b, name: sgd}\n", "", "aliases (*name) are not allowed"),
    "merge key of a scalar": (HEADER + "optim: {<<: 5}\n", "", "expected a mapping or list of mappings for merging"),
    "duplicate anchor": (HEADER + "tags: [&t a, &t b]\n", "", "found duplicate anchor 't'"),
    "huge float 1.0e+400": (HEADER + "optim: {lr: 1.0e+400}\n", "optim.lr", "expected a finite number, got inf"),
    "10**30 steps": (HEADER + f"train: {{steps: {10**30}}}\n", "train.steps", "expected an integer that fits in 64 bits"),
    "10**30 as a seed": (HEADER + f"seed: {10**30}\n", "seed", "expected an integer that fits in 64 bits"),
    "an integer of 5000 digits": (HEADER + "seed: 1" + "0" * 4999 + "\n", "", "cannot read this value (Exceeds the limit (4300 digits)"),
    "NaN learning rate": (HEADER + "optim: {lr: .nan}\n", "optim.lr", "expected a finite number, got nan"),
    "infinite gamma": (HEADER + "optim: {gamma: .inf}\n", "optim.gamma", "expected a finite number, got inf"),
    "minus infinite weight decay": (HEADER + "optim: {weight_decay: -.inf}\n", "optim.weight_decay", "expected a finite number, got -inf"),
    "an impossible date": (HEADER + "seed: 2001-13-45\n", "", "cannot read this value (month must be in 1..12)"),
    "empty file": ("", "", "file is empty; expected a mapping with at least 'name' and 'model'"),
    "only comments": ("# an experiment\n# to be written\n", "", "file is empty"),
    "a list at the top level": ("- name: x\n- model: {type: mlp}\n", "", "expected a mapping of settings at the top level, got list"),
    "a scalar at the top level": ("names-mlp\n", "", "expected a mapping of settings at the top level, got str"),
    "two YAML documents": ("name: x\n---\nname: y\n", "", "expected a single document in the stream, but found another document"),
    "random bytes": (random.Random(0).randbytes(4096), "", "not UTF-8 text"),
    "NUL bytes": (b"\0" * 64, "", "contains NUL bytes; expected a YAML experiment file"),
    "a PNG image": (_png, "", "not UTF-8 text (byte 0)"),
    "Latin-1 bytes": ("name: caf\xe9\nmodel: {type: mlp}\n".encode("latin-1"), "", "not UTF-8 text (byte 9)"),
    "UTF-16 with a byte-order mark": (HEADER.encode("utf-16"), "", "not UTF-8 text (byte 0)"),
    "duplicate top-level key": (HEADER + "name: y\n", "", "duplicate key 'name' (first given at line 1)"),
    "duplicate nested key": (HEADER + "optim: {lr: 0.1, lr: 0.2}\n", "", "duplicate key 'lr'"),
    "lists nested 20000 deep": ("a: " + "[" * 20000 + "]" * 20000 + "\n", "", "nested more than 50 levels deep"),
    "mappings nested 5000 deep": (HEADER + "notes: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", "", "nested more than 50 levels deep"),
    "a file over 1 MiB": (HEADER + "notes: " + "x" * (1 << 20) + "\n", "", "an experiment file must be under 1048576"),
    "a python object tag that would run a command": (_python_tag, "", "could not determine a constructor for the tag"),
}


@pytest.mark.parametrize("case", list(CONFIG_FILES))
def test_a_malformed_experiment_file_is_refused_in_one_line(place, case):
    content, key, expectation = CONFIG_FILES[case]
    path = place.write("experiment.yaml", content(place) if callable(content) else content)
    assert_refused(place, ["run", str(path)], [str(path), key, expectation])


def _unreadable(place: Place) -> Path:
    """A file that exists but cannot be read. Root reads any mode, so there it is /proc/self/mem (EIO at address 0)."""
    if os.geteuid() == 0:
        return Path("/proc/self/mem")
    path = place.write("experiment.yaml", HEADER)
    path.chmod(0)
    return path


def _named_pipe(place: Place) -> Path:
    path = place.tmp / "experiment.fifo"
    os.mkfifo(path)
    return path


EXPERIMENT_PATHS: dict[str, tuple[Callable[[Place], Path], str]] = {
    "a folder instead of a file": (lambda place: place.tmp, "not a regular file"),
    "a named pipe instead of a file": (_named_pipe, "not a regular file"),
    "an unreadable file": (_unreadable, "cannot be read"),
}


@pytest.mark.parametrize("case", list(EXPERIMENT_PATHS))
def test_an_experiment_path_that_is_not_a_readable_file_is_refused(place, case):
    make, expectation = EXPERIMENT_PATHS[case]
    path = make(place)
    assert_refused(place, ["run", str(path)], [str(path), expectation])


ENGINE_MISTAKES: dict[str, tuple[str, list[str], str, str]] = {
    # id: (experiment, overrides, the key named, the expectation named); one per engine's default experiment at least
    "names-mlp: an override of an unknown key": ("names-mlp.yaml", ["train.stesp=5"], "train.stesp", "did you mean 'steps'?"),
    "names-mlp: an override of 5000 digits": ("names-mlp.yaml", ["train.steps=1" + "0" * 4999], "train.steps",
                                              "expected integer, got '10000"),
    "names-mlp-manual: AdamW with manual backprop": ("names-mlp-manual.yaml", ["optim.name=adamw"], "optim.name",
                                                     "manual backprop updates parameters with hand-written SGD"),
    "market-pg: a transition row not summing to 1": ("market-pg.yaml", ["market.transitions=[[0.5, 0.4, 0.0], [0.04, 0.94, 0.02], "
                                                                         "[0.01, 0.01, 0.98]]"],
                                                     "market.transitions[0]", "row for regime 'bull' must sum to 1, got 0.9"),
    "market-pg: an unknown key deep in a list": ("market-pg.yaml", ["market.regimes=[{name: bull, drif: 0.1}]"],
                                                 "market.regimes[0].drif", "did you mean 'drift'?"),
    "market-pg: a scenario in an unknown regime": ("market-pg.yaml", ["eval.scenarios=[{name: a, seed: 1, schedule: "
                                                                       "[{regime: bul, steps: 128}]}]"],
                                                   "eval.scenarios[0].schedule[0].regime", "unknown regime 'bul' (did you mean 'bull'?)"),
    "shakespeare-char-gpt: width not divisible by heads": ("shakespeare-char-gpt.yaml", ["model.n_embd=95"], "model.n_embd",
                                                            "must be divisible by n_head (4), got 95"),
    "shakespeare-char-gpt: an unknown tokenizer": ("shakespeare-char-gpt.yaml", ["data.tokenizer=chars"], "data.tokenizer",
                                                   "did you mean 'char'?"),
    "shakespeare-bpe-gpt: zero merges": ("shakespeare-bpe-gpt.yaml", ["data.bpe_merges=0"], "data.bpe_merges", "must be >= 1, got 0"),
    "shakespeare-char-gpt: an unknown evaluation task": ("shakespeare-char-gpt.yaml", ["eval.task=next-line"], "eval.task",
                                                         "expected one of 'next-word', 'line-end', got 'next-line'"),
}


@pytest.mark.parametrize("case", list(ENGINE_MISTAKES))
def test_a_mistake_in_each_engines_experiment_is_refused(place, case):
    experiment, overrides, key, expectation = ENGINE_MISTAKES[case]
    path = str(EXPERIMENTS / experiment)
    assert_refused(place, ["run", path, *overrides], [path, key, expectation])


# --- the command line ------------------------------------------------------------------------

CommandLine = Callable[[Place], tuple[list[str], list[str]]]
"""a case: (arguments after `python -m trainer`, what the error line must name)"""


def _garbled_record(place: Place) -> tuple[list[str], list[str]]:
    (place.interrupted / "run.json").write_text("{not json")
    return ["resume", str(place.interrupted)], [str(place.interrupted / "run.json"), "not a readable run record"]


COMMAND_LINES: dict[str, CommandLine] = {
    "no command": lambda p: ([], ["the following arguments are required: COMMAND"]),
    "an unknown command": lambda p: (["trian", str(NAMES_MLP)], ["invalid choice: 'trian'"]),
    "run without its experiment file": lambda p: (["run"], ["the following arguments are required: file"]),
    "resume without its run": lambda p: (["resume"], ["the following arguments are required: run"]),
    "an unknown option": lambda p: (["run", str(NAMES_MLP), "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
    "an override with an empty key part": lambda p: (["run", str(NAMES_MLP), "optim..lr=0.1"],
                                                     ["command line", "optim..lr=0.1", "expected an override of the form section.key=value"]),
    "an override into a value": lambda p: (["run", str(NAMES_MLP), "optim.lr.max=1"], ["command line", "optim.lr.max", "'lr' is a value, not a section"]),
    "resume a missing folder": lambda p: (["resume", str(p.runs / "no-such-run")], [str(p.runs / "no-such-run"), "no such run folder"]),
    "reproduce a missing run id": lambda p: (["reproduce", "no-such-run"], [str(p.runs / "no-such-run"), "no such run folder"]),
    "replay a missing folder": lambda p: (["replay", str(p.tmp / "gone")], [str(p.tmp / "gone"), "no such run folder"]),
    "resume a folder that is not a run": lambda p: (["resume", str(p.tmp)], [str(p.tmp), "not a run folder (expected run.json and config.yaml"]),
    "reproduce the runs folder itself": lambda p: (["reproduce", str(p.runs)], [str(p.runs), "not a run folder"]),
    "replay a file instead of a folder": lambda p: (["replay", str(p.runs / "ledger.jsonl")], [str(p.runs / "ledger.jsonl"),
                                                                                              "not a folder; expected a run folder"]),
    "replay '..'": lambda p: (["replay", ".."], ["..", "not a run folder"]),
    "a run id with separators and '..'": lambda p: (["reproduce", f"{p.finished.name}/../../.."], [f"{p.finished.name}/../../..", "no such run folder"]),
    "resume a path that climbs out of a run": lambda p: (["resume", f"{p.interrupted}/../.."], [f"{p.interrupted}/../..", "not a run folder"]),
    "resume a finished run": lambda p: (["resume", str(p.finished)], [str(p.finished / "run.json"), "status", "already finished"]),
    "reproduce an interrupted run": lambda p: (["reproduce", str(p.interrupted)], [str(p.interrupted / "run.json"), "status",
                                                                                   "only a finished run (ok) can be reproduced"]),
    "resume a run whose record is not JSON": _garbled_record,
    "--runs-dir pointing at a file (run)": lambda p: (["run", str(NAMES_MLP), "--runs-dir", str(p.runs / "ledger.jsonl")],
                                                      [str(p.runs / "ledger.jsonl"), "--runs-dir", "not a folder"]),
    "--runs-dir pointing at a file (verify)": lambda p: (["verify", "--runs-dir", str(p.runs / "ledger.jsonl")],
                                                         [str(p.runs / "ledger.jsonl"), "--runs-dir", "not a folder"]),
    "--runs-dir that does not exist (verify)": lambda p: (["verify", "--runs-dir", str(p.tmp / "no-runs")],
                                                            [str(p.tmp / "no-runs"), "--runs-dir", "no such folder"]),
    "gate with a broken experiment": lambda p: (["gate", str(p.write("gated.yaml", HEADER + "gates: [val_loss]\n"))],
                                                ["gated.yaml", "gates", "expected mapping of string to string, got list"]),
    "--rtol negative": lambda p: (["reproduce", str(p.finished), "--rtol=-1"], ["--rtol", "expected a finite number >= 0, got '-1'"]),
    "--rtol NaN": lambda p: (["reproduce", str(p.finished), "--rtol", "nan"], ["--rtol", "expected a finite number >= 0, got 'nan'"]),
    "--rtol not a number": lambda p: (["reproduce", str(p.finished), "--rtol", "tiny"], ["--rtol", "expected a number >= 0, got 'tiny'"]),
    "--atol infinite": lambda p: (["reproduce", str(p.finished), "--atol", "inf"], ["--atol", "expected a finite number >= 0, got 'inf'"]),
}


@pytest.mark.parametrize("case", list(COMMAND_LINES))
def test_a_mistaken_command_line_is_refused_in_one_line(place, case):
    args, expected = COMMAND_LINES[case](place)
    assert_refused(place, args, expected)


# --- data files ------------------------------------------------------------------------------

DATA_FILES: dict[str, tuple[Path, str | bytes | None, str, str]] = {
    # id: (experiment, file content (None: a folder), the key named, the expectation named); `data.path` points at it
    "names: empty file": (NAMES_MLP, "", "data.path", "has 0 words; need at least 10"),
    "names: only blank lines": (NAMES_MLP, "\n\n   \n\t\n" * 10, "data.path", "has 0 words; need at least 10"),
    "names: Latin-1 bytes": (NAMES_MLP, "anna\nbob\njos\xe9\n".encode("latin-1"), "data.path", "is not UTF-8 text (byte 12)"),
    "names: binary lines of NUL bytes": (NAMES_MLP, b"ab\0cd\n" * 20, "data.path", "word 1 contains control characters (binary data?)"),
    "names: too few words to split": (NAMES_MLP, "anna\nbob\ncarla\n", "data.path", "has 3 words; need at least 10"),
    "names: a folder": (NAMES_MLP, None, "data.path", "is not a file; expected a UTF-8 file with one word per line"),
    "text: empty file": (CHAR_GPT, "", "data.path", "has no text (0 bytes, empty)"),
    "text: only blank lines": (CHAR_GPT, "\n" * 500, "data.path", "has no text (500 bytes, all whitespace)"),
    "text: Latin-1 bytes": (CHAR_GPT, ("To be, or not to be: " * 20 + "caf\xe9").encode("latin-1"), "data.path", "is not UTF-8 text (byte 423)"),
    "text: binary with NUL bytes": (CHAR_GPT, b"\0\1\2\3" * 1000, "data.path", "contains NUL bytes (binary data?)"),
    "text: shorter than the context": (CHAR_GPT, "To be, or not to be: that is the question.\n", "model.block_size",
                                       "needs more than block_size + 1 (65)"),
    "text: a folder": (CHAR_GPT, None, "data.path", "is not a file; expected a UTF-8 text file"),
}


@pytest.mark.parametrize("case", list(DATA_FILES))
def test_a_malformed_data_file_is_refused_in_one_line(place, refused_here, case):
    experiment, content, key, expectation = DATA_FILES[case]
    if content is None:
        data = place.tmp / "data"
        data.mkdir()
    else:
        data = place.write("data.txt", content)
    refused_here(["run", str(experiment), f"data.path={data}", "train.steps=2", "sample.count=1"],
                 [str(experiment), key, str(data), expectation])


@pytest.mark.parametrize("experiment", [NAMES_MLP, CHAR_GPT], ids=["names", "text"])
def test_an_unreadable_data_file_is_refused_in_one_line(place, refused_here, experiment):
    if os.geteuid() == 0:
        data = Path("/proc/self/mem")
    else:
        data = place.write("data.txt", "anna\n" * 20)
        data.chmod(0)
    refused_here(["run", str(experiment), f"data.path={data}", "train.steps=2", "sample.count=1"],
                 [str(experiment), "data.path", str(data), "cannot be read"])


def _class_folders(place: Place, classes: dict[str, list[bytes]]) -> Path:
    """A folder with one subfolder per class holding these files' bytes as 0.png, 1.png, ..."""
    root = place.tmp / "images"
    for name, files in classes.items():
        (root / name).mkdir(parents=True)
        for i, content in enumerate(files):
            (root / name / f"{i}.png").write_bytes(content)
    return root


def _one_class(place: Place) -> tuple[list[str], str]:
    root = _class_folders(place, {"cats": [_png(place)] * 3})
    return [f"data.path={root}"], str(root)


def _corrupt_png(place: Place) -> tuple[list[str], str]:
    good = _png(place)
    root = _class_folders(place, {"cats": [good] * 3, "dogs": [good, good[: len(good) // 3], good]})
    return [f"data.path={root}"], str(root / "dogs" / "1.png")


def _changed_archive(place: Place) -> tuple[list[str], str]:
    archive = place.write("images.zip", b"PK\x05\x06" + bytes(18))  # an empty zip: not the archive the sha256 names
    return [f"data.url=file://{archive}", f"data.sha256={'f' * 64}"], f"file://{archive}"


def _series(content: str) -> Callable[[Place], tuple[list[str], str]]:
    def make(place: Place) -> tuple[list[str], str]:
        path = place.write("series.csv", content)
        return [f"data.path={path}", "data.season=12"], str(path)
    return make


KIND_DATA: dict[str, tuple[Path, Callable[[Place], tuple[list[str], str]], str, str]] = {
    # id: (experiment, the overrides pointing at the bad data and the path the message names, the key, the expectation)
    "forecast: an empty series": (FORECAST_CO2, _series(""), "data.path", "has no values (0 bytes, empty)"),
    "forecast: a series too short for its window, validation and held-out parts": (
        FORECAST_CO2, _series("".join(f"{i}\n" for i in range(100))), "data.held_out",
        "has 100 observations; model.window (36) + model.horizon (12) for one training window, data.validation (60) and "
        "data.held_out (120) need at least 228"),
    "image: a folder with one class": (DIGITS_CNN, _one_class, "data.path", "has one class folder ('cats'); expected a subfolder"),
    "image: a corrupt PNG": (DIGITS_CNN, _corrupt_png, "data.path", "is not a readable PNG image"),
    "image: an archive whose sha256 differs": (DIGITS_CNN, _changed_archive, "data.url", f"expected {'f' * 64}"),
}


@pytest.mark.parametrize("case", list(KIND_DATA))
def test_bad_data_for_the_forecast_and_image_kinds_is_refused_in_one_line(place, refused_here, case):
    experiment, make, key, expectation = KIND_DATA[case]
    overrides, named = make(place)
    refused_here(["run", str(experiment), *overrides], [str(experiment), key, named, expectation])


def test_a_horizon_longer_than_the_held_out_part_is_refused_before_any_data_is_read(place):
    assert_refused(place, ["run", str(FORECAST_CO2), "model.horizon=200"],
                   [str(FORECAST_CO2), "model.horizon", "must not exceed data.held_out (120)", "got 200"])


# --- checkpoints given to `resume` -----------------------------------------------------------

class _Payload:
    """Pickles as a call to os.system: what a hostile checkpoint would run if it were unpickled unsafely."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _saved(state: dict) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _good_state(place: Place) -> dict:
    from trainer.tracking import checkpoint

    return checkpoint.load(place.interrupted / layout.CHECKPOINT)


def _other_size(place: Place) -> bytes:
    """The checkpoint as it is, but for a names MLP of 20 hidden units instead of 200."""
    from trainer.models.mlp import CharMLP
    from trainer.schemas.mlp import MLPModelConfig

    state = _good_state(place)
    vocab = state["model"]["embedding.weight"].shape[0]
    return _saved({**state, "model": CharMLP(MLPModelConfig(n_hidden=20), vocab, 3).state_dict()})


def _other_engine(place: Place) -> bytes:
    """The checkpoint as it is, but holding a GPT's weights."""
    from trainer.models.gpt import GPT
    from trainer.schemas.gpt import GPTModelConfig

    return _saved({**_good_state(place), "model": GPT(GPTModelConfig(n_layer=1, n_head=1, n_embd=8, block_size=4), 27).state_dict()})


CHECKPOINTS: dict[str, tuple[Callable[[Place, bytes], bytes | None], str]] = {
    # id: (the bytes that replace checkpoint.pt, given the good ones (None: a folder), the expectation named)
    "zero bytes": (lambda place, good: b"", "empty file (0 bytes), not a Trainbook checkpoint"),
    "truncated to half": (lambda place, good: good[: len(good) // 2], "truncated, or not a checkpoint at all"),
    "random bytes": (lambda place, good: random.Random(1).randbytes(len(good)), "not a torch.save archive"),
    "a plain pickle with a code payload": (lambda place, good: pickle.dumps({"format": "trainbook-checkpoint-1", "model": _Payload(place.marker)}),
                                           "not a torch.save archive"),
    "a torch.save archive with a code payload": (lambda place, good: _saved({**_good_state(place), "model": _Payload(place.marker)}),
                                                 "refused: loading it would call posix.system (pickled code)"),
    "a folder": (lambda place, good: None, "not a file, so not a checkpoint"),
    "from a model of another size": (lambda place, good: _other_size(place), "was written by another model, not this run's (size mismatch"),
    "from another engine's model": (lambda place, good: _other_engine(place), "was written by another model, not this run's (Missing key(s)"),
}


BUILDS_THE_MODEL = {"from a model of another size", "from another engine's model"}
"""checkpoints refused only when the engine loads them into the run's model: called in this process"""


@pytest.mark.parametrize("case", list(CHECKPOINTS))
def test_a_bad_checkpoint_is_refused_before_the_run_is_touched(place, refused_here, case):
    corrupt, expectation = CHECKPOINTS[case]
    path = place.interrupted / "checkpoint.pt"
    content = corrupt(place, path.read_bytes())
    if content is None:
        path.unlink()
        path.mkdir()
    else:
        path.write_bytes(content)
    args, expected = ["resume", str(place.interrupted)], [str(path), expectation]
    refused_here(args, expected) if case in BUILDS_THE_MODEL else assert_refused(place, args, expected)
