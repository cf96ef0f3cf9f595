"""Faults the audit trail must survive, each through real processes, and what a person sees of each.

How each fault is made is said where it is made:
- a real full file system: a 256 KiB tmpfs, mounted as root where this machine allows it (skipped, saying so,
  where it does not);
- the process's real file-size limit (`ulimit -f`, RLIMIT_FSIZE): the kernel refuses the write (EFBIG);
- real read-only mounts (a read-only bind mount as root, where chmod does not stop writes; chmod otherwise);
- real SIGKILL and SIGTERM, to a trainer, a publish, one torchrun process or torchrun itself;
- where a fault must land on one exact write, TRAINBOOK_TEST_FAULT (trainer/runtime/faults.py): the write fails
  as the operating system fails one (ENOSPC, EIO, ...), at the one place every persistent write goes through,
  or the process kills itself there; and a torchrun process that stops answering.

Slow processes run side by side (two cores): the storage faults of runs in one batch, the torchrun launches in
the background from the module's start, while the publish tests run in the foreground.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest

from benchmarks.synthetic_runs import make_runs
from generators import incremental, site_lock
from tests.conftest import REPO, run_cli, snapshot
from tests.sitebuild import author_pages, generate
from tests.test_crash_safety import PROGRESS, assert_same_result, record, temporaries
from tests.test_processes import exit_codes
from trainer.runtime import faults
from trainer.tracking import layout, ledger

pytestmark = pytest.mark.slow  # whole processes, faulted, killed or launched together: `make test-slow`


TIMEOUT = 300
SEED = 20261201


def draw(purpose: str) -> random.Random:
    return random.Random(f"{SEED}:{purpose}")


# --- real processes -------------------------------------------------------------------------

class Launch:
    """A real process whose standard error is read line by line as it comes (by a thread, which may act on a line);
    a watchdog kills it after TIMEOUT seconds, so a hang fails the test instead of hanging it."""

    def __init__(self, args: list[str], env: dict | None = None, on_line: Callable[["Launch", str], None] | None = None):
        self.proc = subprocess.Popen(args, cwd=REPO, env={**os.environ, **(env or {})}, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self.stdout = ""
        self.on_line = on_line
        self.readers = [threading.Thread(target=self._errors, daemon=True), threading.Thread(target=self._output, daemon=True)]
        for reader in self.readers:
            reader.start()
        self.watchdog = threading.Timer(TIMEOUT, self.proc.kill)
        self.watchdog.daemon = True  # a launch a test never ends must not keep pytest waiting TIMEOUT at exit
        self.watchdog.start()

    def _errors(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            if self.on_line is not None:
                self.on_line(self, line)

    def _output(self) -> None:
        self.stdout = self.proc.stdout.read()

    def end(self) -> int:
        """The exit status (negative: the signal that killed it), once the process and all that hold its pipes ended."""
        self.proc.wait()
        for reader in self.readers:
            reader.join(TIMEOUT)
        self.watchdog.cancel()
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    @property
    def folder(self) -> Path | None:
        """The run folder a trainer said it started."""
        found = re.search(r" started in (\S+)", self.stderr)
        return Path(found.group(1)) if found else None


def trainer(runs: Path, *args: str, env: dict | None = None, wrap: tuple[str, ...] = (), **kw) -> Launch:
    return Launch([*wrap, sys.executable, "-m", "trainer", *args], env={"TRAINBOOK_RUNS_DIR": str(runs), **(env or {})}, **kw)


def errors(launch: Launch) -> list[str]:
    return [line for line in launch.lines if line.startswith("error: ")]


def verify(runs: Path) -> subprocess.CompletedProcess:
    return run_cli("trainer", "verify", runs_dir=runs)


def mount(*args: str) -> str | None:
    """Run mount(8); the reason it cannot, or None when it did."""
    if os.geteuid() != 0:
        return "mounting a file system needs root"
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr.strip() or f"mount exited {done.returncode}")


NO_TMPFS: list[str] = []
"""why the small file system could not be mounted here, once the storage batch has tried"""


SMALL = ["train.steps=20", "train.eval_interval=10", "train.checkpoint_interval=10", "train.log_interval=1",
         "sample.count=1", "introspect.interval=0", "train.threads=1"]
"""names-mlp for 20 steps on a short word list, a checkpoint at 10 and 20: seconds, most of them `import torch`"""


@pytest.fixture(scope="module")
def words(tmp_path_factory) -> Path:
    """2,000 made-up words: a names-mlp run on them costs a fraction of one on the census surnames."""
    rng = draw("words")
    syllables = ["ka", "ri", "to", "me", "lu", "sa", "no", "vi", "de", "ba", "zo", "pe", "qu", "an"]
    path = tmp_path_factory.mktemp("words") / "words.txt"
    path.write_text("".join("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) + "\n" for _ in range(2000)))
    return path


def small_run(words: Path, *more: str) -> list[str]:
    return ["run", "experiments/names-mlp.yaml", f"data.path={words}", *SMALL, *more]


# --- torchrun: started first, in the background; judged at the end of the module ---------------

TORCHRUN = Path(sys.executable).parent / "torchrun"
HANG_TIMEOUT_S = 30
"""the collective timeout of the hanging launch: far above any wait of a healthy tiny run, even on a busy machine"""


def torchrun(runs: Path, words: Path, *more: str, env: dict | None = None, on_line=None) -> Launch:
    command = [str(TORCHRUN), "--standalone", "--nproc_per_node=2", "-m", "trainer", "run", "experiments/names-mlp.yaml",
               f"data.path={words}", *SMALL, "train.log_interval=10", *more]
    return Launch(command, env={"OMP_NUM_THREADS": "1", "TRAINBOOK_RUNS_DIR": str(runs), **(env or {})}, on_line=on_line)


def workers(launcher: int) -> dict[int, int]:
    """The processes torchrun `launcher` started, by rank (from /proc: their parent and their RANK)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == launcher:
                environ = dict(v.split("=", 1) for v in (entry / "environ").read_text().split("\0") if "=" in v)
                found[int(environ["RANK"])] = int(entry.name)
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return found


def at_step(step: int, act: Callable[[Launch], None]):
    """An `on_line` that acts once, when rank 0's progress first reports `step` steps done."""
    done = []

    def watch(launch: Launch, line: str) -> None:
        reported = PROGRESS.search(line)
        if not done and reported and int(reported.group(1)) >= step:
            done.append(step)
            act(launch)
    return watch


@dataclass
class RankFaults:
    term: Launch
    term_runs: Path
    killed: Launch
    killed_runs: Path
    hang: Launch
    hang_runs: Path
    orphans: dict


@pytest.fixture(scope="module", autouse=True)
def rank_faults(tmp_path_factory, words) -> RankFaults:
    """Three two-process launches: SIGTERM to rank 1 mid-run, SIGKILL to torchrun itself mid-run, and rank 1 hanging
    at step 5 (TRAINBOOK_TEST_FAULT) under a 30 s collective timeout. Started now, judged by the last tests."""
    root = tmp_path_factory.mktemp("ranks")
    long = ["train.steps=400", "train.checkpoint_interval=200", "train.eval_interval=200"]
    orphans: dict = {}

    def term_rank_1(launch: Launch) -> None:
        os.kill(workers(launch.proc.pid)[1], signal.SIGTERM)

    def kill_torchrun(launch: Launch) -> None:
        orphans.update(workers(launch.proc.pid))
        os.kill(launch.proc.pid, signal.SIGKILL)

    hang_env = {faults.VARIABLE: "rank=1,step=5,do=hang", "TRAINBOOK_COLLECTIVE_TIMEOUT_S": str(HANG_TIMEOUT_S)}
    return RankFaults(torchrun(root / "term", words, *long, on_line=at_step(30, term_rank_1)), root / "term",
                      torchrun(root / "killed", words, *long, on_line=at_step(30, kill_torchrun)), root / "killed",
                      torchrun(root / "hang", words, env=hang_env), root / "hang", orphans)


# --- storage faults of a run: one batch of real processes, side by side ------------------------

@dataclass
class Faulted:
    launch: Launch
    runs: Path
    ledger_before: bytes
    status: int | None = None

    @property
    def run(self) -> Path:
        return self.launch.folder


def seeded_runs(folder: Path) -> tuple[Path, bytes]:
    """A runs folder whose ledger already has a line (one synthetic sealed run), and that line's bytes."""
    make_runs(folder, 1)
    return folder, (folder / layout.LEDGER).read_bytes()


FAULTS = {
    "metrics": "write=metrics.jsonl,nth=2,errno=EIO",
    "record": "write=run.json,nth=2,errno=EIO",
    "ledger": "write=ledger.jsonl,nth=1,errno=ENOSPC",
}
"""faults planned on one exact write: metrics.jsonl at step 20's checkpoint; the record and the ledger line as the run is sealed"""
FILE_SIZE_LIMIT_KIB = 64
"""below a checkpoint of this model (88 KiB), above its config and record"""
TMPFS_SIZE = "256k"
"""room for the config, the record and the step-10 checkpoints; not for the step-20 ones besides them"""


@pytest.fixture(scope="module")
def storage(tmp_path_factory, words) -> dict[str, Faulted]:
    """Every storage fault of a run, each in its own runs folder, all launched at once, plus an uninterrupted run."""
    root = tmp_path_factory.mktemp("storage")
    started: dict[str, Faulted] = {}
    for name, plan in FAULTS.items():
        runs, before = seeded_runs(root / name)
        started[name] = Faulted(trainer(runs, *small_run(words), env={faults.VARIABLE: plan}), runs, before)
    runs, before = seeded_runs(root / "ulimit")
    ulimit = ("bash", "-c", f'ulimit -f {FILE_SIZE_LIMIT_KIB} && exec "$@"', "bash")
    started["ulimit"] = Faulted(trainer(runs, *small_run(words), wrap=ulimit), runs, before)
    started["reference"] = Faulted(trainer(root / "reference", *small_run(words)), root / "reference", b"")
    gone = root / "removed"

    def remove_runs(launch: Launch, line: str) -> None:
        reported = PROGRESS.search(line)
        if reported and int(reported.group(1)) >= 20 and gone.exists():
            # One rename takes the whole folder away at once, as `rm -rf` seems to from the trainer's side; an rmtree
            # racing the trainer's own writes can find a folder refilled under it ("Directory not empty").
            away = gone.with_name("removed-away")
            gone.rename(away)
            shutil.rmtree(away, ignore_errors=True)
    started["removed"] = Faulted(trainer(gone, *small_run(words, "train.steps=400", "train.checkpoint_interval=200",
                                                          "train.log_interval=10"), on_line=remove_runs), gone, b"")
    full = root / "full"
    full.mkdir()
    why = mount("-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(full))
    if why is not None:
        NO_TMPFS.append(why)
    else:
        runs, before = seeded_runs(full / "runs")
        started["full"] = Faulted(trainer(runs, *small_run(words)), runs, before)
    for faulted in started.values():
        faulted.status = faulted.launch.end()
    yield started
    if why is None:
        subprocess.run(["umount", "-l", str(full)], capture_output=True)


def assert_failed_naming(faulted: Faulted, file: str, why: str) -> dict:
    """Exit 1; one `failed` line on standard error naming the file and why; the run sealed `failed` with that reason
    by one more complete ledger line; no temporary file left; and `verify` finds nothing wrong."""
    assert faulted.status == 1, faulted.launch.stderr[-2000:]
    run = faulted.run
    said = f"run {run.name} failed: cannot write {run / file}: {why}"
    assert said in faulted.launch.stderr and "Traceback" not in faulted.launch.stderr, faulted.launch.stderr[-2000:]
    sealed = record(run)
    assert sealed["status"] == "failed" and sealed["reason"].startswith(f"cannot write {run / file}: {why}")
    lines = ledger.read_lines(faulted.runs)
    assert b"".join(lines[:-1]) == faulted.ledger_before and lines[-1].endswith(b"\n")
    assert temporaries(run) == []
    assert verify(faulted.runs).returncode == 0
    return sealed


def test_a_checkpoint_past_the_file_size_limit_fails_the_run_naming_the_file_without_a_traceback(storage):
    # the kernel's own refusal (EFBIG) under `ulimit -f`: the reproduction, with a smaller model
    faulted = storage["ulimit"]
    name = next(n for n in (layout.BEST, layout.CHECKPOINT) if f"{faulted.run / n}:" in faulted.launch.stderr)
    assert_failed_naming(faulted, name, "the file is larger than this process may write")
    assert not (faulted.run / name).exists()  # nothing half-written in its place


def test_an_io_error_writing_the_metrics_fails_the_run_and_keeps_the_last_checkpoint_and_its_rows(storage):
    from trainer.tracking import checkpoint

    faulted = storage["metrics"]  # TRAINBOOK_TEST_FAULT: the second write of metrics.jsonl (at step 20) fails with EIO
    assert_failed_naming(faulted, layout.METRICS, "an input/output error")
    assert checkpoint.load(faulted.run / layout.CHECKPOINT)["step"] == 10
    # Rows reach the file as they are logged (a live page reads them), so rows past the checkpoint may follow its
    # rows; resume cuts the file back to the checkpoint's step (test_a_run_resumed_after_the_fault_ends_identical...).
    steps = [json.loads(r)["step"] for r in (faulted.run / layout.METRICS).read_text().splitlines()]
    assert steps[:10] == list(range(1, 11)) and steps == sorted(steps)
    assert "continue it from its last checkpoint with: python -m trainer resume" in faulted.launch.stderr


@pytest.mark.parametrize("case, file, why", [("record", layout.RECORD, "an input/output error"),
                                              ("ledger", layout.LEDGER, "no space left on the device")])
def test_a_seal_that_cannot_be_written_leaves_the_ledger_as_it_was_and_the_run_resumable(storage, case, file, why):
    faulted = storage[case]  # TRAINBOOK_TEST_FAULT: the record's or the ledger line's write, as the run is sealed
    assert faulted.status == 1
    (line,) = errors(faulted.launch)
    target = faulted.run / file if file == layout.RECORD else faulted.runs / file
    assert line.startswith(f"error: run {faulted.run.name} could not be sealed: cannot write {target}: {why}"), line
    assert "Traceback" not in faulted.launch.stderr
    assert (faulted.runs / layout.LEDGER).read_bytes() == faulted.ledger_before
    assert record(faulted.run)["status"] == "running" and temporaries(faulted.run) == []
    checked = verify(faulted.runs)
    assert checked.returncode == 0 and f"interrupted {faulted.run.name}: interrupted" in checked.stdout


def test_a_full_file_system_fails_the_run_or_leaves_it_unsealed_and_never_damages_the_audit_trail(storage):
    if "full" not in storage:
        pytest.skip(f"cannot mount a {TMPFS_SIZE} tmpfs here: {NO_TMPFS[0]}")
    faulted = storage["full"]  # a real tmpfs of 256 KiB: whatever write meets the full disk first
    assert faulted.status == 1 and "Traceback" not in faulted.launch.stderr, faulted.launch.stderr[-2000:]
    assert re.search(rf"cannot write {re.escape(str(faulted.run))}/\S+: no space left on the device", faulted.launch.stderr)
    lines = ledger.read_lines(faulted.runs)
    assert lines[0] == faulted.ledger_before and len(lines) <= 2 and lines[-1].endswith(b"\n")
    assert temporaries(faulted.run) == []
    assert verify(faulted.runs).returncode == 0


def test_a_runs_folder_removed_while_its_run_trains_is_one_clear_error_and_is_not_made_again(storage):
    faulted = storage["removed"]
    assert faulted.status == 1
    (line,) = errors(faulted.launch)
    assert line.startswith(f"error: run {faulted.run.name} cannot be sealed: its folder {faulted.run} no longer exists")
    assert "Traceback" not in faulted.launch.stderr
    assert not faulted.runs.exists()  # neither the run folder nor a new, empty ledger


# --- read-only folders -----------------------------------------------------------------------

@pytest.fixture
def read_only(storage, tmp_path):
    """The failed metrics run's runs folder, seen through a read-only bind mount (root: chmod would not stop root)."""
    source, view = storage["metrics"].runs, tmp_path / "read-only"
    run = storage["metrics"].run.name
    view.mkdir()
    if os.geteuid() == 0:
        why = mount("--bind", str(source), str(view)) or mount("-o", "remount,bind,ro", str(view))  # mount(8) says why
        if why:
            pytest.skip(f"as root, only a read-only mount makes a folder read-only, and mounting is refused here: {why}")
        yield view, run
        subprocess.run(["umount", str(view)], capture_output=True)
    else:
        shutil.rmtree(view)
        shutil.copytree(source, view)
        for folder in [view, *(p for p in view.iterdir() if p.is_dir())]:
            folder.chmod(0o555)
        yield view, run


def test_a_read_only_runs_folder_is_refused_before_training_with_one_line(read_only, words):
    view, run = read_only
    before = snapshot(view)
    for args in (["run", "--runs-dir", str(view), *small_run(words)[1:]], ["resume", str(view / run)]):
        done = run_cli("trainer", *args)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.splitlines()
        assert re.match(rf"error: {re.escape(str(view))}\S*: the runs? folder (is on a read-only file system|cannot be "
                        r"written by this user)", line), line
    assert snapshot(view) == before


# --- after the fault: space freed, the run resumed ---------------------------------------------

@pytest.fixture(scope="module")
def resumed(storage) -> dict[str, Launch]:
    """The failed and the unsealed runs resumed once the cause is gone (the tmpfs grown to 16 MiB), side by side."""
    if "full" in storage:
        mount("-o", "remount,size=16m", str(storage["full"].runs.parent))
    cases = [c for c in ("metrics", "record", "ledger", "full") if c in storage]
    launches = {c: trainer(storage[c].runs, "resume", str(storage[c].run)) for c in cases}
    for launch in launches.values():
        launch.end()
    return launches


@pytest.mark.parametrize("case", ["metrics", "record", "ledger", "full"])
def test_a_run_resumed_after_the_fault_ends_identical_to_an_uninterrupted_run(storage, resumed, case):
    if case not in resumed:
        pytest.skip(f"cannot mount a {TMPFS_SIZE} tmpfs here: {NO_TMPFS[0]}")
    faulted = storage[case]
    assert resumed[case].proc.returncode == 0, resumed[case].stderr[-2000:]
    assert record(faulted.run)["status"] == "ok"
    assert_same_result(faulted.run, storage["reference"].run, also=("samples.txt", "embeddings.json", "loss.png"))
    assert verify(faulted.runs).returncode == 0


# --- caches: damaged entries are noticed and built again, never used ----------------------------

GPT_CACHED = ["experiments/shakespeare-bpe-gpt.yaml", "data.bpe_merges=40", "model.n_layer=1", "model.n_head=2",
              "model.n_embd=16", "model.block_size=16", "train.batch_size=4", "train.steps=4", "train.eval_interval=4",
              "train.eval_batches=1", "sample.count=1", "sample.max_length=5", "eval.examples=5", "train.threads=1"]
"""a tiny GPT on a learned 40-merge BPE over a short text: it fills the BPE and token-stream caches"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    rng = draw("corpus")
    words = ["mercy", "gentle", "rain", "heaven", "quality", "strained", "droppeth", "place", "beneath", "twice"]
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("".join(" ".join(rng.choice(words) for _ in range(12)) + ".\n" for _ in range(400)))
    return path


def gpt(runs: Path, cache: Path, corpus: Path, *more: str) -> Launch:
    return trainer(runs, "run", *GPT_CACHED, f"data.path={corpus}", *more, env={"TRAINBOOK_CACHE_DIR": str(cache)})


def damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x20
    path.write_bytes(bytes(data[: len(data) - 7]))  # edited and cut short


def test_damaged_token_and_bpe_caches_are_built_again_and_the_run_is_the_same(tmp_path, corpus):
    cache = tmp_path / "cache"
    first = gpt(tmp_path / "first", cache, corpus)
    ranks_source = REPO / ".cache" / "gpt2.tiktoken"
    archives = sorted((REPO / ".cache" / "sdist").glob("openai_whisper-*.tar.gz"))
    side = {}
    if ranks_source.is_file() and archives:  # GPT-2's ranks, damaged in a cache that holds make setup's archive
        (tmp_path / "cache2" / "sdist").mkdir(parents=True)
        shutil.copy(archives[-1], tmp_path / "cache2" / "sdist")
        shutil.copy(ranks_source, tmp_path / "cache2" / "gpt2.tiktoken")
        damage(tmp_path / "cache2" / "gpt2.tiktoken")
        side["gpt2"] = gpt(tmp_path / "gpt2", tmp_path / "cache2", corpus, "data.tokenizer=gpt2")
    (tmp_path / "nowhere").symlink_to(tmp_path / "removed")  # the cache folder a symbolic link to a folder gone
    side["dangling"] = gpt(tmp_path / "dangling", tmp_path / "nowhere", corpus)
    assert first.end() == 0, first.stderr[-2000:]
    entries = sorted(p for p in cache.rglob("*") if p.is_file() and not p.name.endswith(".sha256"))
    assert [p.parent.name for p in entries] == ["bpe", "tokens", "tokens"]  # the vocabulary, train and val streams
    for entry in entries[:2]:
        damage(entry)

    second = gpt(tmp_path / "second", cache, corpus)
    assert second.end() == 0, second.stderr[-2000:]
    for entry in entries[:2]:
        assert f"note: cache entry {entry} no longer has the sha256 recorded when it was built" in second.stderr
    assert record(second.folder)["data"] == record(first.folder)["data"]  # the same tokenizer and streams, by sha256
    assert_same_result(second.folder, first.folder, also=("samples.txt",))
    if "gpt2" in side:
        assert side["gpt2"].end() == 0, side["gpt2"].stderr[-2000:]
        assert re.search(r"note: \S+gpt2.tiktoken was damaged .*; extracted it again from", side["gpt2"].stderr)
    assert side["dangling"].end() == 1
    (line,) = errors(side["dangling"])
    assert line.startswith(f"error: cannot write {tmp_path / 'nowhere' / 'bpe'}: a file, or a symbolic link to nothing, is in the way")
    assert snapshot(tmp_path / "dangling") == {}


def test_a_damaged_hash_cache_is_not_used_so_an_edited_artifact_is_still_caught(synthetic_copy, tmp_path):
    generate(synthetic_copy, tmp_path)
    hashes = tmp_path / "content" / incremental.STATE_DIR / incremental.HashCache.FILE
    run = next(p for p in layout.run_folders(synthetic_copy) if (p / "samples.txt").exists())
    sealed = json.loads((run / layout.RECORD).read_text())["artifacts"]["samples.txt"]["sha256"]
    (run / "samples.txt").write_text("planted\n")
    header, body = hashes.read_text().split("\n", 1)  # what hiding the edit would take: the new stamp with the sealed digest
    saved, st = json.loads(body), (run / "samples.txt").stat()
    saved[os.path.abspath(run / "samples.txt")] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, sealed]
    hashes.write_text(header + "\n" + json.dumps(saved) + "\n")

    log = generate(synthetic_copy, tmp_path)

    assert f"note: {hashes} is damaged" in log
    page = (tmp_path / "content" / "runs" / run.name / "index.md").read_text()
    assert "**Verification failed:**" in page and "samples.txt: edited" in page
    hashes.write_text(hashes.read_text()[:50])  # cut short
    assert f"note: {hashes} is damaged" in generate(synthetic_copy, tmp_path)


# --- publishes killed at seeded points, and publishes started together ---------------------------

EPOCH = "1767225600"
"""SOURCE_DATE_EPOCH of every publish here, so two publishes of the same runs give the same bytes"""


def publish(work: Path, runs: Path, engine: str, plan: str | None = None, on_line=None) -> Launch:
    author_pages(work)
    args = [sys.executable, "-m", "generators.publish", "--engine", engine, "--runs-dir", str(runs),
            "--content", str(work / "content"), "--out", str(work / "mkdocs"), "--destination", str(work / "public")]
    env = {"SOURCE_DATE_EPOCH": EPOCH, **({faults.VARIABLE: plan} if plan else {})}
    return Launch(args, env=env, on_line=on_line)


def site(work: Path) -> dict[str, bytes]:
    """Every file of the built site, and whatever else a publish left beside it."""
    found = snapshot(work / "public")
    found.update({p.name: b"" for p in work.iterdir() if p.name.startswith(".public.") and p.name != ".public.lock"})
    return found


@pytest.fixture(scope="module")
def site_runs(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("site") / "runs"
    make_runs(runs, 3)
    return runs


@pytest.fixture(scope="module")
def clean(tmp_path_factory, site_runs) -> dict[str, tuple[dict, int]]:
    """A clean publish of the same runs by each engine (side by side): its site, and how many persistent writes it made."""
    launches = {e: publish(tmp_path_factory.mktemp(f"clean-{e}"), site_runs, e, "tally=1") for e in ("hugo", "mkdocs")}
    found = {}
    for engine, launch in launches.items():
        assert launch.end() == 0, launch.stderr[-2000:]
        writes = int(re.search(rf"(\d+) {faults.TALLY}", launch.stderr).group(1))
        found[engine] = (site(Path(launch.proc.args[launch.proc.args.index("--destination") + 1]).parent), writes)
    return found


def test_a_refused_write_of_a_page_or_of_the_history_stops_the_publish_naming_it_and_the_next_publish_finishes_it(
        clean, site_runs, tmp_path):
    # TRAINBOOK_TEST_FAULT: a generated page's write fails (ENOSPC); then the rename of the exported history (EIO)
    for plan, file in (("write=index.md,nth=2,errno=ENOSPC", "index.md"), ("write=history,nth=1,errno=EIO", "history")):
        failed = publish(tmp_path, site_runs, "hugo", plan)
        assert failed.end() == 1, failed.stderr[-2000:]
        (line,) = errors(failed)
        assert re.match(rf"error: cannot write {re.escape(str(tmp_path))}/\S*{file}: (no space left on the device|an input/"
                        r"output error)", line), line
        assert "Traceback" not in failed.stderr
    assert not (tmp_path / "public" / "history").exists()  # no history half made: none, as before the export

    assert publish(tmp_path, site_runs, "hugo").end() == 0
    assert site(tmp_path) == clean["hugo"][0]


@pytest.mark.parametrize("engine", ["hugo", "mkdocs"])
def test_a_publish_killed_at_ten_seeded_points_is_finished_by_the_next_to_the_clean_sites_bytes(clean, site_runs, tmp_path, engine):
    reference, writes = clean[engine]
    points = sorted(draw(f"publish kills {engine}").sample(range(2, writes + 1), 9))
    outcomes, done = [], 1
    for point in points:  # each attempt goes on from what the last left: killed where the clean publish was at `point`
        outcomes.append(publish(tmp_path, site_runs, engine, f"kill={point - done + 1}").end())
        done = point
    building = publish(tmp_path, site_runs, engine)  # the tenth: SIGKILL to the publish while Hugo or MkDocs builds
    while not (tmp_path / ".public.build").exists() and building.proc.poll() is None:
        pass  # (the engine's own folder appears when it starts writing)
    building.proc.kill()
    outcomes.append(building.end())

    final = publish(tmp_path, site_runs, engine)  # an engine left running holds the locks: this one waits for it

    assert final.end() == 0, final.stderr[-2000:]
    assert outcomes == [-signal.SIGKILL] * 10, outcomes
    assert site(tmp_path) == reference


def test_two_publishes_started_together_run_one_after_the_other_and_leave_the_site_the_second_made(site_runs, tmp_path):
    more = tmp_path / "more-runs"
    shutil.copytree(site_runs, more)
    make_runs(more, 1, seed=5, start=datetime(2026, 6, 1, tzinfo=timezone.utc))
    work = tmp_path / "together"
    author_pages(work)
    said = threading.Semaphore(0)

    def waiting(launch: Launch, line: str) -> None:
        if "waiting for another publish" in line:
            said.release()
    with site_lock.both(work / "content", work / "public"):  # held here until both publishes wait for it
        launches = [publish(work, runs, "hugo", on_line=waiting) for runs in (site_runs, more)]
        for _ in launches:
            assert said.acquire(timeout=TIMEOUT), [launch.stderr for launch in launches]
        assert not (work / "public").exists()
    assert [launch.end() for launch in launches] == [0, 0]
    holder = (work / "content" / incremental.STATE_DIR / site_lock.STATE_LOCK).read_text().split()[-1]
    order = [site_runs, more] if str(launches[1].proc.pid) == holder else [more, site_runs]  # the last holder went second
    for runs in order:  # the same two publishes, one after the other, as the lock made them
        assert publish(tmp_path / "one-by-one", runs, "hugo").end() == 0

    assert site(work) == site(tmp_path / "one-by-one")


# --- torchrun: the background launches, judged ----------------------------------------------------

def only_run(runs: Path) -> Path:
    (run,) = layout.run_folders(runs)
    return run


def test_sigterm_to_one_torchrun_process_stops_both_at_one_step_with_a_checkpoint_and_seals_the_run_interrupted(rank_faults):
    from trainer.tracking import checkpoint

    launch = rank_faults.term
    assert launch.end() != 0
    assert exit_codes(launch) == {0: 130, 1: 130}, launch.stderr[-3000:]
    run = only_run(rank_faults.term_runs)
    sealed = record(run)
    assert sealed["status"] == "interrupted", sealed["reason"]
    assert re.fullmatch(r"stopped by a signal to another process after step \d+, with a checkpoint there", sealed["reason"])
    assert checkpoint.load(run / layout.CHECKPOINT)["step"] == sealed["stopped_at_step"] < 400
    assert verify(rank_faults.term_runs).returncode == 0


def test_sigkill_to_torchrun_stops_its_processes_at_a_step_boundary_and_the_run_is_sealed_interrupted(rank_faults):
    launch = rank_faults.killed
    assert launch.end() == -signal.SIGKILL  # and end() waited until every process holding its pipes, the workers, ended
    assert set(rank_faults.orphans) == {0, 1} and not any(alive(pid) for pid in rank_faults.orphans.values())
    run = only_run(rank_faults.killed_runs)
    sealed = record(run)
    assert sealed["status"] == "interrupted", sealed["reason"]
    assert re.fullmatch(r"stopped by SIGTERM \(sent as torchrun, which launched this process, died\) after step \d+, "
                        r"with a checkpoint there", sealed["reason"]), sealed["reason"]
    assert verify(rank_faults.killed_runs).returncode == 0


def test_a_torchrun_process_that_hangs_fails_the_run_at_the_collective_timeout_with_a_clear_reason(rank_faults):
    launch = rank_faults.hang  # TRAINBOOK_TEST_FAULT: rank 1 stops answering at step 5
    assert launch.end() != 0
    assert f"{faults.VARIABLE}: rank 1 hangs at step 5" in launch.stderr
    sealed = record(only_run(rank_faults.hang_runs))
    assert sealed["status"] == "failed"
    assert sealed["reason"] == (f"rank 0 failed: no answer from the other processes for {HANG_TIMEOUT_S} s "
                                "($TRAINBOOK_COLLECTIVE_TIMEOUT_S): one of them hangs or stopped without a word")
    assert verify(rank_faults.hang_runs).returncode == 0


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
