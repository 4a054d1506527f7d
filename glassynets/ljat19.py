"""LJAT19: basins of attraction of the three-atom Lennard-Jones + Axilrod-Teller cluster.

Physics (reduced units, ε = σ = 1, unit mobility): three atoms interact through Lennard-Jones
pairs V(r) = 4 (r^-12 - r^-6) plus the Axilrod-Teller triple-dipole term

    Z (1 + 3 cos θ1 cos θ2 cos θ3) / (r12 r13 r23)^3,   Z = 2,

with θk the internal angle of the triangle at atom k. At Z = 2 there are four minima: the
equilateral triangle (E ≈ -2.185, side ≈ 1.169) and three linear chains (E ≈ -2.219, bonds
≈ 1.109), one per choice of central atom.

A sample is a starting geometry given by its three distances (r12, r13, r23); its label is the
minimum whose basin of attraction under the steepest-descent (gradient) flow dx/dt = -∇E
contains the start. The flow is integrated in Cartesian coordinates with a vectorised adaptive
Runge-Kutta scheme (Bogacki-Shampine 3(2), per-sample step size), so a trajectory follows the
flow closely and cannot jump between basins the way a line-search optimiser can.

Label convention (``LABELS[k]`` names label k):
    0 triangle        equilateral triangle
    1 chain_center1   linear chain 2-1-3 (atom 1 in the middle, r23 the longest distance)
    2 chain_center2   linear chain 1-2-3 (atom 2 in the middle, r13 the longest distance)
    3 chain_center3   linear chain 1-3-2 (atom 3 in the middle, r12 the longest distance)
   -1                 failure: flow not converged or end point not recognised as a minimum
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

LABELS: tuple[str, ...] = ("triangle", "chain_center1", "chain_center2", "chain_center3")
FAILED: int = -1

Z_AT: float = 2.0
"""Axilrod-Teller strength Z (reduced units)."""

# Reference minima (reduced units), from 1-D minimisation of the symmetric shapes
# (E(r, r, r) and E(r, r, 2r)); the tests re-derive them.
E_TRIANGLE: float = -2.185099  # side 1.168752
E_CHAIN: float = -2.219098  # bonds 1.108763, ends 2.217526
SIDE_TRIANGLE: float = 1.168752
BOND_CHAIN: float = 1.108763

# Starting-geometry families (see `StartGeometry`). The default, calibrated against the paper's
# facts in docs/ljat19.md: atoms uniform in a cube of side 1.5 σ, no pair closer than 0.75 σ.
FAMILIES: tuple[str, ...] = ("box", "cube", "ball")
DEFAULT_FAMILY: str = "cube"
DEFAULT_SIZE: float = 1.5
DEFAULT_MIN_SEPARATION: float = 0.75
DEFAULT_LOW: float = 1.0  # box family: the distance box of earlier versions, [1.0, 1.85]
DEFAULT_HIGH: float = 1.85
CHUNK: int = 1024
"""Samples per independently seeded chunk: sample i depends only on (seed, i)."""

# Gradient-flow integration defaults.
DEFAULT_FLOW_GTOL: float = 1e-3  # leave the flow when |∇E| < this at positive curvature
DEFAULT_GTOL: float = 1e-9  # Newton polish target for |∇E| (Cartesian, 6 components)
DEFAULT_RTOL: float = 1e-7  # local error tolerance of the adaptive integrator (per step)
DEFAULT_MAX_TIME: float = 2.0e4  # flow time limit; beyond it a sample counts as unconverged
DEFAULT_MAX_STEPS: int = 200_000

# End-point classification tolerances.
_SHAPE_TOL = 0.02  # distance tolerance on the minimum geometries
_ENERGY_TOL = 1e-4  # energy tolerance on the minimum energies


# --------------------------------------------------------------------------------------------
# Energy
# --------------------------------------------------------------------------------------------


def _lj(r: np.ndarray) -> np.ndarray:
    inv6 = r**-6
    return 4.0 * (inv6 * inv6 - inv6)


def _dlj(r: np.ndarray) -> np.ndarray:
    inv6 = r**-6
    return (-48.0 * inv6 * inv6 + 24.0 * inv6) / r


def energy(r12: np.ndarray, r13: np.ndarray, r23: np.ndarray, z: float = Z_AT) -> np.ndarray:
    """Total energy (reduced units) from the three distances; broadcasts over array shapes."""
    a, b, c = (np.asarray(x, dtype=np.float64) for x in (r12, r13, r23))
    a2, b2, c2 = a * a, b * b, c * c
    # cos θ1 cos θ2 cos θ3 from the law of cosines: numerators u, v, w over 8 a²b²c².
    u, v, w = a2 + b2 - c2, a2 + c2 - b2, b2 + c2 - a2
    p = a * b * c
    at = z * (1.0 / p**3 + 3.0 * u * v * w / (8.0 * p**5))
    return _lj(a) + _lj(b) + _lj(c) + at


def energy_distance_gradient(
    r12: np.ndarray, r13: np.ndarray, r23: np.ndarray, z: float = Z_AT
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(∂E/∂r12, ∂E/∂r13, ∂E/∂r23), each shaped like the broadcast inputs."""
    a, b, c = (np.asarray(x, dtype=np.float64) for x in (r12, r13, r23))
    a2, b2, c2 = a * a, b * b, c * c
    u, v, w = a2 + b2 - c2, a2 + c2 - b2, b2 + c2 - a2
    p = a * b * c
    P = u * v * w
    ip3 = 1.0 / p**3
    k5 = 3.0 / (8.0 * p**5)
    # d/dx [1/p³ + 3P/(8p⁵)] with ∂p/∂x = p/x and ∂P/∂x from ∂(u, v, w)/∂x = ±2x.
    dPa = 2.0 * a * (v * w + u * w - u * v)
    dPb = 2.0 * b * (v * w - u * w + u * v)
    dPc = 2.0 * c * (-v * w + u * w + u * v)
    ga = _dlj(a) + z * (-3.0 * ip3 / a + k5 * (dPa - 5.0 * P / a))
    gb = _dlj(b) + z * (-3.0 * ip3 / b + k5 * (dPb - 5.0 * P / b))
    gc = _dlj(c) + z * (-3.0 * ip3 / c + k5 * (dPc - 5.0 * P / c))
    return ga, gb, gc


def pair_distances(x: np.ndarray) -> np.ndarray:
    """Distances (r12, r13, r23) [M, 3] of positions x [M, 3, d] (d = 2 or 3)."""
    d12 = x[:, 0] - x[:, 1]
    d13 = x[:, 0] - x[:, 2]
    d23 = x[:, 1] - x[:, 2]
    return np.stack(
        [np.sqrt((d12 * d12).sum(-1)), np.sqrt((d13 * d13).sum(-1)), np.sqrt((d23 * d23).sum(-1))],
        axis=-1,
    )


def cartesian_energy_gradient(x: np.ndarray, z: float = Z_AT) -> tuple[np.ndarray, np.ndarray]:
    """Energy [M] and Cartesian gradient [M, 3, d] of positions x [M, 3, d].

    The forces on three atoms are combinations of the interatomic vectors, so they lie in the
    plane of the atoms: a planar start stays planar and d = 2 is exact (and cheaper than d = 3).
    """
    d12 = x[:, 0] - x[:, 1]
    d13 = x[:, 0] - x[:, 2]
    d23 = x[:, 1] - x[:, 2]
    r12 = np.sqrt((d12 * d12).sum(-1))
    r13 = np.sqrt((d13 * d13).sum(-1))
    r23 = np.sqrt((d23 * d23).sum(-1))
    e = energy(r12, r13, r23, z)
    ga, gb, gc = energy_distance_gradient(r12, r13, r23, z)
    f12 = (ga / r12)[:, None] * d12  # ∂E/∂x1 contribution of r12; -f12 acts on atom 2
    f13 = (gb / r13)[:, None] * d13
    f23 = (gc / r23)[:, None] * d23
    g = np.stack([f12 + f13, -f12 + f23, -f13 - f23], axis=1)
    return e, g


# --------------------------------------------------------------------------------------------
# Geometry and starting distribution
# --------------------------------------------------------------------------------------------


def positions_from_distances(d: np.ndarray) -> np.ndarray:
    """Planar positions [n, 3, 2] realising distances d [n, 3] = (r12, r13, r23).

    Atom 1 at the origin, atom 2 on the +x axis, atom 3 in the upper half-plane; the centre of
    mass is then moved to the origin (the flow conserves it; this only keeps numbers small).
    """
    d = np.asarray(d, dtype=np.float64)
    r12, r13, r23 = d[:, 0], d[:, 1], d[:, 2]
    x3 = (r12 * r12 + r13 * r13 - r23 * r23) / (2.0 * r12)
    y3 = np.sqrt(np.maximum(r13 * r13 - x3 * x3, 0.0))
    pos = np.zeros((d.shape[0], 3, 2))
    pos[:, 1, 0] = r12
    pos[:, 2, 0] = x3
    pos[:, 2, 1] = y3
    return pos - pos.mean(axis=1, keepdims=True)


def max_separation(family: str, size: float) -> float:
    """Largest usable ``min_separation`` (σ) of a position family: the side of the largest
    equilateral triangle that fits in the region (cube of side size: the face diagonal size·√2;
    ball of radius size: size·√3, inscribed in a great circle). Infinite for other families."""
    return {"cube": size * np.sqrt(2.0), "ball": size * np.sqrt(3.0)}.get(family, float("inf"))


@dataclass(frozen=True)
class StartGeometry:
    """How the starting geometries are drawn; every parameter is a distance in σ.

    - ``box``: the three distances i.i.d. uniform in [low, high], non-triangles rejected.
    - ``cube``: the three atoms i.i.d. uniform in a cube of side ``size``.
    - ``ball``: the three atoms i.i.d. uniform in a ball of radius ``size``.

    Position families reject starts with a pair closer than ``min_separation`` (overlapping
    atoms: huge repulsion). Parameters a family does not use are ignored and not stored.
    """

    family: str = DEFAULT_FAMILY
    low: float = DEFAULT_LOW
    high: float = DEFAULT_HIGH
    size: float = DEFAULT_SIZE
    min_separation: float = DEFAULT_MIN_SEPARATION

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown start family {self.family!r}; one of {FAMILIES}")
        if self.family == "box" and not 0.0 < self.low < self.high:
            raise ValueError("box: need 0 < low < high")
        bound = max_separation(self.family, self.size)
        if self.family != "box" and not 0.0 <= self.min_separation < bound:
            raise ValueError(
                f"{self.family}: need 0 <= min_separation < {bound:.4g} "
                "(the largest equilateral triangle that fits)"
            )

    def params(self) -> dict[str, Any]:
        """The family and the parameters it uses (for provenance and CLI round trips)."""
        if self.family == "box":
            return {"family": "box", "low": float(self.low), "high": float(self.high)}
        return {
            "family": self.family,
            "size": float(self.size),
            "min_separation": float(self.min_separation),
        }

    def describe(self) -> str:
        """One line saying how a start is drawn."""
        return {
            "box": "r12,r13,r23 iid uniform[low,high], non-triangles rejected per chunk",
            "cube": "3 atoms iid uniform in a cube of side size, pairs < min_separation rejected",
            "ball": "3 atoms iid uniform in a ball of radius size, pairs < min_separation rejected",
        }[self.family]


DEFAULT_START = StartGeometry()


def _draw_box(rng: np.random.Generator, g: StartGeometry) -> np.ndarray:
    """CHUNK candidate distance triples [CHUNK, 3] of the box family, non-triangles dropped."""
    d = rng.uniform(g.low, g.high, size=(CHUNK, 3))
    s = np.sort(d, axis=1)
    return d[s[:, 2] < s[:, 0] + s[:, 1]]  # strict triangle inequality: a planar triangle exists


def _draw_positions(rng: np.random.Generator, g: StartGeometry) -> np.ndarray:
    """CHUNK candidate distance triples of a position family, too-close pairs dropped."""
    if g.family == "cube":
        x = rng.uniform(0.0, g.size, size=(CHUNK, 3, 3))
    else:  # ball: isotropic direction times radius size·u^(1/3) (uniform volume density)
        v = rng.normal(size=(CHUNK, 3, 3))
        v /= np.linalg.norm(v, axis=-1, keepdims=True)
        x = v * (g.size * rng.uniform(size=(CHUNK, 3, 1)) ** (1.0 / 3.0))
    d = pair_distances(x)
    return d[d.min(axis=1) >= g.min_separation]


def _chunk_distances(seed: int, chunk: int, geometry: StartGeometry) -> np.ndarray:
    """The CHUNK distance triples of one chunk, from its own SeedSequence([seed, chunk])."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk]))
    draw = _draw_box if geometry.family == "box" else _draw_positions
    kept: list[np.ndarray] = []
    n_kept = 0
    while n_kept < CHUNK:
        d = draw(rng, geometry)
        kept.append(d)
        n_kept += len(d)
    return np.concatenate(kept)[:CHUNK]


def starting_distances(
    n: int, seed: int, start: int = 0, geometry: StartGeometry = DEFAULT_START
) -> np.ndarray:
    """Starting distances [n, 3] = (r12, r13, r23), float64, for samples start .. start+n-1.

    Drawn from `geometry` with rejection inside each chunk of CHUNK samples, so sample i depends
    only on (seed, i, geometry) and any set is the prefix (or slice) of a larger one.
    """
    if n < 0 or start < 0:
        raise ValueError("n and start must be non-negative")
    if n == 0:
        return np.zeros((0, 3))
    c0, c1 = start // CHUNK, (start + n - 1) // CHUNK
    block = np.concatenate([_chunk_distances(seed, c, geometry) for c in range(c0, c1 + 1)])
    off = start - c0 * CHUNK
    return block[off : off + n].copy()


# --------------------------------------------------------------------------------------------
# Gradient flow
# --------------------------------------------------------------------------------------------

# Bogacki-Shampine 3(2) tableau (FSAL): cheap per step and with a real-axis stability interval
# (≈ -2.5) close to higher-order schemes, which matters because near a minimum the step is
# limited by stability (stiffest mode λ ≈ 2e2), not by accuracy.
_BS_A = ((0.5,), (0.0, 0.75), (2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0))
_BS_E = np.array([2.0 / 9.0 - 7.0 / 24.0, 1.0 / 3.0 - 0.25, 4.0 / 9.0 - 1.0 / 3.0, -0.125])


def _internal_basis(x: np.ndarray) -> np.ndarray:
    """Orthonormal basis [M, 6, 3] of planar displacements orthogonal to rigid motions.

    Rigid motions (two translations, one rotation about the centre of mass) are exact zero modes
    of E; removing them makes the Hessian invertible and its signature meaningful.
    """
    m = x.shape[0]
    c = x - x.mean(axis=1, keepdims=True)
    rigid = np.zeros((m, 3, 2, 3))
    rigid[:, :, 0, 0] = 1.0
    rigid[:, :, 1, 1] = 1.0
    rigid[:, :, 0, 2] = -c[:, :, 1]
    rigid[:, :, 1, 2] = c[:, :, 0]
    u = np.linalg.svd(rigid.reshape(m, 6, 3), full_matrices=True)[0]
    return u[:, :, 3:]


def cartesian_hessian(x: np.ndarray, z: float = Z_AT, eps: float = 1e-6) -> np.ndarray:
    """Hessian [M, 6, 6] of planar positions x [M, 3, 2], central differences of the gradient."""
    m = x.shape[0]
    flat = x.reshape(m, 6)
    h = np.empty((m, 6, 6))
    for k in range(6):
        xp, xm = flat.copy(), flat.copy()
        xp[:, k] += eps
        xm[:, k] -= eps
        gp = cartesian_energy_gradient(xp.reshape(m, 3, 2), z)[1].reshape(m, 6)
        gm = cartesian_energy_gradient(xm.reshape(m, 3, 2), z)[1].reshape(m, 6)
        h[:, k] = (gp - gm) / (2.0 * eps)
    return 0.5 * (h + np.swapaxes(h, 1, 2))


def internal_hessian(x: np.ndarray, z: float = Z_AT) -> tuple[np.ndarray, np.ndarray]:
    """(Q [M, 6, 3], Q^T H Q [M, 3, 3]): the Hessian restricted to internal (shape) motions."""
    q = _internal_basis(x)
    hq = np.swapaxes(q, 1, 2) @ cartesian_hessian(x, z) @ q
    return q, 0.5 * (hq + np.swapaxes(hq, 1, 2))


def _min_internal_curvature(x: np.ndarray, z: float) -> np.ndarray:
    return np.linalg.eigvalsh(internal_hessian(x, z)[1])[:, 0]


def gradient_flow(
    x0: np.ndarray,
    flow_gtol: float = DEFAULT_FLOW_GTOL,
    rtol: float = DEFAULT_RTOL,
    max_time: float = DEFAULT_MAX_TIME,
    max_steps: int = DEFAULT_MAX_STEPS,
    z: float = Z_AT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate dx/dt = -∇E from planar positions x0 [M, 3, 2] into the basin of a minimum.

    Adaptive Bogacki-Shampine 3(2) with a per-sample step: a step is accepted when the local
    error estimate (max over coordinates) is below rtol (absolute: positions are O(1)). A sample
    leaves the flow once |∇E| < flow_gtol where the Hessian restricted to internal motions is
    positive definite, i.e. next to a minimum (not lingering near a saddle); there the basin is
    decided. The tail of the flow is stiff for an explicit scheme (the step is stability-bound),
    so the last digits are left to `newton_polish`. Finished samples leave the working set,
    so the cost follows the slow ones.

    Returns (x [M, 3, 2], flow time [M], entered-a-basin bool [M]).
    """
    x_all = np.array(x0, dtype=np.float64, copy=True)
    m = x_all.shape[0]
    t_all = np.full(m, np.nan)
    conv = np.zeros(m, dtype=bool)
    idx = np.arange(m)
    x = x_all.copy()
    k1 = -cartesian_energy_gradient(x, z)[1]
    t = np.zeros(m)
    h = np.full(m, 1e-3)
    a2, a3, b = _BS_A
    for _ in range(max_steps + 1):
        gn = np.sqrt((k1 * k1).sum(axis=(1, 2)))
        done = gn < flow_gtol
        if done.any():
            sel = np.flatnonzero(done)
            done[sel] = _min_internal_curvature(x[sel], z) > 0.0
        out = done | (t >= max_time) | ~np.isfinite(gn)
        if out.any():
            conv[idx[done]] = True
            x_all[idx[out]], t_all[idx[out]] = x[out], t[out]
            keep = ~out
            idx, x, k1, t, h = idx[keep], x[keep], k1[keep], t[keep], h[keep]
        if not idx.size:
            break
        hb = h[:, None, None]
        k2 = -cartesian_energy_gradient(x + hb * (a2[0] * k1), z)[1]
        k3 = -cartesian_energy_gradient(x + hb * (a3[1] * k2), z)[1]
        xn = x + hb * (b[0] * k1 + b[1] * k2 + b[2] * k3)
        k4 = -cartesian_energy_gradient(xn, z)[1]
        err = hb * (_BS_E[0] * k1 + _BS_E[1] * k2 + _BS_E[2] * k3 + _BS_E[3] * k4)
        err = np.abs(err).max(axis=(1, 2)) / rtol
        ok = err <= 1.0  # NaN compares False: a blown-up trial step is rejected
        x[ok], k1[ok], t[ok] = xn[ok], k4[ok], t[ok] + h[ok]
        fac = np.where(np.isfinite(err), 0.9 * np.maximum(err, 1e-10) ** (-1.0 / 3.0), 0.1)
        h = h * np.clip(fac, 0.1, 2.0)
    if idx.size:  # ran out of steps: report where they are, not converged
        x_all[idx], t_all[idx] = x, t
    return x_all, t_all, conv


def newton_polish(
    x: np.ndarray, gtol: float = DEFAULT_GTOL, max_iter: int = 20, z: float = Z_AT
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton iterations in the internal subspace from points x [M, 3, 2] next to a minimum.

    Only called once the flow has put a sample in the positive-curvature neighbourhood of a
    minimum, where Newton converges quadratically to that same minimum.
    Returns (x [M, 3, 2], energy [M], gradient norm [M]).
    """
    x = np.array(x, dtype=np.float64, copy=True)
    for _ in range(max_iter):
        e, g = cartesian_energy_gradient(x, z)
        gn = np.sqrt((g * g).sum(axis=(1, 2)))
        act = np.flatnonzero(gn >= gtol)
        if not act.size:
            break
        q, hq = internal_hessian(x[act], z)
        gq = np.swapaxes(q, 1, 2) @ g[act].reshape(-1, 6, 1)
        try:
            step = q @ np.linalg.solve(hq, gq)
        except np.linalg.LinAlgError:
            step = np.zeros((act.size, 6, 1))
        x[act] -= step.reshape(-1, 3, 2)
    e, g = cartesian_energy_gradient(x, z)
    return x, e, np.sqrt((g * g).sum(axis=(1, 2)))


def classify(d: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Label int8 [n] of end-point distances d [n, 3] and energies e [n]; -1 if no minimum.

    Triangle: all sides within _SHAPE_TOL of SIDE_TRIANGLE. Chain: the two short distances within
    _SHAPE_TOL of BOND_CHAIN and the longest equal to their sum (collinear); the centre atom is
    the one opposite the longest distance. Either way the energy must match the minimum's.
    """
    d = np.asarray(d, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    lab = np.full(d.shape[0], FAILED, dtype=np.int8)
    tri = (np.abs(d - SIDE_TRIANGLE) < _SHAPE_TOL).all(axis=1) & (
        np.abs(e - E_TRIANGLE) < _ENERGY_TOL
    )
    longest = np.argmax(d, axis=1)
    s = np.sort(d, axis=1)
    chain = (
        (np.abs(s[:, :2] - BOND_CHAIN) < _SHAPE_TOL).all(axis=1)
        & (np.abs(s[:, 2] - s[:, 0] - s[:, 1]) < _SHAPE_TOL)
        & (np.abs(e - E_CHAIN) < _ENERGY_TOL)
    )
    lab[tri] = 0
    # longest r12 (col 0) -> atom 3 central (label 3); r13 -> atom 2 (2); r23 -> atom 1 (1).
    lab[chain] = np.array([3, 2, 1], dtype=np.int8)[longest[chain]]
    return lab


def minimise(
    distances: np.ndarray,
    flow_gtol: float = DEFAULT_FLOW_GTOL,
    gtol: float = DEFAULT_GTOL,
    rtol: float = DEFAULT_RTOL,
    max_time: float = DEFAULT_MAX_TIME,
    z: float = Z_AT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Basin labels of starting distances [n, 3] under the steepest-descent flow.

    Returns (labels int8 [n] with -1 for failures, final energy float64 [n], converged bool [n]).
    converged means: the flow entered a minimum's neighbourhood within max_time and the Newton
    polish reached |∇E| < gtol. A converged point whose end geometry is not one of the four
    minima still gets label -1.
    """
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] != 3:
        raise ValueError("distances must have shape [n, 3]")
    x, _, in_basin = gradient_flow(
        positions_from_distances(d), flow_gtol=flow_gtol, rtol=rtol, max_time=max_time, z=z
    )
    labels = np.full(d.shape[0], FAILED, dtype=np.int8)
    energy_out = energy(*pair_distances(x).T, z=z)
    converged = np.zeros(d.shape[0], dtype=bool)
    sel = np.flatnonzero(in_basin)
    if sel.size:
        xp, ep, gp = newton_polish(x[sel], gtol=gtol, z=z)
        ok = gp < gtol
        converged[sel] = ok
        energy_out[sel] = ep
        lab = classify(pair_distances(xp), ep)
        # The polish must stay in the minimum the flow approached: compare with the flow's end.
        lab[lab != classify(pair_distances(x[sel]), ep)] = FAILED
        labels[sel] = np.where(ok, lab, FAILED)
    return labels, energy_out, converged


# --------------------------------------------------------------------------------------------
# Data set
# --------------------------------------------------------------------------------------------


def generator_params(geometry: StartGeometry = DEFAULT_START) -> dict[str, Any]:
    """Everything that determines the generated data (store it beside the data)."""
    return {
        "generator": "glassynets.ljat19",
        "potential": "LJ(eps=1,sigma=1) + Axilrod-Teller",
        "z": Z_AT,
        "labels": list(LABELS),
        "distribution": geometry.describe(),
        "start": geometry.params(),
        "chunk": CHUNK,
        "seeding": "np.random.SeedSequence([seed, chunk_index]) -> default_rng",
        "minimiser": "steepest-descent flow, adaptive Bogacki-Shampine 3(2) + Newton polish",
        "flow_gtol": DEFAULT_FLOW_GTOL,
        "gtol": DEFAULT_GTOL,
        "rtol": DEFAULT_RTOL,
        "max_time": DEFAULT_MAX_TIME,
    }


def generate(
    n: int, seed: int, start: int = 0, geometry: StartGeometry = DEFAULT_START
) -> pd.DataFrame:
    """Labelled samples start .. start+n-1.

    Columns r12, r13, r23 (float64, starting distances), label (int8), final_energy (float64).

    Failures are kept with label -1 (see `n_failures`); nothing is dropped, so row i is always
    sample start + i. The network inputs are the columns r12 and r13.
    """
    d = starting_distances(n, seed, start=start, geometry=geometry)
    labels, e, _ = minimise(d)
    return pd.DataFrame(
        {"r12": d[:, 0], "r13": d[:, 1], "r23": d[:, 2], "label": labels, "final_energy": e}
    )


def n_failures(df: pd.DataFrame) -> int:
    """Number of rows with label -1 (unconverged or unrecognised end point)."""
    return int((df["label"].to_numpy() == FAILED).sum())


# --------------------------------------------------------------------------------------------
# Bayes limits of the two-distance classification problem
# --------------------------------------------------------------------------------------------


def bayes_limits(
    features: np.ndarray,
    labels: np.ndarray,
    bins: int | None = None,
    n_classes: int = len(LABELS),
    bounds: tuple[float, float] | None = None,
) -> dict[str, float]:
    """Best accuracy and H(label | features) (nats) estimated from a labelled sample.

    Estimator: a bins x bins histogram of the two features (common square range `bounds`,
    default the sample's range); in each cell the posterior is the label frequency. Ceiling =
    Σ_cells max_k count / n; entropy = Σ_cells (n_c / n) H_c with the Miller-Madow correction
    (K_c - 1) / (2 n_c) per cell against the plug-in's downward bias. Cells too coarse bias the
    ceiling down and the entropy up; cells too fine do the opposite, so `bins` defaults to
    ≈ sqrt(n / 100) (about a hundred samples per cell) and docs/ljat19.md shows the plateau.
    Rows with label < 0 are ignored.
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    keep = y >= 0
    f, y = f[keep], y[keep].astype(np.int64)
    n = y.size
    if bins is None:
        bins = max(2, int(round(np.sqrt(n / 100.0))))
    lo, hi = bounds if bounds is not None else (float(f.min()), float(f.max()))
    scale = bins / (hi - lo)
    ij = np.clip(((f - lo) * scale).astype(np.int64), 0, bins - 1)
    cell = ij[:, 0] * bins + ij[:, 1]
    counts = np.bincount(cell * n_classes + y, minlength=bins * bins * n_classes)
    counts = counts.reshape(bins * bins, n_classes).astype(np.float64)
    nc = counts.sum(axis=1)
    occ = nc > 0
    counts, nc = counts[occ], nc[occ]
    p = counts / nc[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        h_plugin = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    k_obs = (counts > 0).sum(axis=1)
    h_mm = h_plugin + (k_obs - 1) / (2.0 * nc)
    return {
        "accuracy_ceiling": float(counts.max(axis=1).sum() / n),
        "entropy_floor_nats": float((nc * h_mm).sum() / n),
        "entropy_plugin_nats": float((nc * h_plugin).sum() / n),
        "n": int(n),
        "bins": int(bins),
    }


# --------------------------------------------------------------------------------------------
# Reference: line-search optimiser labels (for comparison only, slow: one scipy call per sample)
# --------------------------------------------------------------------------------------------


def lbfgs_labels(distances: np.ndarray, z: float = Z_AT) -> np.ndarray:
    """Labels int8 [n] from scipy L-BFGS-B in Cartesian coordinates (to quantify basin jumps)."""
    from scipy.optimize import minimize

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        e, g = cartesian_energy_gradient(v.reshape(1, 3, 2), z)
        return float(e[0]), g.reshape(6)

    x0 = positions_from_distances(np.asarray(distances, dtype=np.float64))
    xs = np.empty_like(x0)
    for i in range(x0.shape[0]):
        # Default ftol: a tiny ftol makes scipy's line search give up at the start.
        res = minimize(
            fun,
            x0[i].reshape(6),
            jac=True,
            method="L-BFGS-B",
            options={"gtol": 1e-8, "maxiter": 2000},
        )
        xs[i] = res.x.reshape(3, 2)
    xp, e, _ = newton_polish(xs, z=z)
    return classify(pair_distances(xp), e)
