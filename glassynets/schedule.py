"""Log-spaced integer step schedules for snapshots and metrics (one SGD step = one time unit)."""

from __future__ import annotations

import numpy as np


def log_steps(last_step: int, per_decade: int) -> np.ndarray:
    """Sorted unique integer steps: 0, then round(10^(k/per_decade)) for k >= 0 up to last_step.

    ``last_step`` itself is always included. Shape [S], dtype int64. Below 10^(1/per_decade)
    spacing, rounding merges neighbours, so early decades hold every integer step.
    """
    if last_step < 0 or per_decade < 1:
        raise ValueError(f"need last_step >= 0 and per_decade >= 1, got {last_step}, {per_decade}")
    if last_step == 0:
        return np.zeros(1, dtype=np.int64)
    k_max = int(np.floor(np.log10(last_step) * per_decade + 1e-9))
    steps = np.rint(10.0 ** (np.arange(k_max + 1) / per_decade)).astype(np.int64)
    return np.unique(np.concatenate([[0], steps[steps <= last_step], [last_step]]))


def nearest_steps(available: np.ndarray, wanted: list[float]) -> list[int]:
    """Available steps closest in log to each wanted step (unique, in order; 0 maps to 0)."""
    available = np.asarray(available)
    positive = available[available > 0]
    chosen = []
    for w in wanted:
        pick = 0 if w <= 0 else int(positive[np.argmin(np.abs(np.log(positive) - np.log(w)))])
        if pick not in chosen:
            chosen.append(pick)
    return chosen
