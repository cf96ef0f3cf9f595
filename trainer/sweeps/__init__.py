"""Sweeps: a search space over an experiment's settings, searched by Optuna, every trial a sealed run.

- `space`    the sweep file: parameters, method, objective, budget, workers, pruner, seed, each checked
             against the base experiment's schema before anything runs
- `study`    the Optuna study in the sweep's folder (journal file storage): samplers, pruners, the summary
- `pruning`  inside a trial: intermediate metrics reported to the study, a pruned trial stopped
- `backends` where trials run: local processes, or tasks on a Ray cluster

The sweep folder is sealed like a run (a record, a ledger line, verified by `verify`); `commands/sweep.py`
drives it. Torch-free.
"""
