"""Model definitions only: no data, no training loop."""
