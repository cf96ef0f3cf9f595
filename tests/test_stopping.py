"""A training loop's step boundary: checkpoints on the cadence and at the end, and a clean stop with a checkpoint."""
from __future__ import annotations

import pytest

from trainer.runtime import stopping
from trainer.runtime.stopping import StopRequested, step_boundary


def test_a_step_boundary_saves_every_interval_and_after_the_last_step():
    saved: list[int] = []
    for done in range(1, 8):
        step_boundary(done, 7, 3, saved.append)
    assert saved == [3, 6, 7]
    saved.clear()
    for done in range(1, 8):
        step_boundary(done, 7, 0, saved.append)
    assert saved == [7]


def test_a_signal_stops_at_the_next_boundary_with_one_checkpoint_there(monkeypatch):
    monkeypatch.setattr(stopping, "_requested", "SIGTERM")  # what the handler sets inside stopping.graceful()
    for done in (4, 6):  # between checkpoints, and on one: saved once either way
        saved: list[int] = []
        with pytest.raises(StopRequested, match=f"stopped by SIGTERM after step {done}") as raised:
            step_boundary(done, 7, 3, saved.append)
        assert saved == [done] and raised.value.step == done
    saved = []
    step_boundary(7, 7, 3, saved.append)  # after the last step the run simply ends
    assert saved == [7]
