"""Retrieval-quality harness on labelled documentation sets: `python -m benchmarks.quality`."""
