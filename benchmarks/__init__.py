"""Benchmarks: ``python -m benchmarks`` (``make bench``). See benchmarks/RESULTS.md."""
