"""Datasets and tokenizers. Each loader returns tensors plus the facts the audit record needs."""
