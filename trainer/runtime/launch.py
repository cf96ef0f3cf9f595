"""How this process was launched: alone, or as one of torchrun's processes. Torch-free (read from the
environment torchrun sets), so a command can refuse a launch before it pays for `import torch`."""
from __future__ import annotations

import os


def processes() -> int:
    """How many processes torchrun started for this command (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank (0 without torchrun)."""
    return int(os.environ.get("RANK", "0"))
