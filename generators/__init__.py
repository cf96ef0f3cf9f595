"""Trainbook's generators: run folders in, site content out. Never imports torch."""
