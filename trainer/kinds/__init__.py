"""Experiment kinds written only against the public API (`trainer.plugin`, `trainer`, `trainer.figures.style`).

Each kind is a package: `__init__` holds its schema and `SPEC` (torch- and matplotlib-free, so the config loader
and the site generators can import it), the modules beside it train. The registry finds each spec by its import
path (trainer/engines/registry.py, KINDS), the same door other packages' engines come through.
"""
