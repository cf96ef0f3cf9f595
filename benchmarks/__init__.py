"""Benchmarks: run by `make bench` and `make bench-gpu`, never by the tests."""
