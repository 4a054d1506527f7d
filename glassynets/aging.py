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


def displacements(snapshots: np.ndarray, chunk_bytes: int = 256 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Δ and D for every run and every snapshot pair.

    snapshots: [S, E, P]. Returns (delta, fourth), each [E, K] in float64, with the pairs in
    :func:`pair_indices` order. Differences are taken in float64 directly (not via |a|² + |b|² −
    2a·b) because Δ is many orders of magnitude below |θ|² at small t. Work runs on blocks of at
    most 16 runs and of as many parameters as keep one float64 block [S, runs, params] within
    ``chunk_bytes``, so memory stays bounded for any P (sums over parameter blocks, then / P).
    """
    n_steps, n_runs, n_params = snapshots.shape
    n_pairs = n_steps * (n_steps - 1) // 2
    delta = np.zeros((n_runs, n_pairs))
    fourth = np.zeros((n_runs, n_pairs))
    runs_per = min(16, n_runs)
    params_per = max(1, chunk_bytes // (8 * n_steps * runs_per))
    for lo in range(0, n_runs, runs_per):
        for p0 in range(0, n_params, params_per):
            block = snapshots[:, lo : lo + runs_per, p0 : p0 + params_per].astype(np.float64)  # [S, e, p]
            k = 0
            for i in range(n_steps - 1):
                sq = np.square(block[i + 1 :] - block[i])  # [S-i-1, e, p]
                delta[lo : lo + runs_per, k : k + n_steps - 1 - i] += sq.sum(axis=-1).T
                fourth[lo : lo + runs_per, k : k + n_steps - 1 - i] += np.square(sq).sum(axis=-1).T
                k += n_steps - 1 - i
    return delta / n_params, fourth / n_params


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


def late_msd(t_w: np.ndarray, t: np.ndarray, delta: np.ndarray, late_tw: float, tolerance: float = 0.15) -> dict[str, float]:
    """Late-time behaviour of Δ(t_w, t_w + t) in t, from the ensemble-mean Δ on snapshot pairs
    (t_w [K], t [K], delta [K], steps).

    Takes the snapshot t_w nearest ``late_tw`` (in log) and fits log10 Δ = slope · log10 t + c
    over the last decade of t that run has, t ∈ [t_max / 10, t_max]. Slope 1 is diffusion: then
    (|slope − 1| ≤ ``tolerance``) the diffusion constant per parameter, D = mean of Δ / (2t) over
    that window (parameter² per step), else NaN. Returns t_w, t_min, t_max, slope, diffusion,
    diffusive (1.0 or 0.0), n_points; NaNs when fewer than 3 points are usable.
    """
    t_w, t, delta = (np.asarray(a, float) for a in (t_w, t, delta))
    candidates = np.unique(t_w[t_w > 0])
    out = {"t_w": float("nan"), "t_min": float("nan"), "t_max": float("nan"), "slope": float("nan"),
           "diffusion": float("nan"), "diffusive": 0.0, "n_points": 0}
    if not len(candidates):
        return out
    tw = candidates[np.argmin(np.abs(np.log(candidates) - np.log(late_tw)))]
    rows = (t_w == tw) & (t > 0) & (delta > 0)
    t_max = t[rows].max(initial=0.0)
    sel = rows & (t >= t_max / 10)
    out.update(t_w=float(tw), t_min=float(t_max / 10), t_max=float(t_max), n_points=int(sel.sum()))
    if sel.sum() < 3:
        return out
    slope = float(np.polyfit(np.log10(t[sel]), np.log10(delta[sel]), 1)[0])
    diffusive = abs(slope - 1) <= tolerance
    out.update(slope=slope, diffusive=float(diffusive),
               diffusion=float(np.mean(delta[sel] / (2 * t[sel]))) if diffusive else float("nan"))
    return out


def msd_plateau(t: np.ndarray, delta: np.ndarray) -> tuple[float, float]:
    """Plateau of one Δ(t) curve (t [k] ascending, > 0): the Δ at the first local minimum (from
    short t on) of the log–log slope of Δ in t, smoothed over three neighbouring snapshot
    intervals, and that slope. The first, not the global, minimum: a glass below T_d rests at
    Δ ≈ 2(1 − q_EA) before aging takes it on to Δ = 2 (C = 0), which is flat too. NaNs for fewer
    than 5 points."""
    t, delta = np.asarray(t, float), np.asarray(delta, float)
    ok = (t > 0) & (delta > 0)
    t, delta = t[ok], delta[ok]
    if len(t) < 5:
        return float("nan"), float("nan")
    slopes = np.diff(np.log(delta)) / np.diff(np.log(t))
    smooth = np.convolve(slopes, np.ones(3) / 3, mode="valid")  # smooth[k]: the slope around point k + 2
    rising = np.nonzero(np.diff(smooth) > 0)[0]
    k = int(rising[0]) if len(rising) else len(smooth) - 1
    return float(delta[k + 2]), float(smooth[k])


def weight_histograms(snapshots: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of all parameters of all runs at every snapshot: snapshots [S, E, P] ->
    (edges [bins + 1], counts [S, bins] int64). One set of equal-width bins spans the values of
    every snapshot, so the histograms at different t_w compare directly."""
    lo, hi = float(snapshots.min()), float(snapshots.max())
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    counts = np.stack([np.histogram(step, bins=edges)[0] for step in snapshots]).astype(np.int64)
    return edges, counts
