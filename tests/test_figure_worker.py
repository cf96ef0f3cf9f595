"""The publish's figure worker (trainer.figures.parallel.FigureWorker): a forked process that imports the figure
code while the publish renders pages, then draws the figures it is sent, with the bytes drawn in place."""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from generators import figures
from trainer.figures import parallel
from trainer.tracking.files import StorageError, write_text


def write_words(words: list[str], path: Path, suffix: str = "") -> None:
    write_text(path, " ".join(words) + suffix, make_folder=False)


def write_pid(path: Path) -> None:
    write_text(path, str(os.getpid()), make_folder=False)


def say_pid_then_hang(pid_out: int, gate: int, parent: int, path: Path) -> None:
    """In a drawer: say its pid, then wait on a gate nobody opens; drawn by the parent, just write."""
    if os.getpid() != parent:
        os.write(pid_out, str(os.getpid()).encode())
        os.read(gate, 1)
    write_text(path, "drawn", make_folder=False)


def fail(path: Path) -> None:
    raise ValueError(f"cannot draw {path.name}")


def nothing() -> None:
    pass


def test_figures_drawn_by_the_worker_are_the_bytes_drawn_in_place(tmp_path, monkeypatch):
    values = [2.9, 2.7, 2.75, 2.5, 2.41]
    (tmp_path / "worker").mkdir()
    (tmp_path / "here").mkdir()
    with parallel.FigureWorker(figures.prepare) as worker:
        assert worker._process is not None and worker._process.pid != os.getpid()
        worker.submit([(parallel.Figure(figures.draw_sparkline, values), tmp_path / "worker" / "spark.png"),
                       (parallel.Figure(write_words, ["a", "b"], suffix="!"), tmp_path / "worker" / "words.txt")])
        worker.wait()
    monkeypatch.setattr(parallel.multiprocessing, "get_all_start_methods", lambda: ["spawn"])  # no fork: drawn in place
    with parallel.FigureWorker(figures.prepare) as here:
        assert here._process is None
        here.submit([(parallel.Figure(figures.draw_sparkline, values), tmp_path / "here" / "spark.png")])
        here.wait()
    assert (tmp_path / "worker" / "spark.png").read_bytes() == (tmp_path / "here" / "spark.png").read_bytes()
    assert (tmp_path / "worker" / "words.txt").read_text() == "a b!"


def test_figures_are_shared_between_two_drawers_and_the_parent_draws_none(tmp_path):
    with parallel.FigureWorker(nothing) as worker:
        worker.submit([(parallel.Figure(write_pid), tmp_path / f"{i}.pid") for i in range(4)])
        worker.wait()
    drawers = [int((tmp_path / f"{i}.pid").read_text()) for i in range(4)]
    assert len(set(drawers)) == parallel.DRAWERS == 2 and os.getpid() not in drawers
    assert drawers[0] == drawers[2] and drawers[1] == drawers[3]  # in turn


def test_a_figure_that_fails_in_the_worker_fails_the_wait_and_names_the_error(tmp_path):
    with parallel.FigureWorker(nothing) as worker:
        worker.submit([(parallel.Figure(fail), tmp_path / "history.png")])
        with pytest.raises(RuntimeError, match="drawing figures failed: ValueError: cannot draw history.png"):
            worker.wait()


def test_a_refused_write_in_the_worker_is_the_same_storage_error(tmp_path):
    with parallel.FigureWorker(nothing) as worker:
        worker.submit([(parallel.Figure(write_words, ["x"]), tmp_path / "no-such-folder" / "words.txt")])
        with pytest.raises(StorageError, match="no-such-folder"):
            worker.wait()


def test_a_worker_that_dies_leaves_its_figures_to_the_parent(tmp_path, capfd):
    gate_read, gate_write = os.pipe()
    worker = parallel.FigureWorker(lambda: os.read(gate_read, 1))  # still preparing: nothing drawn yet
    worker.submit([(parallel.Figure(write_words, ["drawn", "here"]), tmp_path / "words.txt")])
    os.kill(worker._process.pid, signal.SIGKILL)
    worker.wait()
    os.close(gate_read)
    os.close(gate_write)
    assert (tmp_path / "words.txt").read_text() == "drawn here"
    assert "figure process ended without a result" in capfd.readouterr().err


def test_a_batch_bigger_than_the_pipe_does_not_wait_for_the_workers_imports(tmp_path):
    gate_read, gate_write = os.pipe()
    worker = parallel.FigureWorker(lambda: os.read(gate_read, 1))  # prepares until the gate opens
    words = [f"word{i}" for i in range(200_000)]  # about 2 MB pickled, far more than a pipe holds
    submitting = threading.Thread(target=worker.submit, args=([(parallel.Figure(write_words, words), tmp_path / "big.txt")],))
    submitting.start()
    submitting.join(timeout=30)
    assert not submitting.is_alive(), "submit blocked until the worker read its batch"
    os.write(gate_write, b"x")
    worker.wait()
    os.close(gate_read)
    os.close(gate_write)
    assert (tmp_path / "big.txt").read_text().split() == words


def test_closing_without_waiting_ends_the_worker(tmp_path):
    gate_read, gate_write = os.pipe()
    worker = parallel.FigureWorker(lambda: os.read(gate_read, 1))
    process = worker._process
    worker.submit([(parallel.Figure(write_words, ["never"]), tmp_path / "words.txt")])
    worker.close()
    os.close(gate_read)
    os.close(gate_write)
    assert not process.is_alive() and process.exitcode is not None
    assert not (tmp_path / "words.txt").exists()


@pytest.fixture
def hung_second_drawer(tmp_path):
    """A worker whose second drawer hangs in its first figure ("second.txt", after "first.txt" went to the first
    drawer), and that drawer's pid."""
    pid_read, pid_write = os.pipe()
    gate_read, gate_write = os.pipe()
    worker = parallel.FigureWorker(nothing)
    worker.submit([(parallel.Figure(write_words, ["first"]), tmp_path / "first.txt"),
                   (parallel.Figure(say_pid_then_hang, pid_write, gate_read, os.getpid()), tmp_path / "second.txt")])
    yield worker, int(os.read(pid_read, 32))
    worker.close()
    for fd in (pid_read, pid_write, gate_read, gate_write):
        os.close(fd)


def wait_returns(worker: parallel.FigureWorker, why: str) -> None:
    """`worker.wait()`, which must return (in a thread, so that a wait that never would fails the test instead)."""
    waiting = threading.Thread(target=worker.wait)
    waiting.start()
    waiting.join(timeout=60)
    assert not waiting.is_alive(), why


def test_a_second_drawer_that_dies_mid_figure_leaves_its_figures_to_the_parent(tmp_path, capfd, hung_second_drawer):
    worker, drawer = hung_second_drawer
    assert drawer not in (os.getpid(), worker._process.pid)
    os.kill(drawer, signal.SIGKILL)
    wait_returns(worker, "wait() never learned that the drawer died")
    assert (tmp_path / "first.txt").read_text() == "first" and (tmp_path / "second.txt").read_text() == "drawn"
    assert "figure process ended without a result" in capfd.readouterr().err


def test_the_other_drawer_still_gets_its_end_when_one_died_before_its_figures_were_sent(tmp_path, capfd, hung_second_drawer):
    worker, drawer = hung_second_drawer
    os.kill(drawer, signal.SIGKILL)
    worker.submit([(parallel.Figure(write_words, [f"w{i}"]), tmp_path / f"{i}.txt") for i in range(2, 8)])  # half to the dead one
    wait_returns(worker, "the live drawer never got its end")
    assert [(tmp_path / f"{i}.txt").read_text() for i in range(2, 8)] == [f"w{i}" for i in range(2, 8)]
    assert "figure process ended without a result" in capfd.readouterr().err
