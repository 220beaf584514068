"""Helpers for the neural-style-transfer and Poisson-image-editing notebook series."""

__version__ = "0.1.0"
