"""Runnable examples, importable too (``from examples.seed_example import run_seed_example``)."""
