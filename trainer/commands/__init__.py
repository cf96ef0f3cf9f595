"""The trainer's commands, one module each: the command line's thin layer over the Python API (trainer/api/).
`trainer/cli.py` holds the parser that dispatches to them.

A command turns its arguments into one API call, prints what the call found, and returns its exit status:
0 success; 1 a run that failed, a verification or reproduction that found a difference, or a failed gate;
2 a mistake in the command, the config, the data or a run folder given to it (nothing is written; the API
raised a UsageError, which cli.py prints); 130 a run interrupted by a signal.
"""
import os
import sys
from collections.abc import Callable

from ..api.results import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from ..errors import UsageError
from ..tracking.files import StorageError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "guarded", "share_of_cores"]


def guarded(command: Callable[[], int]) -> int:
    """`command`'s exit status, with the refusals every command shares said in one line: the command line's whole
    command, and each experiment of a `trainer run --jobs` worker."""
    try:
        return command()
    except UsageError as e:
        # Under torchrun every process refuses alike, and every one says so: torchrun stops the others as soon as
        # the first exits, so a refusal left to rank 0 alone was lost whenever rank 1 was quicker.
        print(f"error: {e}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except StorageError as e:  # a write refused outside a run's training (its start, a resume's record): nothing sealed
        print(f"error: {e}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    except KeyboardInterrupt:  # before a run exists (loading data, building the model): nothing to seal
        print("interrupted before training started; nothing was written", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def share_of_cores(processes: int) -> int:
    """The torch threads of each of `processes` processes sharing this machine's cores (at least one)."""
    return max(1, (os.cpu_count() or 1) // processes)
