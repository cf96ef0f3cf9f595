"""Trainbook's trainer: YAML experiments in, audited run folders out."""
