"""Benchmarks: ``python -m benchmarks`` (``make bench``).

Prints a table and writes ``benchmarks/results/*.json``.
"""
