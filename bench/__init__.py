"""Benchmarks, one per headline figure (`rollup bench NAME`)."""
