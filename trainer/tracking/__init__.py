"""Run folders, the ledger, audit facts and atomic files: everything that persists a run."""
