"""The simulated p-spin against its exact n = ∞ dynamics at the same times (glassynets.ck).

A simulated cell (N, T) is compared with the CK curves mapped to its N (T/sqrt(f_N), time
sqrt(f_N)·t: the leading 1/N correction, docs/pspin.md) and, for reference, with n = ∞ itself,
both on the simulation's (t_w, t) grid and analysed by the same aging code. Pure functions of
cell tables (glassynets.cells), used by the scorecard and Fig B4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .aging import fit_power_law
from .cells import CellTables


@dataclass
class Partners:
    """The CK cells of one simulated cell: ``exact`` (n = ∞) and ``mapped`` (to its N); None
    where the configuration has none."""

    exact: CellTables | None
    mapped: CellTables | None


def split(cells: list[CellTables]) -> tuple[list[CellTables], list[CellTables]]:
    """The p-spin cells among ``cells``: the simulated ones by temperature, and the CK curves."""
    simulated = [c for c in cells if c.is_glass and not c.is_theory]
    return sorted(simulated, key=lambda c: c.meta["temperature"]), [c for c in cells if c.is_theory]


def partners(sim: CellTables, theories: list[CellTables]) -> Partners:
    """The CK cells at the simulated cell's temperature: n = ∞ and mapped to its number of spins."""
    same_t = [c for c in theories if np.isclose(c.meta["temperature"], sim.meta["temperature"])]
    exact = [c for c in same_t if c.meta["n_spins"] is None]
    mapped = [c for c in same_t if c.meta["n_spins"] == sim.meta["n_spins"]]
    return Partners(exact[0] if exact else None, mapped[0] if mapped else None)


def mu_over(cell: CellTables, window: tuple[float, float]) -> tuple[float, int, float]:
    """μ of a cell's ensemble-mean t*(t_w) fitted over ``window`` (t_w in steps): (μ, points,
    RMS residual in dex); NaN with fewer than 3 defined points."""
    curve = cell.tstar_curve
    mu, _, n, residual = fit_power_law(curve["t_w"], curve["t_star"], window)
    return mu, n, residual


def final_energy(cell: CellTables) -> tuple[float, float, float]:
    """(time, mean e, standard error over runs) at the last step of a cell's energy table; the
    error is 0 for one run (the CK curve)."""
    last = cell.energy[cell.energy["step"] == cell.energy["step"].max()]["energy"]
    sem = float(last.std(ddof=1) / np.sqrt(len(last))) if len(last) > 1 else 0.0
    return float(cell.energy["step"].max() * cell.time_unit), float(last.mean()), sem


def mu_comparison(sim: CellTables, theory: CellTables) -> dict:
    """μ of the simulation with its total interval against CK's over the simulation's own window
    (the reference that applies at these times) and CK's over its own window rule.

    verdict: "matches" when μ_CK (same window) lies in the simulation's total interval,
    "differs" when not, "undefined" when either μ is undefined (μ_CK is still fitted over the
    window when the simulation has one)."""
    fit = sim.fit
    window = (float(fit["tw_min"]), float(fit["tw_max"]))
    defined = np.isfinite(fit["mu"])
    mu_ck, n, residual = (
        mu_over(theory, window) if np.all(np.isfinite(window)) else (np.nan, 0, np.nan)
    )
    if not (defined and np.isfinite(mu_ck)):
        verdict = "undefined"
    else:
        verdict = "matches" if fit["total_low"] <= mu_ck <= fit["total_high"] else "differs"
    return {
        "mu_sim": float(fit["mu"]),
        "total_low": float(fit["total_low"]),
        "total_high": float(fit["total_high"]),
        "window": window,
        "mu_ck": mu_ck,
        "ck_points": n,
        "ck_residual_dex": residual,
        "mu_ck_own": float(theory.fit["mu"]),
        "ck_own_status": str(theory.fit["status"]),
        "verdict": verdict,
    }


def energy_comparison(sim: CellTables, theory: CellTables, em_bias: float) -> dict:
    """The simulation's final energy against CK's at the same time. The Euler–Maruyama step lowers
    the simulated e by up to ``em_bias`` (≈ 0.8·dt, docs/pspin.md), so "matches" is
    |e_sim − e_CK| <= 3 standard errors + em_bias."""
    time, e_sim, sem = final_energy(sim)
    _, e_ck, _ = final_energy(theory)
    allowed = 3 * sem + abs(em_bias)
    return {
        "time": time,
        "e_sim": e_sim,
        "sem": sem,
        "e_ck": e_ck,
        "difference": e_sim - e_ck,
        "allowed": allowed,
        "verdict": "matches" if abs(e_sim - e_ck) <= allowed else "differs",
    }
