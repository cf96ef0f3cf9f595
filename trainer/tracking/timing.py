"""What in a run measures the machine rather than the model: the one list that says so.

Two runs of the same config on the same machine train the same model, but their step times
differ. Everything that carries such a measurement is declared here, and only here: the
reproduction check (`python -m trainer reproduce`), the tests and the engines that log
these values all read it from this module. An engine that logs a new timing metric or writes a
new file that embeds one adds it here. Torch-free.
"""
from __future__ import annotations

from . import layout

METRICS = frozenset({
    "step_ms",          # wall-clock milliseconds per training step
    "tokens_per_s",     # training throughput
    "steps_per_s",      # training (or environment) steps per second
    "mfu",              # model FLOPs utilisation: throughput over the device's peak
    "peak_memory_gib",  # the allocator's high-water mark, which depends on the device and its caching
})
"""Metric keys (in metrics.jsonl rows and in the record's final metrics) that time the machine."""

FILES = {
    layout.THROUGHPUT_FIGURE: "plots tokens per second at each logged step",
    layout.METRICS: "holds the timing columns; compared row by row without them instead",
    layout.CHECKPOINT: "holds the run's elapsed time; compared tensor by tensor without it instead",
    layout.BEST: "holds the run's elapsed time; compared tensor by tensor without it instead",
}
"""Artifacts whose bytes embed timing, and why; `CONTENT_COMPARED` says which are compared another way."""

CONTENT_COMPARED = frozenset({layout.METRICS, layout.CHECKPOINT, layout.BEST})
"""Timing-bearing files whose content is still compared, without the timing values."""

CHECKPOINT_KEYS = frozenset({"loop.elapsed_s", "elapsed_s"})
"""Dotted keys of a checkpoint's state that hold the run's elapsed wall-clock time."""


def model_values(row: dict) -> dict:
    """A metrics row or final-metrics mapping without its timing values."""
    return {k: v for k, v in row.items() if k not in METRICS}
