"""Aging analysis: mean square displacement, t*(t_w), the crossover and the exponent μ.

Times are SGD steps. The two-time quantities (two_time.py) are measured online at every lag t from
1 for log-spaced waiting times t_w and arrive here dense, as arrays [runs, W, L] over waiting
times [W] and lags [L] with NaN where t_w + t is past the end of the run:

    Δ(t_w, t_w + t) = (1/P) Σ_k (θ_k(t_w) − θ_k(t_w + t))²        (MSD, Baity-Jesi's C)

t*(t_w) is the lag at which Δ(t_w, t_w + t) first reaches Δ*, interpolated linearly in log t –
log Δ between the two bracketing lags; undefined (NaN) when Δ* is never reached, or is already
exceeded at t = 1.

μ, the exponent of t* ∝ t_w^μ, is only meaningful on one regime of t*(t_w) (:func:`estimate_mu`):
a continuous two-segment fit in log–log locates the crossover, μ is fitted beyond it, and its
uncertainty combines the bootstrap over runs with the spread over the choices that move it (the
window's start and end, averaging Δ or log t* over runs). Subaging means μ < 1, simple aging μ = 1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from . import scaling, two_time
from .jobs import Job


def pair_indices(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), j > i, of all ordered snapshot pairs, sorted by i then j. Shapes [K]."""
    i, j = np.triu_indices(n_steps, k=1)
    return i, j


def displacements(snapshots: np.ndarray, runs_per_block: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Δ and D for every run and every snapshot pair, offline: snapshots [S, E, P] -> (delta, fourth),
    each [E, K] float64, pairs in :func:`pair_indices` order. The arithmetic is two_time.moments', so
    these agree bit for bit with the online Recorder on the pairs both have."""
    n_steps, n_runs, _ = snapshots.shape
    delta = np.zeros((n_runs, n_steps * (n_steps - 1) // 2))
    fourth = np.zeros_like(delta)
    k = 0
    for i in range(n_steps - 1):
        for lo in range(0, n_runs, runs_per_block):
            block = slice(lo, lo + runs_per_block)
            d, f, _ = two_time.moments(
                snapshots[i, block][None], snapshots[i + 1 :, block], ()
            )  # [S-i-1, e]
            delta[block, k : k + n_steps - 1 - i], fourth[block, k : k + n_steps - 1 - i] = d.T, f.T
        k += n_steps - 1 - i
    return delta, fourth


def t_star(lags: np.ndarray, delta: np.ndarray, delta_star: float) -> np.ndarray:
    """t* of Δ curves over lags [L] (ascending, >= 1): delta [..., L] -> t* [...], NaN where Δ*
    is never reached among the measured lags or is already reached at the first one."""
    lags = np.asarray(lags, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        reached = delta >= delta_star  # NaN compares False
        first = reached.argmax(axis=-1)
        ok = reached.any(axis=-1) & (first > 0)
        k = np.where(ok, first, 1)
        d1 = np.take_along_axis(delta, k[..., None], -1)[..., 0]
        d0 = np.take_along_axis(delta, (k - 1)[..., None], -1)[..., 0]
        lt0, lt1 = np.log(lags[k - 1]), np.log(lags[k])
        out = np.exp(
            lt0 + (np.log(delta_star) - np.log(d0)) * (lt1 - lt0) / (np.log(d1) - np.log(d0))
        )
    return np.where(ok, out, np.nan)


def fit_power_law(
    t_w: np.ndarray, t_star: np.ndarray, window: tuple[float, float]
) -> tuple[float, float, int, float]:
    """Least-squares fit log10 t* = μ log10 t_w + c over finite points with t_w in [lo, hi].

    Returns (μ, c, number of points, RMS residual in dex); NaNs when fewer than 3 points are usable.
    """
    t_w, t_star = np.asarray(t_w, float), np.asarray(t_star, float)
    sel = (t_w >= window[0]) & (t_w <= window[1]) & np.isfinite(t_star) & (t_w > 0)
    n = int(sel.sum())
    if n < 3:
        return float("nan"), float("nan"), n, float("nan")
    x, y = np.log10(t_w[sel]), np.log10(t_star[sel])
    mu, c = np.polyfit(x, y, 1)
    return float(mu), float(c), n, float(np.sqrt(np.mean((y - mu * x - c) ** 2)))


def crossover(t_w: np.ndarray, t_star: np.ndarray, min_points: int = 4) -> dict[str, float]:
    """Two-segment continuous piecewise-linear fit of log10 t* vs log10 t_w, against one line.

    Scans the breakpoint over the observed log10 t_w values (each segment keeps at least
    ``min_points`` points) and keeps the one with least squared error. Returns the break position
    ``log10_tw``, the slopes before and after, the residual sums of squares of both models and
    ``p_value``, the F-test probability that one line explains the data as well (small: the break
    is real; the points of one t*(t_w) curve are correlated, so it is optimistic). NaNs if there
    are too few points.
    """
    t_w, t_star = np.asarray(t_w, float), np.asarray(t_star, float)
    sel = (t_w > 0) & np.isfinite(t_star)
    x, y = np.log10(t_w[sel]), np.log10(t_star[sel])
    best = {
        "log10_tw": float("nan"),
        "slope_before": float("nan"),
        "slope_after": float("nan"),
        "rss": float("inf"),
        "rss_line": float("nan"),
        "p_value": float("nan"),
        "n_points": len(x),
    }
    for b in x[min_points - 1 : len(x) - min_points + 1]:
        design = np.column_stack([np.ones_like(x), np.minimum(x - b, 0), np.maximum(x - b, 0)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        rss = float(np.sum((design @ coef - y) ** 2))
        if rss < best["rss"]:
            best.update(
                log10_tw=float(b), slope_before=float(coef[1]), slope_after=float(coef[2]), rss=rss
            )
    if np.isfinite(best["log10_tw"]):
        line = np.polyfit(x, y, 1)
        best["rss_line"] = float(np.sum((np.polyval(line, x) - y) ** 2))
        dof = len(x) - 4  # hinge: intercept, two slopes, break
        if dof > 0 and best["rss"] > 0:
            f = (best["rss_line"] - best["rss"]) / 2 / (best["rss"] / dof)
            best["p_value"] = float(stats.f.sf(f, 2, dof))
        elif best["rss"] == 0:
            best["p_value"] = 0.0 if best["rss_line"] > 0 else 1.0
    return best


@dataclass(frozen=True)
class FitRules:
    """How μ is estimated from t*(t_w) (configured per experiment under ``analysis``).

    fit_tw: outer bounds of the t_w where the regimes of t*(t_w) are looked for (steps).
    window: "asymptotic": the last regime, grown backwards from the end: start with the last
    min_points t_w with a defined t*, fit a power law, and take in the next earlier t_w while its
    log10 t* lies within point_residual_dex (or three bootstrap standard deviations of its log10 t*,
    if larger) of the line fitted to the points after it, refitting after each (a single stray
    point is taken in when the one before it fits); two t_w in a row that do not fit end the
    regime, and the window's start is the crossover. "fixed": all of fit_tw,
    no crossover. shift_dex: for the systematic error the window's start is moved by ± this and
    its end brought in by 2× this. min_points, min_decades: fewer defined t* in the window, or a
    narrower span in log10 t_w, and μ is undefined; so it is when the window's RMS residual exceeds
    max_residual_dex (not one power law).
    """

    fit_tw: tuple[float, float]
    window: str = "asymptotic"
    point_residual_dex: float = 0.03
    shift_dex: float = 0.2
    min_points: int = 5
    min_decades: float = 0.7
    max_residual_dex: float = 0.05
    n_boot: int = 1000
    level: float = 0.95

    @classmethod
    def from_settings(cls, settings: dict) -> FitRules:
        """The rules of an ``analysis`` section (t_w in steps, glassynets.settings.aging), whose
        keys name them apart: fit_window, window_shift_dex, min_fit_points, min_fit_decades."""
        return cls(
            fit_tw=tuple(settings["fit_tw"]),
            window=settings["fit_window"],
            point_residual_dex=settings["point_residual_dex"],
            max_residual_dex=settings["max_residual_dex"],
            shift_dex=settings["window_shift_dex"],
            min_points=settings["min_fit_points"],
            min_decades=settings["min_fit_decades"],
            n_boot=settings["n_boot"],
        )


def _bootstrap_counts(n_runs: int, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack(
        [np.bincount(rng.integers(0, n_runs, n_runs), minlength=n_runs) for _ in range(n_boot)]
    )


def per_run_tstar(lags: np.ndarray, delta: np.ndarray, delta_star: float) -> np.ndarray:
    """Geometric mean over runs of the per-run t* (the other averaging convention): delta [E, W, L]
    -> [W], NaN at t_w where some run's t* is undefined."""
    runs = t_star(lags, delta, delta_star)
    with np.errstate(invalid="ignore"):
        return 10 ** np.log10(runs).mean(axis=0)


def fit_window(
    waiting_times: np.ndarray, curve: np.ndarray, rules: FitRules, noise: np.ndarray | None = None
) -> tuple[float, float, float]:
    """The t_w window (start, end) of the μ fit on one t*(t_w) curve by ``rules``, and the crossover
    (log10 of the window's start for the asymptotic rule; NaN for fixed, or when the regime reaches
    back to the first defined t_w). noise: bootstrap
    standard deviation of log10 t* per t_w, or None. NaNs when fewer than min_points t* are
    defined."""
    lo_tw, hi_tw = rules.fit_tw
    defined = np.nonzero((waiting_times >= lo_tw) & (waiting_times <= hi_tw) & np.isfinite(curve))[
        0
    ]
    if len(defined) < rules.min_points:
        return float("nan"), float("nan"), float("nan")
    end = float(waiting_times[defined[-1]])
    if rules.window == "fixed":
        return float(lo_tw), end, float("nan")
    x, y = np.log10(waiting_times[defined]), np.log10(curve[defined])
    tolerance = np.full(len(x), rules.point_residual_dex)
    if noise is not None:
        tolerance = np.maximum(tolerance, 3 * np.nan_to_num(noise[defined]))
    first = len(x) - rules.min_points
    while first > 0:  # one stray point is taken in when the one before it fits again
        slope, intercept = np.polyfit(x[first:], y[first:], 1)
        off = np.abs(
            y[max(0, first - 2) : first] - (slope * x[max(0, first - 2) : first] + intercept)
        )[::-1]
        fits = off <= tolerance[max(0, first - 2) : first][::-1]
        if fits[0]:
            first -= 1
        elif len(fits) > 1 and fits[1]:
            first -= 2
        else:
            break
    start = float(waiting_times[defined[first]])
    # a regime that reaches back to the first t_w of fit_tw has no crossover inside it
    return start, end, float(np.log10(start)) if first > 0 else float("nan")


def estimate_mu(
    waiting_times: np.ndarray,
    lags: np.ndarray,
    delta: np.ndarray,
    delta_star: float,
    rules: FitRules,
    seed: int = 0,
    exact: bool = False,
) -> tuple[dict, list[dict]]:
    """μ of t*(t_w) ∝ t_w^μ on the asymptotic regime, with its full uncertainty.

    delta: per-run Δ [E, W, L] on waiting_times [W] × lags [L]. Returns (summary, fits): the
    summary of the primary estimate (ensemble-mean Δ, window by ``rules``) and the list of every
    fit made (the primary, its window and convention variants), each a dict of the 'mu' table's
    columns. Summary: μ; stat_low/high, the bootstrap-over-runs percentile interval at the primary
    window; syst_low/high ≥ 0, the largest deviations of the variants below and above μ;
    total_low/high = μ ∓ the stat and syst parts added in quadrature; the crossover = the window's
    start (log10 t_w) with its bootstrap interval (the rule applied to every resample); the
    two-segment fit over fit_tw for reference (hinge_*); the goodness of fit (RMS and largest
    residual in dex); ``status``: "ok", or why μ is undefined (then μ and its intervals are NaN).
    ``exact``: delta is one deterministic curve (the CK equations), whose statistical interval
    and crossover interval are the point itself; the systematic part (window, convention) stays.
    """
    waiting_times = np.asarray(waiting_times, float)
    curve = t_star(lags, delta.mean(axis=0), delta_star)
    counts, curves, noise = _bootstrap_curves(lags, delta, delta_star, rules, seed)
    start, end, last_break = fit_window(waiting_times, curve, rules, noise)
    summary = _hinge_summary(waiting_times, curve, delta_star, rules)
    window = (start, end) if np.isfinite(start) else (np.inf, np.inf)
    fits = _window_fits(waiting_times, lags, delta, delta_star, curve, window, rules.shift_dex)
    primary = fits[0]
    boot_mu = np.array([fit_power_law(waiting_times, c, window)[0] for c in curves])
    boot_break = np.array([fit_window(waiting_times, c, rules, noise)[2] for c in curves])
    alpha = (1 - rules.level) / 2
    primary["ci_low"], primary["ci_high"] = (
        (primary["mu"], primary["mu"]) if exact else _interval(boot_mu, alpha)
    )
    primary["n_boot"] = len(counts)
    # the interval of a crossover that the data themselves do not show would be a number without a claim
    cross_low, cross_high = (
        _interval(boot_break, alpha) if np.isfinite(last_break) else (np.nan, np.nan)
    )
    if exact:
        cross_low = cross_high = last_break
    mu = primary["mu"]
    status = _status(rules, start, end, primary)
    syst_low, syst_high = _systematic(mu, fits[1:])
    stat_low, stat_high = primary["ci_low"], primary["ci_high"]
    sel = (waiting_times >= window[0]) & (waiting_times <= window[1]) & np.isfinite(curve)
    residuals = np.log10(curve[sel]) - (mu * np.log10(waiting_times[sel]) + primary["intercept"])
    summary.update(
        mu=mu,
        stat_low=stat_low,
        stat_high=stat_high,
        syst_low=syst_low,
        syst_high=syst_high,
        total_low=mu - np.hypot(mu - stat_low, syst_low),
        total_high=mu + np.hypot(stat_high - mu, syst_high),
        intercept=primary["intercept"],
        tw_min=start,
        tw_max=end,
        n_points=primary["n_points"],
        residual_dex=primary["residual_dex"],
        max_residual_dex=float(np.max(np.abs(residuals))) if len(residuals) else np.nan,
        n_boot=primary["n_boot"],
        crossover_log10_tw=last_break,
        crossover_low=cross_low,
        crossover_high=cross_high,
        status=status,
    )
    if status != "ok":
        for key in _MU_INTERVAL:
            summary[key] = np.nan
    return summary, fits


#: The keys of estimate_mu's summary that are NaN when μ is undefined.
_MU_INTERVAL = ("mu", "stat_low", "stat_high", "syst_low", "syst_high", "total_low", "total_high")


def _bootstrap_curves(
    lags: np.ndarray, delta: np.ndarray, delta_star: float, rules: FitRules, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The bootstrap over runs of t*(t_w): resample counts [B, E], the resamples' t* [B, W] and
    the noise of log10 t* per t_w [W] (None for fewer than two resamples), for the window rule,
    μ at the primary window and where the rule puts the crossover in each resample."""
    n_runs = delta.shape[0]
    counts = (
        _bootstrap_counts(n_runs, rules.n_boot, seed)
        if n_runs > 1 and rules.n_boot > 0
        else np.zeros((0, n_runs))
    )
    curves = t_star(lags, np.tensordot(counts, delta, axes=(1, 0)) / n_runs, delta_star)  # [B, W]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # t_w where no resample has a t*: NaN noise
        noise = np.nanstd(np.log10(curves), axis=0) if len(curves) > 1 else None
    return counts, curves, noise


def _hinge_summary(
    waiting_times: np.ndarray, curve: np.ndarray, delta_star: float, rules: FitRules
) -> dict:
    """The first keys of estimate_mu's summary: Δ*, the rule and the two-segment fit over fit_tw."""
    inside = (waiting_times >= rules.fit_tw[0]) & (waiting_times <= rules.fit_tw[1])
    defined_inside = inside & np.isfinite(curve)
    hinge = crossover(waiting_times[defined_inside], curve[defined_inside], rules.min_points)
    return {
        "delta_star": delta_star,
        "window_rule": rules.window,
        "hinge_log10_tw": hinge["log10_tw"],
        "hinge_p": hinge["p_value"],
        "slope_before": hinge["slope_before"],
        "slope_after": hinge["slope_after"],
        "n_tw": int(inside.sum()),
        "n_tw_defined": int((inside & np.isfinite(curve)).sum()),
    }


def _fit_row(
    waiting_times: np.ndarray,
    delta_star: float,
    name: str,
    t: np.ndarray,
    bounds: tuple[float, float],
) -> dict:
    """One 'mu' table row: the power law fitted to t* [W] over t_w in ``bounds``."""
    mu, c, n, res = fit_power_law(waiting_times, t, bounds)
    return {
        "delta_star": delta_star,
        "variant": name,
        "mu": mu,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "intercept": c,
        "tw_min": bounds[0],
        "tw_max": bounds[1],
        "n_points": n,
        "residual_dex": res,
        "n_boot": 0,
        "primary": name == "primary",
    }


def _window_fits(
    waiting_times: np.ndarray,
    lags: np.ndarray,
    delta: np.ndarray,
    delta_star: float,
    curve: np.ndarray,
    window: tuple[float, float],
    shift_dex: float,
) -> list[dict]:
    """The primary fit of t* [W] on ``window`` and its variants: the window's start moved by
    ± shift_dex, its end brought in by 2× that, and the per-run convention of t*."""
    shift = 10**shift_dex
    return [
        _fit_row(waiting_times, delta_star, "primary", curve, window),
        _fit_row(
            waiting_times, delta_star, "window_start_earlier", curve, (window[0] / shift, window[1])
        ),
        _fit_row(
            waiting_times, delta_star, "window_start_later", curve, (window[0] * shift, window[1])
        ),
        _fit_row(
            waiting_times,
            delta_star,
            "window_end_earlier",
            curve,
            (window[0], window[1] / shift**2),
        ),
        _fit_row(
            waiting_times,
            delta_star,
            "per_run_tstar",
            per_run_tstar(lags, delta, delta_star),
            window,
        ),
    ]


def _interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    """The percentile interval [alpha, 1 − alpha] of the finite ``values``; NaNs if none."""
    values = values[np.isfinite(values)]
    return (
        (float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)))
        if len(values)
        else (np.nan, np.nan)
    )


def _status(rules: FitRules, start: float, end: float, primary: dict) -> str:
    """ "ok", or why μ of the primary fit on [start, end] is undefined by ``rules``."""
    mu = primary["mu"]
    span = np.log10(end / start) if np.isfinite(start) and end > start else 0.0
    # The t_w are grid values rounded to whole steps: seven intervals of a 10-per-decade grid span
    # 0.6999982 decades from 125,893 to 630,957. A span is short only beyond that rounding.
    rounding = np.log10((end + 0.5) / (start - 0.5)) - span if span > 0 and start > 0.5 else 0.0
    if not np.isfinite(start):
        return f"undefined: t* is defined at fewer than {rules.min_points} t_w in fit_tw"
    if primary["n_points"] < rules.min_points or span + rounding < rules.min_decades:
        return (
            f"undefined: the last regime holds {primary['n_points']} t_w spanning {span:.2f} decades, "
            f"[{start:.3g}, {end:.3g}] (need {rules.min_points} over {rules.min_decades:g}; slope there {mu:.3f})"
        )
    if primary["residual_dex"] > rules.max_residual_dex:
        return (
            f"undefined: t*(t_w) on [{start:.3g}, {end:.3g}] is not one power law (RMS residual "
            f"{primary['residual_dex']:.3f} dex > {rules.max_residual_dex:g}; slope there {mu:.3f})"
        )
    return "ok"


def _systematic(mu: float, variants: list[dict]) -> tuple[float, float]:
    """The largest deviations (≥ 0) of the variants' μ below and above ``mu``."""
    values = np.array([f["mu"] for f in variants], dtype=float)
    values = values[np.isfinite(values)]
    syst_low = float(max(0.0, mu - values.min())) if len(values) else 0.0
    syst_high = float(max(0.0, values.max() - mu)) if len(values) else 0.0
    return syst_low, syst_high


def aging_verdict(summary: dict, tti_mu: float) -> tuple[str, str]:
    """The aging class from μ's total interval [total_low, total_high]: "undefined" (μ not
    measurable), "none" (interval below ``tti_mu``: t* does not grow with t_w), "subaging"
    (interval within (tti_mu, 1)), "simple aging" (it holds 1), "superaging" (above 1), else
    "unclear" (it straddles tti_mu). Returns (verdict, why)."""
    if not np.isfinite(summary["mu"]):
        return "undefined", str(summary["status"])
    lo, hi = summary["total_low"], summary["total_high"]
    interval = f"μ = {summary['mu']:.3f} [{lo:.3f}, {hi:.3f}] (bootstrap ⊕ window/convention)"
    if hi < tti_mu:
        return "none", f"{interval} < {tti_mu:g}: t* does not grow with t_w"
    if lo <= tti_mu:
        return "unclear", f"{interval} straddles {tti_mu:g}"
    if hi < 1:
        return "subaging", f"{interval} < 1"
    if lo > 1:
        return "superaging", f"{interval} > 1"
    return "simple aging", f"{interval} holds 1"


def late_msd(
    t_w: np.ndarray, t: np.ndarray, delta: np.ndarray, late_tw: float, tolerance: float = 0.15
) -> dict[str, float]:
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
    out = {
        "t_w": float("nan"),
        "t_min": float("nan"),
        "t_max": float("nan"),
        "slope": float("nan"),
        "diffusion": float("nan"),
        "diffusive": 0.0,
        "n_points": 0,
    }
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
    out.update(
        slope=slope,
        diffusive=float(diffusive),
        diffusion=float(np.mean(delta[sel] / (2 * t[sel]))) if diffusive else float("nan"),
    )
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
    smooth = np.convolve(
        slopes, np.ones(3) / 3, mode="valid"
    )  # smooth[k]: the slope around point k + 2
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


def delta_star_scan(
    waiting_times: np.ndarray,
    lags: np.ndarray,
    delta: np.ndarray,
    scan: np.ndarray,
    window: tuple[float, float],
    n_boot: int,
    seed: int = 1,
    level: float = 0.95,
) -> list[dict]:
    """μ(Δ*) on one fixed t_w window (the primary's regime): one 'mu' table row per Δ* of ``scan``,
    with a bootstrap-over-runs interval from ``n_boot`` resamples."""
    n_runs = delta.shape[0]
    counts = (
        _bootstrap_counts(n_runs, n_boot, seed)
        if n_runs > 1 and n_boot > 0
        else np.zeros((0, n_runs))
    )
    means = np.tensordot(counts, delta, axes=(1, 0)) / n_runs
    mean = delta.mean(axis=0)
    alpha = (1 - level) / 2
    rows = []
    for d_star in scan:
        mu, c, n, res = fit_power_law(waiting_times, t_star(lags, mean, d_star), window)
        boot = np.array(
            [fit_power_law(waiting_times, t, window)[0] for t in t_star(lags, means, d_star)]
        )
        boot = boot[np.isfinite(boot)]
        lo, hi = (
            (np.quantile(boot, alpha), np.quantile(boot, 1 - alpha))
            if len(boot)
            else (np.nan, np.nan)
        )
        rows.append(
            {
                "delta_star": float(d_star),
                "variant": "delta_star_scan",
                "mu": mu,
                "ci_low": float(lo),
                "ci_high": float(hi),
                "intercept": c,
                "tw_min": window[0],
                "tw_max": window[1],
                "n_points": n,
                "residual_dex": res,
                "n_boot": len(counts),
                "primary": False,
            }
        )
    return rows


def ensemble_tables(
    waiting_times: np.ndarray,
    lags: np.ndarray,
    delta: np.ndarray,
    fourth: np.ndarray,
    overlap: np.ndarray,
    eps: np.ndarray,
) -> tuple[dict, dict]:
    """The 'msd' and 'overlap' tables (columns) of a cell from per-run arrays delta, fourth
    [E, W, L] and overlap [E, W, L, K] (NaN: pair not measured)."""
    n_runs = delta.shape[0]
    w, lag = np.nonzero(np.isfinite(delta).all(axis=0))
    d, f = delta[:, w, lag], fourth[:, w, lag]  # [E, pairs]
    mean, fourth_mean = d.mean(axis=0), f.mean(axis=0)
    std = d.std(axis=0, ddof=1) if n_runs > 1 else np.full_like(mean, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = fourth_mean / mean**2
    msd = {
        "t_w": waiting_times[w],
        "t": lags[lag],
        "delta_mean": mean,
        "delta_std": std,
        "delta_sem": std / np.sqrt(n_runs),
        "fourth_mean": fourth_mean,
        "y": y,
        "n_runs": np.full(len(w), n_runs),
    }
    q = overlap[:, w, lag]  # [E, pairs, K]
    q_sem = q.std(axis=0, ddof=1) / np.sqrt(n_runs) if n_runs > 1 else np.full(q.shape[1:], np.nan)
    n_eps = len(eps)
    overlaps = {
        "t_w": np.repeat(waiting_times[w], n_eps),
        "t": np.repeat(lags[lag], n_eps),
        "epsilon": np.tile(eps, len(w)),
        "overlap_mean": q.mean(axis=0).reshape(-1),
        "overlap_sem": q_sem.reshape(-1),
    }
    return msd, overlaps


def merge_blocks(blocks: list[tuple[dict[str, np.ndarray], np.ndarray]]) -> tuple[np.ndarray, ...]:
    """The two-time rows of a cell's seed blocks (storage.read_two_time of each) as dense arrays:
    waiting times [W], lags [L], seeds [E], Δ and D [E, W, L], Q_ε [E, W, L, K] and ε [K]."""
    eps = blocks[0][1]
    if any(not np.array_equal(b[1], eps) for b in blocks):
        raise ValueError(
            "seed blocks of one cell have different overlap_eps; retrain them with one config"
        )
    rows = {k: np.concatenate([b[0][k] for b in blocks]) for k in blocks[0][0]}
    if len(np.unique(rows["seed"])) * len(set(zip(rows["t_w"], rows["t"]))) != len(rows["seed"]):
        raise ValueError("seed blocks overlap or have different (t_w, t) grids")
    values = np.column_stack([rows["delta"], rows["fourth"], rows["overlap"]])
    waiting_times, lags, seeds, dense = two_time.dense(rows["t_w"], rows["t"], rows["seed"], values)
    return waiting_times, lags, seeds, dense[..., 0], dense[..., 1], dense[..., 2:], eps


def analyse_cell(
    blocks: list[tuple[dict[str, np.ndarray], np.ndarray]],
    snapshots: np.ndarray | None,
    snapshot_steps: np.ndarray | None,
    n_params: int,
    last_step: float,
    settings: dict,
    log=print,
    exact: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """Every aging table of one cell, as columns by table kind (storage.SCHEMAS): msd (Δ, D, Y),
    overlap (Q_ε), tstar, mu (every fit), mu_summary (the estimate), msd_late and weight_hist.

    blocks: the cell's two-time tables; snapshots [S, E, P] at snapshot_steps [S] for the
    histograms (None: runs recorded without snapshots, glassynets.AgingRecorder's; no
    weight_hist then); settings: an ``analysis`` section with t_w in steps (glassynets.settings.aging);
    exact: one deterministic curve (estimate_mu).
    """
    waiting_times, lags, seeds, delta, fourth, overlap, eps = merge_blocks(blocks)
    log(
        f"{len(seeds)} runs, {len(waiting_times)} t_w × {len(lags)} lags from t = 1, P = {n_params}"
    )
    msd, overlaps = ensemble_tables(waiting_times, lags, delta, fourth, overlap, eps)
    tables = {"msd": msd, "overlap": overlaps}
    delta_star, scan_range = _delta_star(settings, n_params, log)
    tables["tstar"] = _tstar_table(waiting_times, lags, seeds, delta, delta_star)
    summary = _mu_tables(
        tables, waiting_times, lags, delta, delta_star, scan_range, settings, exact, log
    )
    _collapse_tables(tables, waiting_times, lags, delta, summary, settings, log)
    tables["msd_late"] = _late_table(msd, last_step, settings, log)
    if snapshots is None:
        return tables
    tables["weight_hist"] = _weight_hist_table(snapshots, snapshot_steps, settings["hist_bins"])
    return tables


def _delta_star(settings: dict, n_params: int, log) -> tuple[float, list[float]]:
    """Δ* and the range of the Δ* scan, per parameter.

    Given per network (a threshold on |Δθ|² = P·Δ), Δ* is divided by P, which compares networks
    of very different widths at the same total distance travelled."""
    per = 1 / n_params if settings["delta_star_unit"] == "network" else 1.0
    delta_star, scan_range = (
        settings["delta_star"] * per,
        [d * per for d in settings["delta_star_scan"]],
    )
    if per != 1:
        log(
            f"Δ* = {settings['delta_star']:g} per network = {delta_star:.4g} per parameter (P = {n_params})"
        )
    return delta_star, scan_range


def _tstar_table(
    waiting_times: np.ndarray,
    lags: np.ndarray,
    seeds: np.ndarray,
    delta: np.ndarray,
    delta_star: float,
) -> dict[str, np.ndarray]:
    """The 'tstar' table: t*(t_w) of the mean Δ (seed −1) and of every run."""
    n_runs = len(seeds)
    curves = t_star(
        lags, np.concatenate([delta.mean(axis=0)[None], delta]), delta_star
    )  # row 0: the mean
    return {
        "seed": np.repeat(np.concatenate([[-1], seeds]), len(waiting_times)),
        "t_w": np.tile(waiting_times, n_runs + 1),
        "delta_star": np.full(curves.size, delta_star),
        "t_star": curves.reshape(-1),
    }


def _mu_tables(
    tables: dict,
    waiting_times: np.ndarray,
    lags: np.ndarray,
    delta: np.ndarray,
    delta_star: float,
    scan_range: list[float],
    settings: dict,
    exact: bool,
    log,
) -> dict:
    """The 'mu' (every fit and the Δ* scan) and 'mu_summary' tables, into ``tables``; returns
    the summary (estimate_mu)."""
    rules = FitRules.from_settings(settings)
    summary, fits = estimate_mu(waiting_times, lags, delta, delta_star, rules, exact=exact)
    scan = np.geomspace(scan_range[0], scan_range[1], settings["scan_points"])
    fits += delta_star_scan(
        waiting_times,
        lags,
        delta,
        scan,
        (summary["tw_min"], summary["tw_max"]),
        settings["n_boot"] // 4,
    )
    tables["mu"] = {c: [f[c] for f in fits] for c in fits[0]}
    tables["mu_summary"] = {c: [v] for c, v in summary.items()}
    log(
        f"Δ* = {delta_star:.4g}: asymptotic regime from log10 t_w = {summary['crossover_log10_tw']:.2f} "
        f"[{summary['crossover_low']:.2f}, {summary['crossover_high']:.2f}] (two-segment break at "
        f"{summary['hinge_log10_tw']:.2f}, p = {summary['hinge_p']:.2g}); "
        f"μ = {summary['mu']:.3f} [{summary['total_low']:.3f}, {summary['total_high']:.3f}] over t_w in "
        f"[{summary['tw_min']:.3g}, {summary['tw_max']:.3g}], {summary['n_points']} points, "
        f"residual {summary['residual_dex']:.3f} dex; {summary['status']}"
    )
    return summary


def _collapse_tables(
    tables: dict,
    waiting_times: np.ndarray,
    lags: np.ndarray,
    delta: np.ndarray,
    summary: dict,
    settings: dict,
    log,
) -> None:
    """The 'collapse' table, over μ's window (the configured fit_tw where μ is undefined), and
    the 'long_lag' table, into ``tables``."""
    window = (summary["tw_min"], summary["tw_max"])
    if not np.isfinite(summary["mu"]):
        window = tuple(settings["fit_tw"])
    shape = scaling.collapse(
        waiting_times,
        lags,
        delta,
        window,
        summary["mu"],
        summary["total_low"],
        summary["total_high"],
        settings["n_boot"] // 4,
    )
    tables["collapse"] = {k: [v] for k, v in shape.items()}
    tables["long_lag"] = scaling.long_lag(waiting_times, lags, delta, settings["n_boot"] // 4)
    log(
        f"collapse over t_w in [{shape['tw_min']:.3g}, {shape['tw_max']:.3g}]: spread of log10 Δ "
        f"{shape['spread_raw']:.3f} unscaled, {shape['spread_mu']:.3f} at μ; μ_collapse = "
        f"{shape['mu_collapse']:.3f} [{shape['collapse_low']:.3f}, {shape['collapse_high']:.3f}]; "
        f"long-lag fits at {len(tables['long_lag']['t_w'])} t_w"
    )


def _late_table(msd: dict, last_step: float, settings: dict, log) -> dict:
    """The 'msd_late' table: the late-time behaviour of the mean Δ (late_msd) at late_tw
    (default: a hundredth of the run's last step)."""
    late_tw = settings["late_tw"] if settings["late_tw"] is not None else last_step / 100
    late = late_msd(
        msd["t_w"], msd["t"], msd["delta_mean"], late_tw, settings["diffusive_tolerance"]
    )
    log(
        f"late Δ at t_w = {late['t_w']:g}: slope {late['slope']:.3f} over t in [{late['t_min']:g}, {late['t_max']:g}]"
        + (f", diffusive, D = {late['diffusion']:.3g} per step" if late["diffusive"] else "")
    )
    return {
        **{k: [v] for k, v in late.items()},
        "diffusive": [bool(late["diffusive"])],
        "tolerance": [settings["diffusive_tolerance"]],
    }


def _weight_hist_table(
    snapshots: np.ndarray, snapshot_steps: np.ndarray, bins: int
) -> dict[str, np.ndarray]:
    """The 'weight_hist' table: histograms of the parameters [S, E, P] at snapshot_steps [S]."""
    edges, counts = weight_histograms(snapshots, bins)
    density = counts / (counts.sum(axis=1, keepdims=True) * np.diff(edges))
    return {
        "step": np.repeat(snapshot_steps, bins),
        "bin_low": np.tile(edges[:-1], len(snapshot_steps)),
        "bin_high": np.tile(edges[1:], len(snapshot_steps)),
        "count": counts.reshape(-1),
        "density": density.reshape(-1),
    }


def aging_tables(job: Job) -> None:
    """The aging stage: merge a cell's seed blocks and write every aging table into its folder.

    Settings: an ``analysis`` section with t_w in steps (glassynets.settings.aging). Inputs
    two_time (one table per seed block), snapshots (theirs, for the histograms; none for the CK
    curves) and metrics (merged into the folder; none for a glass); output folder: the cell's
    table folder (<kind>.parquet for each table of analyse_cell).
    """
    import pandas as pd

    from . import storage

    settings = job.settings
    two_times, snapshot_files, metric_files = (
        job.input_list(name) for name in ("two_time", "snapshots", "metrics")
    )
    if not two_times:
        raise ValueError("aging: --in two_time=PATH is required, once per seed block")
    blocks = [storage.read_two_time(p) for p in two_times]
    snapshot_blocks = [storage.read_snapshots(p) for p in snapshot_files]
    steps = snapshot_blocks[0][0] if snapshot_blocks else None  # none: the CK curves
    if any(not np.array_equal(b[0], steps) for b in snapshot_blocks):
        raise ValueError(
            "seed blocks of one cell have different snapshot steps; retrain them with one config"
        )
    meta = storage.metadata(two_times[0])
    meta.pop("overlap_eps", None)
    meta["seeds"] = np.concatenate([np.unique(b[0]["seed"]) for b in blocks]).tolist()
    meta.update(storage.provenance([*two_times, *snapshot_files, *metric_files], settings))
    meta = job.meta(meta)
    tables = analyse_cell(
        blocks,
        np.concatenate([b[2] for b in snapshot_blocks], axis=1) if snapshot_blocks else None,
        steps,
        int(meta["n_params"]),
        float(meta.get("steps", 0)),
        settings,
        log=job.log,
        exact=meta.get("theory") == "ck",
    )
    if metric_files:
        metrics = pd.concat(
            [storage.read_frame(p, "metrics") for p in metric_files], ignore_index=True
        )
        tables["metrics"] = {c: metrics[c].to_numpy() for c in metrics}
    for kind, columns in tables.items():
        storage.write(Path(job.output("folder")) / f"{kind}.parquet", kind, columns, meta)
