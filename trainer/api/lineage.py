"""What a resumed run and a reproduction check against the run they continue or repeat (torch-free)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from .. import reproduction
from ..errors import ConfigError
from ..tracking import layout
from ..tracking.run import Run


def same_data(prepared, record: dict, source: str, doing: str = "resuming") -> None:
    """Refuse (before training) when the data is not the data the run was trained on."""
    now, then = prepared.data_record, record.get("data") or {}
    for key in ("sha256", "tokenizer"):
        a, b = now.get(key), then.get(key)
        a, b = (a.get("sha256"), b.get("sha256")) if isinstance(a, dict) and isinstance(b, dict) else (a, b)
        if a != b:
            raise ConfigError(source, f"data.{key}", f"differs from the run's (now {a}, recorded {b}); "
                              f"{doing} on other data would not continue the same run")


def seal_hook(record: dict) -> Callable[[Run], None] | None:
    """For a reproduction's record: the step that compares it with its original before it is sealed."""
    pending = record.get("reproduction")
    if not isinstance(pending, dict) or not pending.get("of"):
        return None

    def judge(run: Run) -> None:
        status = run.record["status"]
        if status == "interrupted":
            return  # judged when it is resumed and finishes
        if status == "failed":
            verdict = {"verdict": reproduction.DIVERGED, "summary": f"diverged: the reproduction failed ({run.record['reason']})"}
        else:
            folder = Path(pending["folder"])
            original_record = json.loads((folder / layout.RECORD).read_text())
            tolerance = pending.get("tolerance") or {}
            comparison = reproduction.compare(folder, run.path, original_record, run.record,
                                              tolerance.get("rtol", reproduction.RTOL), tolerance.get("atol", reproduction.ATOL))
            verdict = reproduction.as_record(comparison)
        kept = {k: v for k, v in pending.items() if k != "folder"}  # a local path: only needed until judged
        run.record["reproduction"] = {**kept, **verdict}

    return judge
