"""An engine's training in this process, as the session runs it: seeded, prepared, into a real run folder; and the
check that a run stopped by a signal and resumed from its checkpoint is the run that was never stopped."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch

from trainer import config
from trainer.runtime import seeding, stopping
from trainer.tracking import checkpoint, layout, timing
from trainer.tracking.run import Run


def start_run(root: Path, cfg, engine: ModuleType, source: str):
    """(prepared, run): the engine prepared after seeding as `api.session.prepare` seeds, and a new run folder."""
    seeding.seed_everything(cfg.seed)
    prepared = engine.prepare(cfg, source)
    run = Run.create(root, experiment=cfg.name, config=config.to_dict(cfg), config_sha256=config.config_sha256(cfg),
                     config_yaml=config.dump_yaml(cfg), source=source, overrides=[], seeds={}, data={})
    return prepared, run


def stop_after(monkeypatch, steps: int) -> None:
    """Make the clean-stop flag read as if SIGTERM had arrived during step `steps` (it is read after every step)."""
    calls = []

    def requested(world=None):
        calls.append(1)
        return "SIGTERM" if len(calls) == steps else None

    monkeypatch.setattr(stopping, "requested", requested)


def assert_resume_continues_exactly(tmp_path: Path, monkeypatch, engine: ModuleType, cfg, source: str, stop_at: int,
                                    compared: tuple[str, ...]) -> None:
    """Train `cfg` straight through; train it again, stopped after step `stop_at`, then resumed by fresh objects with
    every global RNG disturbed; the metrics, final metrics, the `compared` artifacts and the last checkpoint's tensors
    must be the same."""
    prepared, straight = start_run(tmp_path / "straight", cfg, engine, source)
    final_straight = engine.train(prepared, straight)

    prepared, stopped = start_run(tmp_path / "stopped", cfg, engine, source)
    stop_after(monkeypatch, stop_at)
    with pytest.raises(stopping.StopRequested) as raised:
        engine.train(prepared, stopped)
    monkeypatch.undo()
    state = checkpoint.load(stopped.file(layout.CHECKPOINT))
    assert raised.value.step == state["step"] == stop_at

    seeding.seed_everything(12345)
    fresh = engine.prepare(cfg, source)
    final_resumed = engine.train(fresh, Run.open(stopped.path), resume=state)

    rows = [layout.read_metrics(run.file(layout.METRICS)) for run in (straight, stopped)]
    assert [timing.model_values(r) for r in rows[0]] == [timing.model_values(r) for r in rows[1]]
    assert timing.model_values(final_resumed) == timing.model_values(final_straight)
    for name in compared:
        assert straight.file(name).read_bytes() == stopped.file(name).read_bytes(), name
    a, b = (torch.load(run.file(layout.CHECKPOINT), weights_only=True)["model"] for run in (straight, stopped))
    assert all(torch.equal(a[k], b[k]) for k in a)
