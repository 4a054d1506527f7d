"""Aging and subaging of SGD training dynamics in small neural networks.

For a model of your own: ``glassynets.AgingRecorder`` in your training loop, then
``glassynets.analyse`` (or ``glassynets analyse``) on its tables (docs/recorder.md). Both are
imported on first use, so that ``import glassynets`` stays light (no torch).
"""

__version__ = "0.1.0"
__all__ = ["AgingRecorder", "AgingRecorderError", "analyse"]


def __getattr__(name: str):
    if name in ("AgingRecorder", "AgingRecorderError"):
        from . import recorder

        return getattr(recorder, name)
    if name == "analyse":
        from .runs import analyse

        return analyse
    raise AttributeError(f"module 'glassynets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
