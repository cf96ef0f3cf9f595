"""Training progress for people: a tqdm bar on a terminal, plain log lines otherwise.

Both go to standard error, so standard output stays free for the run folder's path. The command line
shows them; a library call (`trainer.run(...)`) shows nothing unless asked (`progress=True`): `shown`
switches both the bars and the session's notes (`note`) for the calls inside it.
"""
from __future__ import annotations

import contextlib
import sys
import time

from tqdm import tqdm

_shown = True


@contextlib.contextmanager
def shown(on: bool):
    """Within this block, progress bars, log lines and notes are printed only if `on`."""
    global _shown
    before, _shown = _shown, on
    try:
        yield
    finally:
        _shown = before


def showing() -> bool:
    """Whether progress is shown here (the command line), or silenced (a library call)."""
    return _shown


def note(line: str) -> None:
    """A line for the person watching (a run started, a warning), on standard error when progress is shown."""
    if _shown:
        print(line, file=sys.stderr, flush=True)


class Progress:
    def __init__(self, total: int, start: int, desc: str, log_interval: int):
        self.total, self.log_interval, self.desc = total, log_interval, desc
        self.silent = not _shown
        self.interactive = sys.stderr.isatty() and not self.silent
        self.bar = tqdm(total=total, initial=start, desc=desc, unit="step", dynamic_ncols=True) if self.interactive else None
        self._t, self._step = time.monotonic(), start

    def update(self, step: int, **values: float) -> None:
        """Report that `step` steps are done; `values` are shown beside the count."""
        if self.silent:
            return
        formatted = {k: f"{v:.4f}" if isinstance(v, float) else v for k, v in values.items()}
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(formatted, refresh=False)
        elif step % self.log_interval == 0 or step == self.total:
            now = time.monotonic()
            rate = (step - self._step) / max(now - self._t, 1e-9)
            self._t, self._step = now, step
            pairs = " ".join(f"{k} {v}" for k, v in formatted.items())
            print(f"{self.desc} step {step}/{self.total} {pairs} {rate:.1f} steps/s", file=sys.stderr, flush=True)

    def write(self, line: str) -> None:
        if self.silent:
            return
        (self.bar.write if self.bar is not None else lambda s: print(s, file=sys.stderr, flush=True))(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
