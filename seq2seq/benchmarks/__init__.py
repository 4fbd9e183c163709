"""Benchmarks: each one times our code against a reference run in the same process."""
