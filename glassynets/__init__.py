"""Aging and subaging of SGD training dynamics in small neural networks."""

__version__ = "0.1.0"
