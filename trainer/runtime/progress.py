"""Training progress for people: a tqdm bar on a terminal, plain log lines otherwise.

Both go to standard error, so standard output stays free for the run folder's path.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, start: int, desc: str, log_interval: int):
        self.total, self.log_interval, self.desc = total, log_interval, desc
        self.interactive = sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=start, desc=desc, unit="step", dynamic_ncols=True) if self.interactive else None
        self._t, self._step = time.monotonic(), start

    def update(self, step: int, **values: float) -> None:
        """Report that `step` steps are done; `values` are shown beside the count."""
        shown = {k: f"{v:.4f}" if isinstance(v, float) else v for k, v in values.items()}
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(shown, refresh=False)
        elif step % self.log_interval == 0 or step == self.total:
            now = time.monotonic()
            rate = (step - self._step) / max(now - self._t, 1e-9)
            self._t, self._step = now, step
            pairs = " ".join(f"{k} {v}" for k, v in shown.items())
            print(f"{self.desc} step {step}/{self.total} {pairs} {rate:.1f} steps/s", file=sys.stderr, flush=True)

    def write(self, line: str) -> None:
        (self.bar.write if self.bar is not None else lambda s: print(s, file=sys.stderr, flush=True))(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
