"""Aging analysis of parameter trajectories: mean square displacement, t*(t_w) and the exponent μ.

Times are SGD steps. For snapshots θ(s) at steps s_0 < s_1 < ... the two-time quantities are
defined on every ordered pair (t_w, t_w + t) = (s_i, s_j), j > i:

    Δ(t_w, t_w + t) = (1/P) Σ_k (θ_k(t_w) − θ_k(t_w + t))²        (MSD, Baity-Jesi's C)
    D(t_w, t_w + t) = (1/P) Σ_k (θ_k(t_w) − θ_k(t_w + t))⁴        (fourth moment)
    Y = D / Δ²

t*(t_w) is the t at which Δ(t_w, t_w + t) first reaches Δ*, interpolated linearly in
log t – log Δ between the two bracketing snapshots. μ is the least-squares slope of
log10 t* against log10 t_w; subaging means μ < 1, simple aging μ = 1.
"""

from __future__ import annotations

import numpy as np


def pair_indices(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), j > i, of all ordered snapshot pairs, sorted by i then j. Shapes [K]."""
    i, j = np.triu_indices(n_steps, k=1)
    return i, j


def displacements(snapshots: np.ndarray, seeds_per_chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Δ and D for every run and every snapshot pair.

    snapshots: [S, E, P]. Returns (delta, fourth), each [E, K] in float64, with the pairs in
    :func:`pair_indices` order. Differences are taken in float64 directly (not via |a|² + |b|² −
    2a·b) because Δ is many orders of magnitude below |θ|² at small t.
    """
    n_steps, n_runs, _ = snapshots.shape
    n_pairs = n_steps * (n_steps - 1) // 2
    delta = np.empty((n_runs, n_pairs))
    fourth = np.empty((n_runs, n_pairs))
    for lo in range(0, n_runs, seeds_per_chunk):
        block = snapshots[:, lo : lo + seeds_per_chunk].astype(np.float64)  # [S, e, P]
        k = 0
        for i in range(n_steps - 1):
            sq = np.square(block[i + 1 :] - block[i])  # [S-i-1, e, P]
            delta[lo : lo + seeds_per_chunk, k : k + n_steps - 1 - i] = sq.mean(axis=-1).T
            fourth[lo : lo + seeds_per_chunk, k : k + n_steps - 1 - i] = np.square(sq).mean(axis=-1).T
            k += n_steps - 1 - i
    return delta, fourth


def t_star_curves(steps: np.ndarray, delta_rows: np.ndarray, delta_star: float) -> np.ndarray:
    """t*(t_w) for every snapshot step as t_w, from Δ rows [R, K] over all pairs -> t* [R, S].

    NaN where Δ* is never reached, or is already exceeded at the first t (no bracketing point).
    """
    n_steps = len(steps)
    i, j = pair_indices(n_steps)
    out = np.full((delta_rows.shape[0], n_steps), np.nan)
    log_star = np.log(delta_star)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_delta = np.log(np.maximum(delta_rows, np.finfo(float).tiny))
        for w in range(n_steps - 1):
            sel = np.nonzero(i == w)[0]
            log_t = np.log((steps[j[sel]] - steps[w]).astype(float))
            ld = log_delta[:, sel]  # [R, k]
            reached = ld >= log_star
            has = reached.any(axis=1)
            first = reached.argmax(axis=1)
            ok = has & (first > 0)
            rows = np.nonzero(ok)[0]
            k = first[rows]
            ld0, ld1 = ld[rows, k - 1], ld[rows, k]
            lt0, lt1 = log_t[k - 1], log_t[k]
            out[rows, w] = np.exp(lt0 + (log_star - ld0) * (lt1 - lt0) / (ld1 - ld0))
    return out


def fit_power_law(t_w: np.ndarray, t_star: np.ndarray, window: tuple[float, float]) -> tuple[float, float, int]:
    """Least-squares fit log10 t* = μ log10 t_w + c over finite points with t_w in [lo, hi].

    Returns (μ, c, number of points); NaNs when fewer than 3 points are usable.
    """
    t_w, t_star = np.asarray(t_w, float), np.asarray(t_star, float)
    sel = (t_w >= window[0]) & (t_w <= window[1]) & np.isfinite(t_star) & (t_w > 0)
    n = int(sel.sum())
    if n < 3:
        return float("nan"), float("nan"), n
    mu, c = np.polyfit(np.log10(t_w[sel]), np.log10(t_star[sel]), 1)
    return float(mu), float(c), n


def bootstrap_mu(
    steps: np.ndarray,
    delta: np.ndarray,
    delta_star: float,
    window: tuple[float, float],
    n_boot: int,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile confidence interval of μ from resampling runs with replacement.

    delta: per-run Δ [E, K]. Each bootstrap replicate averages a resampled set of E runs,
    recomputes t*(t_w) from that mean curve and refits μ. Returns (low, high); NaN if E < 2.
    """
    n_runs = delta.shape[0]
    if n_runs < 2 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, n_runs, n_runs), minlength=n_runs) for _ in range(n_boot)])
    means = counts @ delta / n_runs  # [B, K]
    curves = t_star_curves(steps, means, delta_star)
    mus = np.array([fit_power_law(steps, c, window)[0] for c in curves])
    mus = mus[np.isfinite(mus)]
    if len(mus) == 0:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    return float(np.quantile(mus, alpha)), float(np.quantile(mus, 1 - alpha))


def crossover(t_w: np.ndarray, t_star: np.ndarray, min_points: int = 4) -> dict[str, float]:
    """Two-segment continuous piecewise-linear fit of log10 t* vs log10 t_w.

    Scans the breakpoint over the observed log10 t_w values (each segment keeps at least
    ``min_points`` points) and keeps the one with least squared error. Returns the break
    position ``log10_tw`` and the slopes before and after; NaNs if there are too few points.
    """
    t_w, t_star = np.asarray(t_w, float), np.asarray(t_star, float)
    sel = (t_w > 0) & np.isfinite(t_star)
    x, y = np.log10(t_w[sel]), np.log10(t_star[sel])
    best = {"log10_tw": float("nan"), "slope_before": float("nan"), "slope_after": float("nan"), "rss": float("inf")}
    for b in x[min_points - 1 : len(x) - min_points + 1]:
        design = np.column_stack([np.ones_like(x), np.minimum(x - b, 0), np.maximum(x - b, 0)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        rss = float(np.sum((design @ coef - y) ** 2))
        if rss < best["rss"]:
            best = {"log10_tw": float(b), "slope_before": float(coef[1]), "slope_after": float(coef[2]), "rss": rss}
    return best
