"""Benchmarks: a generator of synthetic registers and a runner that compares each figure with its baseline."""
