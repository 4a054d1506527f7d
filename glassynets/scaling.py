"""The shape of the two-time curves beyond t*: the aging scaling collapse and the long-lag law.

- **Collapse.** If t*(t_w) ∝ t_w^μ describes the whole curve, Δ(t_w, t_w + t) is one function of
  t/t_w^μ. Its quality is the spread of log10 Δ across the t_w of μ's fit window at fixed scaled
  time (:func:`spread`); it is measured at the cell's μ, without rescaling (μ = 0), and minimised
  over μ (μ_collapse, with a bootstrap interval over runs). Where μ_collapse and the t* μ
  disagree beyond their intervals, μ depends on the level Δ* it is read at.
- **Long lags.** For t ≫ t_w the local exponent β(t_w, t) = d log Δ / d log t; where it is
  constant over a decade, Δ ≈ D_β(t_w)·t^β (β = 1: diffusion, Baity-Jesi et al.'s bottom of the
  landscape), fitted with bootstrap intervals; whether D_β depends on t_w is the aging of that
  diffusion (:func:`long_lag`).

Inputs are the aging stage's per-run Δ [runs, W, L] on the (t_w, t) grid (NaN where t_w + t is
past the run), as aging.merge_blocks gives them.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize

#: Scaled times of the common grid on which the spread across curves is measured.
GRID_POINTS = 30
#: μ_collapse is searched in this range.
MU_RANGE = (-1.0, 2.0)
#: Local β: the slope of log Δ against log t over ± this many decades of lag.
BETA_HALF_WIDTH_DEX = 0.25
#: A long-lag window: t >= this many t_w, at least MIN_DECADES long, local β within ± BETA_TOLERANCE.
LONG_LAG_FACTOR = 10.0
MIN_DECADES = 1.0
BETA_TOLERANCE = 0.1


def _mean(delta: np.ndarray) -> np.ndarray:
    """Mean over runs (axis 0) of Δ, NaN where every run is NaN (pairs past the run), silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(delta, axis=0)


def spread(curves: list[tuple[np.ndarray, np.ndarray]], points: int = GRID_POINTS) -> float:
    """RMS over a common log grid of the spread (standard deviation across curves) of log10 Δ,
    over the range of x where every curve is defined (x > 0, Δ > 0); NaN with fewer than two
    curves or no common range. curves: (x [n_i], Δ [n_i]) pairs, x increasing."""
    kept = [(x[(x > 0) & (d > 0)], d[(x > 0) & (d > 0)]) for x, d in curves]
    kept = [(x, d) for x, d in kept if len(x) >= 2]
    if len(kept) < 2:
        return float("nan")
    lo, hi = max(np.log10(x[0]) for x, _ in kept), min(np.log10(x[-1]) for x, _ in kept)
    if not hi > lo:
        return float("nan")
    grid = np.linspace(lo, hi, points)
    logs = np.array([np.interp(grid, np.log10(x), np.log10(d)) for x, d in kept])
    return float(np.sqrt((logs.std(axis=0) ** 2).mean()))


def _curves(waiting_times, lags, mean_delta, mu) -> list[tuple[np.ndarray, np.ndarray]]:
    """(t/t_w^μ, Δ) of each t_w row of mean_delta [W, L] (NaN entries dropped)."""
    out = []
    for tw, row in zip(waiting_times, mean_delta):
        ok = np.isfinite(row)
        out.append((lags[ok] / tw**mu, row[ok]))
    return out


def collapse_spread(waiting_times, lags, mean_delta, mu: float) -> float:
    """The collapse quality at μ: :func:`spread` of Δ(t_w, t_w + t) against t/t_w^μ."""
    return spread(
        _curves(np.asarray(waiting_times, float), np.asarray(lags, float), mean_delta, mu)
    )


def best_mu(waiting_times, lags, mean_delta) -> float:
    """μ that minimises the collapse spread (bounded scalar search over MU_RANGE); NaN if the
    spread is undefined."""
    tw, t = np.asarray(waiting_times, float), np.asarray(lags, float)
    if not np.isfinite(collapse_spread(tw, t, mean_delta, 0.5)):
        return float("nan")
    result = optimize.minimize_scalar(
        lambda mu: collapse_spread(tw, t, mean_delta, mu),
        bounds=MU_RANGE,
        method="bounded",
        options={"xatol": 1e-3},
    )
    return float(result.x)


def collapse(
    waiting_times: np.ndarray,
    lags: np.ndarray,
    delta: np.ndarray,
    tw_range: tuple[float, float],
    mu: float,
    mu_low: float,
    mu_high: float,
    n_boot: int,
    seed: int = 0,
) -> dict[str, float]:
    """The scaling collapse over the t_w in ``tw_range`` (μ's fit window): delta [runs, W, L].
    Returns tw_min, tw_max, n_tw, mu (the t* μ), spread_mu (at μ; NaN where μ is undefined),
    spread_raw (μ = 0), mu_collapse (minimising the spread) with its 95% bootstrap interval over
    runs (collapse_low, collapse_high), spread_min, and agree: 1.0 when the intervals of μ and
    μ_collapse overlap, 0.0 when not, NaN when either is undefined."""
    waiting_times, lags = np.asarray(waiting_times, float), np.asarray(lags, float)
    inside = (waiting_times >= tw_range[0]) & (waiting_times <= tw_range[1]) & (waiting_times > 0)
    tw, d = waiting_times[inside], delta[:, inside]
    mean = _mean(d) if len(tw) else np.empty((0, len(lags)))
    best = best_mu(tw, lags, mean) if len(tw) >= 2 else float("nan")
    rng = np.random.default_rng(seed)
    boots = []
    if np.isfinite(best) and d.shape[0] > 1:
        for _ in range(n_boot):
            pick = rng.integers(0, d.shape[0], d.shape[0])
            boots.append(best_mu(tw, lags, _mean(d[pick])))
    boots = np.asarray(boots, float)
    boots = boots[np.isfinite(boots)]
    low, high = np.percentile(boots, [2.5, 97.5]) if len(boots) else (best, best)
    agree = float("nan")
    if np.isfinite(mu) and np.isfinite(best):
        agree = float(mu_low <= high and low <= mu_high)
    finite_mu = np.isfinite(mu)
    return {
        "tw_min": float(tw.min()) if len(tw) else float("nan"),
        "tw_max": float(tw.max()) if len(tw) else float("nan"),
        "n_tw": int(len(tw)),
        "mu": float(mu),
        "spread_mu": collapse_spread(tw, lags, mean, mu) if finite_mu else float("nan"),
        "spread_raw": collapse_spread(tw, lags, mean, 0.0),
        "mu_collapse": best,
        "collapse_low": float(low),
        "collapse_high": float(high),
        "spread_min": collapse_spread(tw, lags, mean, best) if np.isfinite(best) else float("nan"),
        "agree": agree,
    }


def local_beta(lags: np.ndarray, delta: np.ndarray, half_width: float = BETA_HALF_WIDTH_DEX):
    """β(t) = d log10 Δ / d log10 t of one curve (lags [L], delta [L], NaN past the run): the
    least-squares slope over lags within ± half_width decades of each t (NaN with fewer than 3
    finite points there)."""
    lags, delta = np.asarray(lags, float), np.asarray(delta, float)
    ok = (lags > 0) & np.isfinite(delta) & (delta > 0)
    x, y = np.log10(np.where(ok, lags, 1.0)), np.log10(np.where(ok, delta, 1.0))
    beta = np.full(len(lags), np.nan)
    for i in np.flatnonzero(ok):
        near = ok & (np.abs(x - x[i]) <= half_width)
        if near.sum() >= 3:
            beta[i] = np.polyfit(x[near], y[near], 1)[0]
    return beta


def _long_window(lags, beta, t_w) -> tuple[int, int] | None:
    """The longest run of lags t >= LONG_LAG_FACTOR·t_w where local β stays within
    ± BETA_TOLERANCE of its median over the run, at least MIN_DECADES long: (first, last) index."""
    best = None
    idx = np.flatnonzero((lags >= LONG_LAG_FACTOR * t_w) & np.isfinite(beta))
    for a_pos, a in enumerate(idx):
        for b in idx[a_pos + 1 :][::-1]:
            window = beta[a : b + 1]
            window = window[np.isfinite(window)]
            if np.log10(lags[b] / lags[a]) < MIN_DECADES:
                break
            if np.abs(window - np.median(window)).max() <= BETA_TOLERANCE:
                if best is None or np.log10(lags[b] / lags[a]) > np.log10(
                    lags[best[1]] / lags[best[0]]
                ):
                    best = (a, b)
                break
    return best


def long_lag(
    waiting_times: np.ndarray, lags: np.ndarray, delta: np.ndarray, n_boot: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Δ ≈ D_β·t^β fitted per t_w where the local β of the ensemble-mean Δ is constant (within
    ± BETA_TOLERANCE) over at least MIN_DECADES of lags t >= LONG_LAG_FACTOR·t_w; delta [runs, W, L].
    Columns, one row per t_w that has such a window: t_w, t_min, t_max, n_points, beta (the fit's
    slope) with its 95% bootstrap interval over runs (beta_low, beta_high), d_beta (D_β, in
    Δ's units per t^β) with (d_beta_low, d_beta_high)."""
    waiting_times, lags = np.asarray(waiting_times, float), np.asarray(lags, float)
    mean = _mean(delta)
    rng = np.random.default_rng(seed)
    rows = {
        k: []
        for k in (
            "t_w",
            "t_min",
            "t_max",
            "n_points",
            "beta",
            "beta_low",
            "beta_high",
            "d_beta",
            "d_beta_low",
            "d_beta_high",
        )
    }
    picks = (
        [rng.integers(0, delta.shape[0], delta.shape[0]) for _ in range(n_boot)]
        if delta.shape[0] > 1
        else []
    )
    for w, t_w in enumerate(waiting_times):
        if t_w <= 0:
            continue
        found = _long_window(lags, local_beta(lags, mean[w]), t_w)
        if found is None:
            continue
        a, b = found
        sel = slice(a, b + 1)
        x = np.log10(lags[sel])
        ok = np.isfinite(mean[w, sel]) & (mean[w, sel] > 0)

        def fit(curve):
            good = ok & np.isfinite(curve) & (curve > 0)
            slope, intercept = np.polyfit(x[good], np.log10(curve[good]), 1)
            return slope, 10**intercept

        beta, diffusion = fit(mean[w, sel])
        boots = (
            np.array([fit(_mean(delta[p, w, sel])) for p in picks])
            if picks
            else np.array([[beta, diffusion]])
        )
        (b_lo, b_hi), (d_lo, d_hi) = (
            np.percentile(boots[:, 0], [2.5, 97.5]),
            np.percentile(boots[:, 1], [2.5, 97.5]),
        )
        for key, value in zip(
            rows,
            (t_w, lags[a], lags[b], int(ok.sum()), beta, b_lo, b_hi, diffusion, d_lo, d_hi),
        ):
            rows[key].append(value)
    return {k: np.asarray(v, dtype=np.int32 if k == "n_points" else float) for k, v in rows.items()}


def diffusion_aging(table: dict[str, np.ndarray]) -> dict[str, float]:
    """Does D_β depend on t_w? The slope of log10 D_β against log10 t_w over the t_w of a
    long_lag table, with the range of β there (comparing D_β across t_w assumes one β). Returns
    slope (NaN with fewer than 2 t_w), n_tw, beta_min, beta_max."""
    tw, diffusion, beta = (np.asarray(table[k], float) for k in ("t_w", "d_beta", "beta"))
    out = {
        "n_tw": int(len(tw)),
        "beta_min": float("nan"),
        "beta_max": float("nan"),
        "slope": float("nan"),
    }
    if len(tw):
        out.update(beta_min=float(beta.min()), beta_max=float(beta.max()))
    if len(tw) >= 2:
        out["slope"] = float(np.polyfit(np.log10(tw), np.log10(diffusion), 1)[0])
    return out
