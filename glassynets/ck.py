"""Exact n = ∞ dynamics of the spherical p-spin (p = 3): the Cugliandolo–Kurchan equations.

The model of :mod:`glassynets.pspin` (H = −Σ_{i<j<k} J_ijk s_i s_j s_k, J_ijk ~ N(0, 3/n²),
|s|² = n, Langevin ds/dt = −∇H − μ(t)s + ξ with ⟨ξ_i(t)ξ_j(t′)⟩ = 2T δ_ij δ(t − t′)) has
⟨H(s)H(s′)⟩ = n f(C) with f(C) = C³/2 and C = s·s′/n (up to O(1/n): the absent coincident-index
terms). At n = ∞, after a quench from a random configuration (C(t, 0) → 0 for t > 0 needs no
initial-condition term), the correlation C(t, t′) = s(t)·s(t′)/n, the response
R(t, t′) = (1/n) Σ_i δ⟨s_i(t)⟩/δh_i(t′) and the Lagrange multiplier μ(t) obey, for t > t′,

    ∂_t C(t, t′) = −μ(t) C(t, t′) + ∫_0^t ds f″(C(t, s)) R(t, s) C(s, t′)
                                   + ∫_0^{t′} ds f′(C(t, s)) R(t′, s)
    ∂_t R(t, t′) = −μ(t) R(t, t′) + ∫_{t′}^t ds f″(C(t, s)) R(t, s) R(s, t′),   R(t′⁺, t′) = 1
    μ(t) = T + ∫_0^t ds [f′(C(t, s)) + f″(C(t, s)) C(t, s)] R(t, s) = T − 3 e(t)
    e(t) = H/n = −∫_0^t ds f′(C(t, s)) R(t, s)

with C(t, t) = 1, f′ = (3/2)C², f″ = 3C. Units: those of pspin (time t = step·dt of the
simulation, T and e per spin). Checks (tests/test_ck.py, docs/pspin.md): e → −1/(2T) and
time-translation invariance above T_d = sqrt(3/8); below T_d a plateau of C near
:func:`glassynets.pspin.plateau_q` and e(t) decreasing towards
:func:`glassynets.pspin.asymptotic_energy`.

Scheme (:func:`integrate`): a uniform grid t_i = i·h, trapezoidal quadrature of every memory
integral, and a predictor–corrector (Heun) step in t, iterated to self-consistency on the new row
of the two-time grid; second order in h at t ≲ 20, slower (ratio ≈ 2.5 per halving) in the
aging regime at t ≳ 50 (docs/pspin.md). Memory O(n²), time O(n³) for n = t_max/h steps.
:func:`integrate_decimated` keeps the step h but thins the stored past (levels of doubling
spacing, interval integrals of C and R carried over the dropped points): time O(n·M²) for
M ~ window·log t stored points, t = 1000 at h = 0.1 in minutes. Numpy's BLAS does the work:
run with OPENBLAS_NUM_THREADS=1 (one core; this module never sets it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .jobs import Job

P = 3


def f1(c: np.ndarray) -> np.ndarray:
    """f′(C) = (p/2) C^(p−1) for f(C) = C^p/2, p = 3."""
    return 1.5 * c * c


def f2(c: np.ndarray) -> np.ndarray:
    """f″(C) = p(p−1)/2 C^(p−2) for p = 3."""
    return 3.0 * c


@dataclass
class CKSolution:
    """C, R and μ of :func:`integrate` on the uniform grid times[i] = i·h.

    times [n] (model time units); C [n, n] symmetric, C[i, j] = C(t_i, t_j), C[i, i] = 1;
    R [n, n] lower triangular, R[i, j] = R(t_i, t_j) for i ≥ j (R[i, i] = 1 = R(t⁺, t); zero
    above the diagonal); mu [n] and energy [n] = H/n (e = (T − μ)/3).
    """

    temperature: float
    h: float
    times: np.ndarray
    C: np.ndarray
    R: np.ndarray
    mu: np.ndarray
    energy: np.ndarray
    metadata: dict = field(default_factory=dict)

    def correlation(self, t_w: np.ndarray, lag: np.ndarray) -> np.ndarray:
        """C(t_w + lag, t_w) at any t_w, lag >= 0 with t_w + lag <= t_max (broadcast), by
        bilinear interpolation in (t_w, lag), the coordinates in which C is smooth (it has a
        cusp across the diagonal, C ≈ 1 − T|t − t′|). Exact on grid points."""
        return _bilinear(self.C, self.h, t_w, lag)


def _corners(h: float, n: int, t_w, lag) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid points (row, column: steps) and weights [..., 4] of the bilinear interpolation of
    C(t_w + lag, t_w) in (t_w, lag), the coordinates in which C is smooth, on a grid of n steps of
    size h, for t_w and lag broadcast together (model time). Values within rounding of a grid
    point are snapped onto it (t = step·dt is rarely exact in binary); a corner beyond the
    triangle t_w + lag <= n·h is clamped onto its edge."""
    t_w, lag = np.broadcast_arrays(np.asarray(t_w, float), np.asarray(lag, float))
    if np.any(t_w < 0) or np.any(lag < 0) or np.any(t_w + lag > n * h * (1 + 1e-12)):
        raise ValueError(f"need t_w, lag >= 0 and t_w + lag <= {n * h:g}")
    x, y = t_w / h, lag / h
    x = np.where(np.abs(x - np.rint(x)) < 1e-9, np.rint(x), x)
    y = np.where(np.abs(y - np.rint(y)) < 1e-9, np.rint(y), y)
    j0 = np.minimum(np.floor(x).astype(np.int64), n)
    k0 = np.minimum(np.floor(y).astype(np.int64), n - j0)
    fx, fy = x - j0, y - k0
    j1 = np.minimum(j0 + 1, n)
    k1 = np.minimum(k0 + 1, n - j0)
    cols = np.stack([j0, j0, j1, j1], axis=-1)
    ks = np.stack([k0, k1, k0, k1], axis=-1)
    rows = cols + np.minimum(ks, n - cols)
    weights = np.stack([(1 - fx) * (1 - fy), (1 - fx) * fy, fx * (1 - fy), fx * fy], axis=-1)
    return rows, cols, weights


def _bilinear(grid: np.ndarray, h: float, t_w, lag) -> np.ndarray:
    rows, cols, weights = _corners(h, grid.shape[0] - 1, t_w, lag)
    return (grid[rows, cols] * weights).sum(axis=-1)


def integrate(
    temperature: float,
    t_max: float,
    h: float,
    corrections: int = 3,
    log: Callable[[str], None] | None = None,
) -> CKSolution:
    """Integrate the CK equations of the p = 3 spherical p-spin from a random start to t_max.

    temperature T >= 0 (model units), step h > 0 (model time units; n = round(t_max/h) steps,
    so t_max is rounded to a multiple of h). Each step predicts the new row (t_{i+1}, t_j ≤ t_i)
    with Euler and then applies ``corrections`` trapezoidal (Heun) corrections, each with the
    memory integrals recomputed from the corrected row. Memory: two float64 [n+1, n+1] arrays;
    time ∝ n³ (10 s for n = 2000, 42 s for n = 3000 on one core with
    OPENBLAS_NUM_THREADS=1). ``log`` gets a progress line every ~20 s.
    """
    if temperature < 0 or h <= 0 or t_max <= 0:
        raise ValueError(f"need T >= 0, h > 0, t_max > 0; got {temperature}, {h}, {t_max}")
    n = int(round(t_max / h))
    if n < 1:
        raise ValueError(f"t_max = {t_max} is shorter than one step h = {h}")
    T = float(temperature)
    C = np.zeros((n + 1, n + 1))
    R = np.zeros((n + 1, n + 1))
    mu = np.zeros(n + 1)
    energy = np.zeros(n + 1)
    C[0, 0] = R[0, 0] = 1.0

    dc, dr, mu[0], energy[0] = _uniform_rhs(C, R, 0, h, T)
    started = reported = time.perf_counter()
    for i in range(n):
        k = i + 1
        dc, dr, mu[k], energy[k] = _heun_step(C, R, i, h, T, dc, dr, corrections)
        if log is not None and time.perf_counter() - reported > 20:
            reported = time.perf_counter()
            log(f"CK T = {T:g}: t = {k * h:g} / {n * h:g} ({reported - started:.0f} s)")
    return CKSolution(
        T,
        h,
        np.arange(n + 1) * h,
        C,
        R,
        mu,
        energy,
        {
            "model": "spherical p-spin, n = ∞ (CK)",
            "p": P,
            "temperature": T,
            "h": h,
            "corrections": corrections,
            "seconds": time.perf_counter() - started,
        },
    )


def _uniform_rhs(
    C: np.ndarray, R: np.ndarray, i: int, h: float, T: float
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """dC/dt, dR/dt at (t_i, t_j) for j = 0..i, and μ_i, e_i, from rows 0..i of the uniform grid."""
    c, r = C[i, : i + 1], R[i, : i + 1]
    a = f2(c) * r  # f″(C(t_i, s)) R(t_i, s)
    b = f1(c)  # f′(C(t_i, s))
    w = np.ones(i + 1)
    w[0] -= 0.5
    w[i] -= 0.5
    e = -h * np.dot(w, b * r)
    m = T - P * e  # = T + ∫ (f′ + f″C) R, as f″(C) C = 2 f′(C) for p = 3
    # ∫_0^{t_i} ds a(s) C(s, t_j): trapezoid over s = 0..i
    i1 = h * ((w * a) @ C[: i + 1, : i + 1])
    # ∫_0^{t_j} ds f′(C(t_i, s)) R(t_j, s): R lower triangular, half weights at s = 0 and s = j
    rj = R[: i + 1, : i + 1]
    i2 = h * (rj @ b - 0.5 * b[0] * rj[:, 0] - 0.5 * b * np.diagonal(rj))
    # ∫_{t_j}^{t_i} ds a(s) R(s, t_j): half weights at s = j and s = i
    i3 = h * (a @ rj - 0.5 * a * np.diagonal(rj) - 0.5 * a[i] * r)
    return -m * c + i1 + i2, -m * r + i3, m, e


def _heun_step(
    C: np.ndarray,
    R: np.ndarray,
    i: int,
    h: float,
    T: float,
    dc: np.ndarray,
    dr: np.ndarray,
    corrections: int,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Row k = i + 1 of C and R (in place) from row i and its derivatives dc, dr: Euler, then
    ``corrections`` Heun corrections; returns the derivatives, μ_k and e_k at the new row."""
    k = i + 1
    C[k, : i + 1] = C[i, : i + 1] + h * dc
    R[k, : i + 1] = R[i, : i + 1] + h * dr
    C[k, k] = R[k, k] = 1.0
    C[: i + 1, k] = C[k, : i + 1]
    for _ in range(corrections):
        dc1, dr1, _, _ = _uniform_rhs(C, R, k, h, T)
        C[k, : i + 1] = C[i, : i + 1] + 0.5 * h * (dc + dc1[: i + 1])
        R[k, : i + 1] = R[i, : i + 1] + 0.5 * h * (dr + dr1[: i + 1])
        C[: i + 1, k] = C[k, : i + 1]
    return _uniform_rhs(C, R, k, h, T)


def two_time_columns(
    solution: CKSolution,
    waiting_times: Sequence[int],
    lags: Sequence[int],
    step: float,
    last_step: int | None = None,
    eps: Sequence[float] = (),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The CK curves as one run's rows of the ``two_time`` table (storage.SCHEMAS), on the grid
    of a p-spin simulation: waiting_times [W] and lags [L] in integration steps
    (``two_time.grid(steps, ...)`` as in pspin.run_cell), times = steps·``step`` (the pspin dt).

    Pairs are kept where t_w + t <= last_step (default: the last step within the solution's
    t_max), like two_time.Recorder.columns (rows sorted by t_w, then t). Columns: seed,
    t_w, t (steps), delta = Δ = 2(1 − C(t_w + t, t_w)); fourth = 3Δ² and overlap [rows, K] =
    erf(ε/sqrt(2Δ)) per ε of ``eps``, the values for a Gaussian displacement of variance Δ per
    spin, which is exact at n = ∞ (the single-spin process of the spherical model is linear
    with Gaussian noise and a Gaussian start).
    """
    waiting_times = np.asarray(waiting_times, dtype=np.int64)
    lags = np.asarray(lags, dtype=np.int64)
    reach = int(math.floor(solution.times[-1] / step * (1 + 1e-12)))
    last = reach if last_step is None else int(last_step)
    if last > reach:
        raise ValueError(
            f"last_step {last} (time {last * step:g}) is beyond the solution (t_max = "
            f"{solution.times[-1]:g})"
        )
    valid = waiting_times[:, None] + lags[None, :] <= last
    w, k = np.nonzero(valid)
    tw, t = waiting_times[w], lags[k]
    return _pair_columns(tw, t, solution.correlation(tw * step, t * step), eps, seed)


def _pair_columns(
    t_w: np.ndarray, t: np.ndarray, correlation: np.ndarray, eps: Sequence[float], seed: int
) -> dict[str, np.ndarray]:
    """One run's two_time rows from C(t_w + t, t_w) at pairs (t_w, t) in steps (two_time_columns)."""
    delta = 2 * (1 - correlation)
    eps = np.asarray(eps, dtype=np.float64).reshape(-1)
    overlap = np.array(
        [[math.erf(e / math.sqrt(2 * d)) if d > 0 else 1.0 for e in eps] for d in delta]
    ).reshape(len(delta), len(eps))
    return {
        "seed": np.full(len(t_w), seed, dtype=np.int64),
        "t_w": t_w,
        "t": t,
        "delta": delta,
        "fourth": 3 * delta**2,
        "overlap": overlap,
    }


def energy_columns(
    solution: CKSolution, steps: Sequence[int], step: float, seed: int = 0
) -> dict[str, np.ndarray]:
    """e(t) = H/n at integration steps ``steps`` (time = steps·``step``, linear interpolation on the
    CK grid) as one run's rows of the ``energy`` table (storage.SCHEMAS)."""
    steps = np.asarray(steps, dtype=np.int64)
    times = steps * step
    if len(times) and times.max() > solution.times[-1] * (1 + 1e-12):
        raise ValueError(
            f"step {steps.max()} is beyond the solution (t_max = {solution.times[-1]:g})"
        )
    return {
        "seed": np.full(len(steps), seed, dtype=np.int64),
        "step": steps,
        "energy": np.interp(times, solution.times, solution.energy),
    }


def extrapolated(
    temperature: float,
    t_max: float,
    h: float,
    corrections: int = 3,
    log: Callable[[str], None] | None = None,
) -> CKSolution:
    """Richardson extrapolation of :func:`integrate` at steps h and 2h, on the 2h grid:
    X = (4 X_h − X_2h)/3 for C, R, μ and e, which cancels the h² term of the error (the scheme is
    second order). Costs 9/8 of the run at h alone; the result has step 2h."""
    fine = integrate(temperature, t_max, h, corrections, log)
    coarse = integrate(temperature, fine.times[-1], 2 * h, corrections, log)
    m = len(coarse.times)
    if not np.isclose(coarse.times[-1], fine.times[2 * (m - 1)]):
        raise ValueError(f"t_max = {t_max} must be a multiple of 2h = {2 * h}")

    def mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (4 * a - b) / 3

    sub = (slice(None, 2 * m - 1, 2),) * 2
    return CKSolution(
        fine.temperature,
        2 * h,
        coarse.times,
        mix(fine.C[sub], coarse.C),
        mix(fine.R[sub], coarse.R),
        mix(fine.mu[::2][:m], coarse.mu),
        mix(fine.energy[::2][:m], coarse.energy),
        {**fine.metadata, "h": 2 * h, "richardson_from": [h, 2 * h]},
    )


@dataclass
class CKDecimated:
    """C, R of :func:`integrate_decimated` on its final, non-uniform grid of stored times, and
    μ, e at every step of size h.

    times [M] (stored times, increasing, times[0] = 0, the last = t_max): dense (step h) over
    the most recent ``window``–2·``window`` points, then blocks of doubling step further back.
    C [M, M] symmetric with C[i, i] = 1; R [M, M] lower triangular, R[i, i] = 1.
    step_times [n + 1] = i·h; mu, energy [n + 1] at step_times. pair_C [K]: C(t_w + lag, t_w) at
    the ``pairs`` asked of :func:`integrate_decimated` (empty if none).
    """

    temperature: float
    h: float
    window: int
    times: np.ndarray
    C: np.ndarray
    R: np.ndarray
    step_times: np.ndarray
    mu: np.ndarray
    energy: np.ndarray
    metadata: dict = field(default_factory=dict)
    pair_C: np.ndarray = field(default_factory=lambda: np.zeros(0))


def integrate_decimated(
    temperature: float,
    t_max: float,
    h: float,
    window: int = 64,
    corrections: int = 3,
    log: Callable[[str], None] | None = None,
    pairs: tuple[Sequence[float], Sequence[float]] | None = None,
) -> CKDecimated:
    """:func:`integrate` with the past of the two-time grid thinned out (Kim–Latz/Fuchs style).

    The step in t stays h (the explicit Heun step needs h·μ ≲ 1, and the fast near-diagonal
    decay of C and R needs it anyway); what is decimated is the set of stored earlier times.
    Stored points carry a level ℓ (spacing h·2^ℓ); a new point has ℓ = 0, and whenever a level
    holds more than 2·``window`` points, every second one of its oldest ``window`` is dropped
    and the rest of those move to ℓ + 1 (``window`` even), so each level keeps ``window`` to
    2·``window`` points and the last ``window`` steps (lag < window·h) stay undecimated. For each interval between consecutive stored times and each
    stored column t_j the interval integrals ∫ C(s, t_j) ds and ∫ R(s, t_j) ds (R of the later
    time first) are kept, computed by the trapezoid when the interval is one step long and
    summed when two intervals merge. A memory integral ∫ g(s) X(s, t_j) ds, with g the factor
    of the current row (f″(C)R or f′(C), fast only near s = t, i.e. on undecimated intervals),
    is then the trapezoid of g·X on undecimated intervals and ḡ·∫X (ḡ the mean of g at the two
    ends) on decimated ones, so the fast decay of X near its own diagonal s ≈ t_j, resolved
    when it was computed, is not lost. Before the first decimation (t < 2·window·h) this is the
    same arithmetic as :func:`integrate`. Memory O(M²) and time O(n·M²) for M ≈
    1.5·window·log2(t/(window·h)) stored points.

    ``pairs`` = (t_w [K], lag [K]) (model time): C(t_w + lag, t_w) is recorded as the run passes
    t_w + lag, by the bilinear interpolation in (t_w, lag) of :meth:`CKSolution.correlation`; the
    grid times on either side of each t_w are never dropped, so the curves of old t_w keep their
    full resolution in the lag (``pair_C``).
    """
    n = _decimated_steps(temperature, t_max, h, window)
    T = float(temperature)
    past = _StoredPast(T, h, window)
    mu = np.zeros(n + 1)
    energy = np.zeros(n + 1)
    recorded = _PairRecorder(h, n, pairs)
    recorded.record(0, past)
    dc, dr, mu[0], energy[0] = past.rhs()
    started = reported = time.perf_counter()
    decimations = 0
    for step in range(n):
        dc, dr, mu[step + 1], energy[step + 1] = past.advance(
            step, dc, dr, step + 1 in recorded.protected, corrections
        )
        recorded.record(step + 1, past)
        dc, dr, dropped = past.decimate(dc, dr)
        decimations += dropped
        if log is not None and time.perf_counter() - reported > 20:
            reported = time.perf_counter()
            log(
                f"CK T = {T:g}: t = {past.tau[past.M - 1]:g} / {n * h:g}, {past.M} points ({reported - started:.0f} s)"
            )
    M = past.M
    return CKDecimated(
        T,
        h,
        window,
        past.tau[:M].copy(),
        past.C[:M, :M].copy(),
        np.tril(past.Rs[:M, :M]),
        np.arange(n + 1) * h,
        mu,
        energy,
        {
            "model": "spherical p-spin, n = ∞ (CK), decimated",
            "p": P,
            "temperature": T,
            "h": h,
            "window": window,
            "corrections": corrections,
            "points": M,
            "decimations": decimations,
            "seconds": time.perf_counter() - started,
        },
        recorded.values(),
    )


def _decimated_steps(temperature: float, t_max: float, h: float, window: int) -> int:
    """The number of steps of :func:`integrate_decimated`, once its arguments are checked."""
    if temperature < 0 or h <= 0 or t_max <= 0:
        raise ValueError(f"need T >= 0, h > 0, t_max > 0; got {temperature}, {h}, {t_max}")
    if window < 2 or window % 2:
        raise ValueError(f"window must be even and >= 2; got {window}")
    n = int(round(t_max / h))
    if n < 1:
        raise ValueError(f"t_max = {t_max} is shorter than one step h = {h}")
    return n


class _StoredPast:
    """The stored times of :func:`integrate_decimated` and C, R and their interval integrals
    there: M points of capacity ``cap`` (doubled when full), stored time i at step grid[i]
    (tau = grid·h) with its level (−1: never dropped)."""

    def __init__(self, T: float, h: float, window: int):
        self.T, self.h, self.window = T, h, window
        self.cap = cap = 4 * window + 8
        self.tau = np.zeros(cap)
        self.level = np.zeros(cap, dtype=np.int64)
        self.merged = np.zeros(cap, dtype=bool)  # interval k = [tau_k, tau_{k+1}] was decimated
        self.C = np.zeros((cap, cap))
        self.Rs = np.zeros((cap, cap))  # symmetric extension: Rs[i, j] = R(max, min)
        self.IC = np.zeros((cap, cap))  # IC[k, j] = ∫_{tau_k}^{tau_{k+1}} C(s, t_j) ds
        self.IR = np.zeros((cap, cap))  # IR[k, j] = ∫ R(max(s, t_j), min(s, t_j)) ds over k
        self.C[0, 0] = self.Rs[0, 0] = 1.0
        self.level[0] = -1  # t = 0 is never dropped
        self.M = 1
        self.grid = np.zeros(cap, dtype=np.int64)  # grid[i]: the step of stored time i

    def rhs(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        """dC/dt, dR/dt at (the last stored time, t_j) for every stored t_j, and μ, e there."""
        M, T, tau, C, Rs = self.M, self.T, self.tau, self.C, self.Rs
        i = M - 1
        c, r = C[i, :M], Rs[i, :M]
        if M == 1:
            return -T * c, -T * r, T, 0.0
        a = f2(c) * r
        b = f1(c)
        w = np.diff(tau[:M])
        fine = ~self.merged[: M - 1]
        br = b * r
        e = -np.sum(0.5 * w * (br[:-1] + br[1:]))
        m = T - P * e
        wf = np.where(fine, 0.5 * w, 0.0)
        u = np.zeros(M)
        u[:-1] += wf
        u[1:] += wf
        cm, rm = C[:M, :M], Rs[:M, :M]
        icm, irm = self.IC[: M - 1, :M], self.IR[: M - 1, :M]
        abar = np.where(fine, 0.0, 0.5 * (a[:-1] + a[1:]))
        bbar = np.where(fine, 0.0, 0.5 * (b[:-1] + b[1:]))
        i1 = (u * a) @ cm + abar @ icm
        qa = wf[:, None] * (a[:-1, None] * rm[:-1] + a[1:, None] * rm[1:]) + abar[:, None] * irm
        qb = wf[:, None] * (b[:-1, None] * rm[:-1] + b[1:, None] * rm[1:]) + bbar[:, None] * irm
        ca, cb = np.cumsum(qa, axis=0), np.cumsum(qb, axis=0)
        j = np.arange(1, M)
        i2 = np.zeros(M)
        i2[1:] = cb[j - 1, j]  # s < t_j
        i3 = ca[-1].copy()
        i3[1:] -= ca[j - 1, j]  # s > t_j
        return -m * c + i1 + i2, -m * r + i3, m, e

    def set_intervals(self) -> None:
        """The interval integrals of the last stored time's row and column (trapezoid)."""
        M, h, C, Rs = self.M, self.h, self.C, self.Rs
        k = M - 1
        w = np.diff(self.tau[:M])
        self.IC[k - 1, :M] = 0.5 * h * (C[k - 1, :M] + C[k, :M])
        self.IR[k - 1, :M] = 0.5 * h * (Rs[k - 1, :M] + Rs[k, :M])
        self.IC[:k, k] = 0.5 * w * (C[:k, k] + C[1 : k + 1, k])
        self.IR[:k, k] = 0.5 * w * (Rs[:k, k] + Rs[1 : k + 1, k])

    def grow(self) -> None:
        """Double the capacity (the stored values are kept)."""
        cap, new = self.cap, 2 * self.cap
        self.tau, self.level, self.merged, self.grid = (
            np.resize(x, new) for x in (self.tau, self.level, self.merged, self.grid)
        )
        grown = []
        for x in (self.C, self.Rs, self.IC, self.IR):
            y = np.zeros((new, new))
            y[:cap, :cap] = x
            grown.append(y)
        self.C, self.Rs, self.IC, self.IR = grown
        self.cap = new

    def advance(
        self, step: int, dc: np.ndarray, dr: np.ndarray, protected: bool, corrections: int
    ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Store time (step + 1)·h: Euler from the last stored row and its derivatives dc, dr,
        then ``corrections`` Heun corrections; returns the derivatives, μ and e there."""
        if self.M == self.cap:
            self.grow()
        h = self.h
        i, k = self.M - 1, self.M
        self.M += 1
        self.tau[k] = (step + 1) * h
        self.grid[k] = step + 1
        self.level[k] = -1 if protected else 0
        self.merged[i] = False
        C, Rs = self.C, self.Rs
        C[k, :k] = C[i, :k] + h * dc
        Rs[k, :k] = Rs[i, :k] + h * dr
        C[k, k] = Rs[k, k] = 1.0
        C[:k, k] = C[k, :k]
        Rs[:k, k] = Rs[k, :k]
        self.set_intervals()
        for _ in range(corrections):
            dc1, dr1, _, _ = self.rhs()
            C[k, :k] = C[i, :k] + 0.5 * h * (dc + dc1[:k])
            Rs[k, :k] = Rs[i, :k] + 0.5 * h * (dr + dr1[:k])
            C[:k, k] = C[k, :k]
            Rs[:k, k] = Rs[k, :k]
            self.set_intervals()
        return self.rhs()

    def decimate(self, dc: np.ndarray, dr: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Thin every level that holds more than 2·window points, from level 0 up; returns the
        derivatives dc, dr at the points kept and the number of levels thinned."""
        window, decimations, lev = self.window, 0, 0
        while True:
            idx = np.nonzero(self.level[: self.M] == lev)[0]
            if len(idx) <= 2 * window:
                break
            keep = self._drop(idx, lev)
            dc, dr = dc[keep], dr[keep]
            decimations += 1
            lev += 1
        return dc, dr, decimations

    def _drop(self, idx: np.ndarray, lev: int) -> np.ndarray:
        """Drop every second one of the oldest ``window`` points ``idx`` of level ``lev`` (their
        intervals merged into the one before) and move the rest up a level; returns the mask of
        the points kept [M] (before the drop)."""
        M, window = self.M, self.window
        drop = idx[1:window:2]
        for p in drop:  # never adjacent: the sums are independent
            self.IC[p - 1, :M] += self.IC[p, :M]
            self.IR[p - 1, :M] += self.IR[p, :M]
            self.merged[p - 1] = True
        self.level[idx[0:window:2]] = lev + 1
        keep = np.ones(M, dtype=bool)
        keep[drop] = False
        m2 = int(keep.sum())
        ki = keep[: M - 1]
        for x in (self.C, self.Rs):
            x[:m2, :m2] = x[:M, :M][np.ix_(keep, keep)]
        for x in (self.IC, self.IR):
            x[: m2 - 1, :m2] = x[: M - 1, :M][np.ix_(ki, keep)]
        self.tau[:m2] = self.tau[:M][keep]
        self.grid[:m2] = self.grid[:M][keep]
        self.level[:m2] = self.level[:M][keep]
        self.merged[: m2 - 1] = self.merged[: M - 1][ki]
        self.M = m2
        return keep


class _PairRecorder:
    """C(t_w + lag, t_w) at the ``pairs`` (t_w [K], lag [K]) of :func:`integrate_decimated`: the
    four grid corners of each pair's bilinear interpolation, recorded as the run passes them."""

    def __init__(self, h: float, n: int, pairs: tuple[Sequence[float], Sequence[float]] | None):
        if pairs is None:
            pairs = (np.zeros(0), np.zeros(0))
        rows, cols, self.weights = _corners(h, n, *pairs)
        self.protected = set(cols.reshape(-1).tolist())  # the steps never dropped
        self.corner = np.zeros(rows.shape)
        # row step -> [(flat corner index, column step)]
        self.wanted: dict[int, list[tuple[int, int]]] = {}
        for flat, (r, c) in enumerate(zip(rows.reshape(-1).tolist(), cols.reshape(-1).tolist())):
            self.wanted.setdefault(r, []).append((flat, c))

    def record(self, r: int, past: _StoredPast) -> None:
        """The corners in row step ``r``, the last stored time of ``past``."""
        M = past.M
        for flat, c in self.wanted.pop(r, ()):
            pos = int(np.searchsorted(past.grid[:M], c))
            self.corner.flat[flat] = past.C[M - 1, pos]

    def values(self) -> np.ndarray:
        """C at the pairs [K]."""
        return (self.corner * self.weights).sum(axis=1)


@dataclass
class CKCell:
    """The CK curves of one p-spin cell on its simulation's grid (:func:`run_cell`): the two_time
    rows and energy rows of one run (seed 0), as storage.SCHEMAS has them, and the solution's
    metadata."""

    two_time: dict[str, np.ndarray]
    energy: dict[str, np.ndarray]
    metadata: dict


def run_cell(
    n: int | None,
    temperature: float,
    settings: dict,
    log: Callable[[str], None] | None = None,
) -> CKCell:
    """CK beside one simulated p-spin cell: Δ = 2(1 − C) on the simulation's two-time grid
    (``settings`` as glassynets.settings.ck gives them: the pspin section's dt, steps, grid and
    overlap_eps, and ``ck``'s step and window) and e at its snapshot steps.

    n None: the n = ∞ equations at T. An int n: mapped to the simulation at n spins, whose Var H
    is f_n·n/2 (:func:`glassynets.pspin.finite_n_factor`): with r = sqrt(f_n), the simulation at
    (T, t) is CK at T/r and time r·t, with energies r·e (the leading 1/n correction).
    """
    from . import pspin, two_time
    from .schedule import log_steps

    steps, dt, h = settings["steps"], settings["dt"], settings["ck"]["step"]
    waiting_times, lags = two_time.grid(
        steps, settings["waiting_times_per_decade"], settings["lags_per_decade"]
    )
    w, k = np.nonzero(waiting_times[:, None] + lags[None, :] <= steps)
    tw, t = waiting_times[w], lags[k]
    r = 1.0 if n is None else math.sqrt(pspin.finite_n_factor(n))
    t_max = h * math.ceil(r * steps * dt / h - 1e-9)
    solution = integrate_decimated(
        temperature / r,
        t_max,
        h,
        settings["ck"]["window"],
        log=log,
        pairs=(r * tw * dt, r * t * dt),
    )
    record = log_steps(steps, settings["snapshots_per_decade"])
    energy = r * np.interp(r * record * dt, solution.step_times, solution.energy)
    return CKCell(
        _pair_columns(tw, t, solution.pair_C, settings["overlap_eps"], 0),
        {"seed": np.zeros(len(record), dtype=np.int64), "step": record, "energy": energy},
        {
            **solution.metadata,
            "mapped_to_n": n,
            "time_factor": r,
            "ck_temperature": temperature / r,
        },
    )


def solve_cell(job: Job) -> None:
    """The ck stage: integrate the exact n = ∞ dynamics of the p-spin (the CK equations) on a
    simulated cell's two-time grid, at n = ∞ or mapped to N spins; write them as a two_time table
    of one run and an energy table, for the same aging analysis.

    Settings: glassynets.settings.ck; cell: n ("inf", or the N the solution is mapped to) and
    temperature. Outputs two_time and energy.
    """
    from . import storage

    settings = job.settings
    n = None if job.cell["n"] == "inf" else int(job.cell["n"])
    temperature = float(job.cell["temperature"])
    cell = run_cell(n, temperature, settings, log=job.log)
    meta = {
        "model": "pspin",
        "theory": "ck",
        "experiment": "pspin_ck",
        "p": 3,
        "n_spins": n,
        "n_params": n or 1,  # Δ is per spin; a network-sized Δ* is refused for the p-spin (config)
        "temperature": temperature,
        "time": settings["steps"] * settings["dt"],
        **settings,
        "ck_solution": cell.metadata,
    }
    meta.update(storage.provenance([], meta))
    meta = job.meta(meta)
    two_time, energy = job.output("two_time"), job.output("energy")
    storage.write_two_time(two_time, cell.two_time, settings["overlap_eps"], meta)
    storage.write(energy, "energy", cell.energy, meta)
    job.log(
        f"wrote {two_time} and {energy}: {len(cell.two_time['t_w'])} pairs, "
        f"final energy per spin {cell.energy['energy'][-1]:.4f} "
        f"({cell.metadata['seconds']:.0f} s, {cell.metadata['points']} stored times)"
    )
