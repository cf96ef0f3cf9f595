"""The mistakes a person can make, as exceptions carrying the one line the command line prints.

`UsageError` is every refusal that exits with status 2 and writes nothing: a bad command, a run folder
that is not a run, a busy run, a foreign checkpoint. `ConfigError` is the kind that points into an
experiment's settings (the file and the dotted key). Library calls raise them; only the command line
turns them into `error: ...` and an exit status.
"""
from __future__ import annotations

from . import credentials


class UsageError(Exception):
    """A mistake in what was asked for, worded for the person who made it: where, which key, and what would do."""

    def __init__(self, source: str, key: str, message: str):
        # Redacted: a message may quote the value it refuses, and that value may hold a password.
        self.source, self.key, self.message = credentials.redact(source), credentials.redact(key), credentials.redact(message)
        where = f"{self.source}: {self.key}" if key else self.source
        super().__init__(f"{where}: {self.message}")


class ConfigError(UsageError):
    """A mistake in an experiment's settings or in the data they name: the file, the dotted key, what was expected."""
