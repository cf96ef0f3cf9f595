"""What a run tells another tool about itself, worked out once for every tool: its parameters (the resolved
config, flattened to dotted keys), its tags, its metric rows, its final metrics, the files worth attaching,
and whether it verifies against its ledger. Read through the run-folder contract. Torch-free.
"""
from __future__ import annotations

import json
import posixpath
import re
from datetime import datetime
from pathlib import Path

from .. import credentials
from ..config import flatten
from ..tracking import integrity, layout

FINAL = "final/"
"""prefix of the record's final metrics among the per-step ones (`val_loss` per step, `final/val_loss` once)"""


def flatten_config(record: dict) -> dict:
    """The resolved config as dotted keys -> values."""
    return flatten(record.get("config") or {})


def params(record: dict) -> dict[str, str]:
    """The resolved config as dotted keys -> text: strings as written, everything else as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            for key, value in flatten_config(record).items()}


def tags(record: dict) -> dict[str, str]:
    """Facts a tracker shows beside the run, under `trainbook.`: which run, experiment and engine, how it ended."""
    code, config = record.get("code") or {}, record.get("config") or {}
    found = {
        "trainbook.run_id": record.get("run_id"), "trainbook.experiment": record.get("experiment"),
        "trainbook.kind": record.get("kind"), "trainbook.model_type": (config.get("model") or {}).get("type"),
        "trainbook.status": record.get("status"), "trainbook.reason": record.get("reason"),
        "trainbook.config_sha256": record.get("config_sha256"), "trainbook.commit": code.get("commit"),
        "trainbook.dirty": code.get("dirty"), "trainbook.tags": ", ".join(map(str, config.get("tags") or [])) or None,
        "trainbook.source": (record.get("source") or {}).get("file"),
    }
    return {k: credentials.redact(str(v)) for k, v in found.items() if v not in (None, "")}


def number(value) -> float | None:
    """A metric value a tracker can hold: a real number (bools and text are not metrics); NaN and infinities kept."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def points(rows: list[dict]) -> list[tuple[str, int, float]]:
    """(key, step, value) for every metric value of every row, in row order."""
    found = []
    for row in rows:
        step = row.get("step")
        if not isinstance(step, int) or isinstance(step, bool):
            continue
        for key, value in row.items():
            value = number(value) if key != "step" else None
            if value is not None:
                found.append((key, step, value))
    return found


def finals(record: dict, rows: list[dict]) -> list[tuple[str, int, float]]:
    """The record's final metrics, as FINAL-prefixed points at the run's last step."""
    last = max((r["step"] for r in rows if isinstance(r.get("step"), int)), default=0)
    return [(FINAL + key, last, v) for key, value in sorted((record.get("metrics") or {}).items())
            if (v := number(value)) is not None]


def epoch(iso: str | None) -> float | None:
    """Seconds since the epoch of a record's ISO time, or None."""
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


def verification(folder: Path) -> str:
    """`verified (ledger line N)`, or what is wrong: the words a tracker's tag shows."""
    problems = integrity.verify_run(folder)
    if problems:
        return "does not verify: " + "; ".join(problems[:5])
    seal = (layout.RunFolder.open(folder).record.get("sealed") or {})
    return f"verified (sealed by ledger line {seal.get('ledger_line')})"


def attachments(run: layout.RunFolder) -> list[Path]:
    """The files a tracker keeps as the run's artifacts: what its page publishes (record, config, metrics, figures,
    samples, model files), never a whole checkpoint."""
    return [p for p in run.published_files() if p.is_file()]


SAFE_KEY = re.compile(r"[^/\w.\- :]")


def key_for(name: str) -> str:
    """A metric key trackers accept (letters, digits, `_ - . / : space`, a path without empty or dot parts);
    anything else becomes `_`."""
    cleaned = SAFE_KEY.sub("_", str(name)) or "_"
    return cleaned if posixpath.normpath(cleaned) == cleaned and not cleaned.startswith((".", "/")) else cleaned.replace("/", "_").replace(".", "_")
