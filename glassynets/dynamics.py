"""The training dynamics a run can follow (docs/noise.md), their rules, and the stationarity ratio.

Torch-free, so that the configuration check and the cost models use the very rules the trainer
applies. Keys (experiment settings and TrainSpec fields of the same names):

- noise: minibatch (SGD), full_batch (gradient descent on all N points), langevin (full-batch
  gradient plus sqrt(2·lr·T)·ξ each step), minibatch_langevin (the same noise added to SGD),
  persistent (persistent SGD: each point's membership of the batch is a two-state Markov chain);
- sampling: epochs (fresh permutations cut into minibatches) or with_replacement (every
  minibatch B indices drawn independently and uniformly, with replacement);
- temperature: T of the Langevin noise (nats, the units of the loss);
- persistence: τ, the mean number of steps a point stays in the persistent batch.
"""

from __future__ import annotations

import numpy as np

NOISES = ("minibatch", "full_batch", "langevin", "minibatch_langevin", "persistent")
SAMPLINGS = ("epochs", "with_replacement")
#: Dynamics whose every step runs on all N training points (persistent: masked to its batch).
ALL_POINTS = ("full_batch", "langevin", "persistent")
#: Dynamics that add sqrt(2·lr·T)·ξ to θ after each step.
LANGEVIN = ("langevin", "minibatch_langevin")


def problem(
    noise: str,
    sampling: str,
    temperature: float,
    persistence: float | None,
    momentum: float,
    batch_size: int | None = None,
    n_train: int | None = None,
) -> tuple[str, str] | None:
    """(key, what is wrong) for the first rule these settings break, else None. The rules that
    need the training-set size (persistent: b = B/N < 1 and τ >= b/(1 − b)) are checked only
    when batch_size and n_train are given."""
    if noise not in NOISES:
        return "noise", f"= {noise!r} is not allowed; choose one of {list(NOISES)}"
    if sampling not in SAMPLINGS:
        return "sampling", f"= {sampling!r} is not allowed; choose one of {list(SAMPLINGS)}"
    if sampling != "epochs" and noise not in ("minibatch", "minibatch_langevin"):
        return "sampling", (
            f"= {sampling!r} applies to noise minibatch or minibatch_langevin only, not {noise!r}"
        )
    if noise in LANGEVIN and not temperature > 0:
        return "temperature", f"= {temperature} must be > 0 for noise {noise!r}"
    if noise not in LANGEVIN and temperature != 0:
        return "temperature", (
            f"= {temperature} applies to noise langevin or minibatch_langevin only, not {noise!r}; "
            "remove it"
        )
    if noise in LANGEVIN and momentum:
        return "momentum", (
            f"= {momentum}: the Langevin step θ <- θ - lr·∇L + sqrt(2·lr·T)·ξ has no momentum; set it to 0"
        )
    if noise != "persistent":
        if persistence is not None:
            return "persistence", f"= {persistence} applies to noise persistent only, not {noise!r}"
        return None
    if persistence is None or not persistence >= 1:
        return (
            "persistence",
            f"= {persistence} must be a number of steps >= 1 for noise 'persistent'",
        )
    if batch_size is None or n_train is None:
        return None
    b = batch_size / n_train
    if b >= 1:
        return "batch_size", (
            f"= {batch_size} must be below n_train = {n_train} for noise 'persistent' (b = B/N < 1)"
        )
    if persistence < b / (1 - b):
        return "persistence", (
            f"= {persistence} must be >= b/(1 - b) = {b / (1 - b):.4g} at b = B/N = "
            f"{batch_size}/{n_train} "
            "(else a point outside the batch would enter with probability > 1)"
        )
    return None


def batch_points(noise: str, batch_size: int, n_train: int) -> int:
    """Training points one step processes: B for minibatch dynamics, all N for the others."""
    return n_train if noise in ALL_POINTS else batch_size


def stationarity_ratio(
    step: np.ndarray, lhs: np.ndarray, rhs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Yaida's ratio ⟨lhs⟩/⟨rhs⟩ at each metric step, averaged over the runs (rows of one step):
    lhs a metrics table's theta_batch_grad (exact for every dynamics) or theta_grad (Yaida's
    form), rhs its yaida_rhs. 1 at stationarity. Returns (steps [M], ratio [M])."""
    steps, where = np.unique(np.asarray(step), return_inverse=True)
    num = np.bincount(where, weights=np.asarray(lhs, dtype=np.float64))
    den = np.bincount(where, weights=np.asarray(rhs, dtype=np.float64))
    return steps, num / den
