import sys

from .cli import main

code = main()
distributed = sys.modules.get(f"{__package__}.runtime.distributed")  # imported only by the commands that train
if distributed is not None:
    distributed.leave(code)
sys.exit(code)
