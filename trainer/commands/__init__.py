"""The trainer's commands, one module each; `trainer/cli.py` holds the parser that dispatches to them.

Every command returns its exit status: 0 success; 1 a run that failed, a verification or
reproduction that found a difference, or a failed gate; 2 a mistake in the command, the config,
the data or a run folder given to it (nothing is written); 130 a run interrupted by a signal.

The commands that train reach torch through `session()` only, after every check that can refuse
without it, so a typo never waits for `import torch`.
"""
import importlib
from types import ModuleType

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def session() -> ModuleType:
    """The training session (commands/training.py): the one gate through which a command imports torch."""
    return importlib.import_module(f"{__name__}.training")
