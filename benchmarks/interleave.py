"""Measuring contenders side by side on a shared machine: interleaved rounds, medians and spreads.

A machine shared with other work drifts: whatever runs first in a quiet minute looks faster. So
every contender runs once per round, the order reverses every other round (A B C, C B A, A B C, ...),
so that no contender always follows the same neighbour or always goes first, and a comparison is
made within each round and summarised over rounds by its median and its range. The load average
before and after says how busy the machine was.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class Contender:
    name: str
    run: Callable[[], dict]
    """one measurement: a dict of numbers (and strings), the same keys every time"""


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} CPUs)"


def run_rounds(contenders: list[Contender], rounds: int) -> dict[str, list[dict]]:
    """Each contender's results, one per round, measured in alternating order."""
    results: dict[str, list[dict]] = {c.name: [] for c in contenders}
    for r in range(rounds):
        order = contenders if r % 2 == 0 else contenders[::-1]
        for c in order:
            print(f"round {r + 1}/{rounds}: {c.name} (load {load_average()})", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            results[c.name].append(c.run())
            print(f"round {r + 1}/{rounds}: {c.name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return results


@dataclass
class Spread:
    median: float
    low: float
    high: float
    values: list[float]

    def show(self, fmt: str = "{:.2f}", unit: str = "") -> str:
        each = ", ".join(fmt.format(v) for v in self.values)
        return f"{fmt.format(self.median)}{unit} (range {fmt.format(self.low)}-{fmt.format(self.high)}{unit}; rounds: {each})"


def spread(values: list[float]) -> Spread:
    return Spread(statistics.median(values), min(values), max(values), list(values))


def per_round(results: dict[str, list[dict]], name: str, key: str) -> Spread:
    return spread([r[key] for r in results[name]])


def ratio(results: dict[str, list[dict]], top: tuple[str, str], bottom: tuple[str, str]) -> Spread:
    """(top contender's key) / (bottom contender's key) within each round, over rounds."""
    (a, ka), (b, kb) = top, bottom
    return spread([x[ka] / y[kb] for x, y in zip(results[a], results[b])])
