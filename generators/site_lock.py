"""The locks a publish holds, so that two publishes never write one site at the same time.

One lock guards the generators' state and pages (the content folder for Hugo, the MkDocs output
folder), one the built site (the destination, e.g. public/). `python -m generators` takes the first,
`python -m generators.hugo_build` both, `python -m generators.history export` the second, and
`python -m generators.publish` (what `make publish` runs) both for all three steps, so a second
publish waits until the first is done and the site is never a mix of two. A lock is an `flock`: it
dies with its process, so a killed publish never blocks the next one (see trainer/tracking/locks.py).
Torch-free.
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Iterator

from trainer.tracking import locks

from .incremental import STATE_DIR

STATE_LOCK = "publish.lock"


def _waiting(folder: Path):
    return lambda holder: print(f"waiting for another publish ({holder}) to finish with {folder}", file=sys.stderr, flush=True)


def state(folder: Path) -> contextlib.AbstractContextManager[int]:
    """The lock on a generators' state folder (content/ for Hugo, the MkDocs output folder); yields its descriptor."""
    (folder / STATE_DIR).mkdir(parents=True, exist_ok=True)
    return locks.exclusive(folder / STATE_DIR / STATE_LOCK, _waiting(folder))


def site(destination: Path) -> contextlib.AbstractContextManager[int]:
    """The lock on a built site's folder, kept beside it (a full build replaces the folder whole)."""
    destination = destination.resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    return locks.exclusive(destination.with_name(f".{destination.name}.lock"), _waiting(destination))


@contextlib.contextmanager
def both(state_folder: Path, destination: Path) -> Iterator[tuple[int, int]]:
    """Both locks, always taken in the same order (state, then site), so two publishes cannot wait on each other."""
    with state(state_folder) as first, site(destination) as second:
        yield first, second
