"""A run's page while it trains, through `make serve`'s watch server (generators/watch.py), in a real Chromium.

A real names-mlp run trains in one process and the real watch server publishes and serves the runs folder in
another. The run's page shows its step and its curve growing without a reload; the home and experiment pages
list it as training; when the run is stopped (SIGTERM: sealed as interrupted, with a checkpoint) the page turns
into the run's sealed page by itself. Nothing sleeps for timing: every wait is for something a reader would see,
under a deadline.
"""
from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.sitebuild import author_pages
from tests.test_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
DEADLINE = 180
LONG = ["train.steps=100000", "train.eval_interval=2000", "train.checkpoint_interval=0", "train.threads=1", "sample.count=1"]
"""names-mlp for far longer than the test: it logs a row every 50 steps and is stopped by the test"""


class Process:
    """A real process whose standard error is read line by line as it comes, killed at the end if still alive."""

    def __init__(self, args: list[str], env: dict | None = None):
        self.proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env={**os.environ, **(env or {})}, text=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stderr], daemon=True).start()

    def wait_for(self, pattern: str) -> re.Match:
        """The first line of standard error matching `pattern` (a failure if the process ends or DEADLINE passes first)."""
        while True:
            try:
                line = self.lines.get(timeout=DEADLINE)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {DEADLINE} s:\n{''.join(self.seen[-20:])}") from None
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def watch(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    authored = author_pages(tmp_path / "authored")
    server = Process(["-m", "generators.watch", "--runs-dir", str(runs), "--work", str(tmp_path / "live"),
                      "--content", str(authored), "--port", "0"])
    base = server.wait_for(r"serving (http://127\.0\.0\.1:\d+/)").group(1)
    yield runs, base, server
    server.stop()


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield chromium.new_context(viewport={"width": 1280, "height": 900})
        chromium.close()


STEP = "el => Number((el.textContent.match(/step ([\\d,]+)/) || [0, '0'])[1].replace(/,/g, ''))"
POINTS = "el => Number((el.getAttribute('data-points') || '0').split(' ')[0])"


@pytest.mark.slow
def test_a_running_runs_page_follows_it_without_a_reload_then_becomes_its_sealed_page(watch, browser):
    runs, base, server = watch
    trainer = Process(["-m", "trainer", "run", "experiments/names-mlp.yaml", *LONG], env={"TRAINBOOK_RUNS_DIR": str(runs)})
    try:
        run = Path(trainer.wait_for(r"started in (\S+)").group(1)).name
        url = f"{base}runs/{run}/"
        server.wait_for(r"published 1 runs? \(1 training\)")

        page = browser.new_page()
        page.goto(url)
        page.evaluate("window.sameDocument = true")  # gone if the page reloads
        progress, chart = page.locator('[data-live-field="progress"]'), page.locator(".curves-live.chart")
        page.wait_for_function(f"() => ({STEP})(document.querySelector('[data-live-field=progress]')) > 0", timeout=DEADLINE * 1000)
        chart.wait_for(timeout=DEADLINE * 1000)
        step, points = progress.evaluate(STEP), chart.evaluate(POINTS)
        assert re.search(r"step [\d,]+ of 100,000", progress.inner_text())
        page.wait_for_function(f"s => ({STEP})(document.querySelector('[data-live-field=progress]')) > s", arg=step,
                               timeout=DEADLINE * 1000)
        page.wait_for_function(f"p => ({POINTS})(document.querySelector('.curves-live.chart')) > p", arg=points,
                               timeout=DEADLINE * 1000)
        assert page.evaluate("window.sameDocument") is True  # it grew in place

        other = browser.new_page()
        for listing in ("", "experiments/names-mlp/"):
            other.goto(base + listing)
            assert run in other.locator("main").inner_text() and "Training now" in other.locator("main").inner_text()

        trainer.proc.send_signal(signal.SIGTERM)
        assert trainer.proc.wait(timeout=DEADLINE) == 130  # stopped at a step boundary, checkpointed, sealed
        page.locator(".status-interrupted").first.wait_for(timeout=DEADLINE * 1000)
        assert page.evaluate("window.sameDocument") is None  # it reloaded itself into the sealed page
        assert page.locator("[data-live]").count() == 0 and page.locator("text=Audit record").count() >= 1
    finally:
        trainer.stop()
