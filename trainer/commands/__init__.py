"""The trainer's commands, one module each: the command line's thin layer over the Python API (trainer/api/).
`trainer/cli.py` holds the parser that dispatches to them.

A command turns its arguments into one API call, prints what the call found, and returns its exit status:
0 success; 1 a run that failed, a verification or reproduction that found a difference, or a failed gate;
2 a mistake in the command, the config, the data or a run folder given to it (nothing is written; the API
raised a UsageError, which cli.py prints); 130 a run interrupted by a signal.
"""
from ..api.results import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE"]
