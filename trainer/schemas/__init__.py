"""The experiment schemas: one module per engine, and `common` for the sections they share.

Each schema is a tree of dataclasses whose fields carry a type, an optional range and a docstring
written under them (read by `config.field_docs`, so the same text documents the field on the site).
Which schema an experiment file uses is decided by its `model.type`, through the engine registry
(`trainer/engines/registry.py`). Torch-free.
"""
