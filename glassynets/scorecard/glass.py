"""The scorecard's p-spin rows: the CK curves, each simulated cell against the aging class and
against CK at the same times, and the p-spin's headline rows (glassynets.glass_theory)."""

from __future__ import annotations

import numpy as np

from .. import aging, glass_theory
from ..cells import CellTables
from .cell_rows import _row, mu_row, shape_rows


def glass_rows(glasses: list[CellTables], networks: list[CellTables], tti_mu: float) -> list[dict]:
    """The spherical p-spin (p = 3) beside the networks: the CK curves' μ and shape (theory cells
    of ``glasses``), then per simulated cell μ (against the t → ∞ class: simple aging below T_d,
    time-translation invariance above) and against CK at the same times (ck_rows), the plateau of
    Δ against 2(1 − q_EA), the final energy against its large-time value, and the networks' μ."""
    dnn = np.array([c.fit["mu"] for c in networks], dtype=float)
    dnn = dnn[np.isfinite(dnn)]
    dnn_note = (
        f"networks in this scorecard: μ from {dnn.min():.3f} to {dnn.max():.3f} (median {np.median(dnn):.3f}, "
        f"{len(dnn)} cells)"
        if len(dnn)
        else "no network μ in this scorecard"
    )
    rows = []
    simulated, theories = glass_theory.split(glasses)
    for cell in sorted(theories, key=lambda c: (c.meta["temperature"], c.meta["n_spins"] or 0)):
        n = cell.meta["n_spins"]
        name = f"CK N{'inf' if n is None else n}/T{cell.meta['temperature']:g}"
        rows.append(mu_row("pspin_ck", name, cell, "exact n = ∞ curve (no statistical error)"))
        rows.extend(shape_rows("pspin_ck", name, cell))
    for cell in simulated:
        rows.extend(_simulated_rows(cell, theories, tti_mu, dnn_note))
    return rows


def _simulated_rows(
    cell: CellTables, theories: list[CellTables], tti_mu: float, dnn_note: str
) -> list[dict]:
    """One simulated p-spin cell: μ against its aging class, against CK (ck_rows), the aging
    verdict, the shape, the plateau of Δ (below T_d) and the final energy."""
    from .. import pspin

    rows = []
    T, name = cell.meta["temperature"], f"N{cell.meta['n_spins']}/T{cell.meta['temperature']:g}"
    glassy = T < pspin.T_DYNAMICAL
    row = mu_row(
        "pspin",
        name,
        cell,
        "≈ 1 (simple aging) as t → ∞" if glassy else "≈ 0 (time-translation invariance)",
    )
    row["note"] += f"; T {'<' if glassy else '>'} T_d = {pspin.T_DYNAMICAL:.3f}; {dnn_note}"
    rows.append(row)
    rows.extend(ck_rows(name, cell, theories))
    verdict, why = aging.aging_verdict(cell.fit, tti_mu)
    rows.append(
        _row("pspin", name, "aging", "simple aging" if glassy else "none", verdict, note=why)
    )
    rows.extend(shape_rows("pspin", name, cell))
    if glassy:
        tw = _plateau_tw(cell)
        curve = cell.msd[cell.msd["t_w"] == tw]
        value, slope = aging.msd_plateau(curve["t"].to_numpy(), curve["delta_mean"].to_numpy())
        rows.append(
            _row(
                "pspin",
                name,
                "plateau of Δ, 2(1 − q_EA)",
                f"{2 * (1 - pspin.plateau_q(T)):.3f} (theory)",
                value,
                note=f"first flattest point of Δ(t_w, t_w + t) at t_w = {tw * cell.time_unit:g} time units "
                f"(log–log slope {slope:.3f})",
            )
        )
    steps = np.sort(cell.energy["step"].unique())
    last = cell.energy[cell.energy["step"] == steps[-1]]["energy"]
    half = steps[np.argmin(np.abs(steps - steps[-1] / 2))]
    drift = float(last.mean() - cell.energy[cell.energy["step"] == half]["energy"].mean())
    expected = (
        pspin.asymptotic_energy(T) if glassy else pspin.paramagnetic_energy(T, cell.meta["n_spins"])
    )
    bias = f"; Euler–Maruyama lowers it by ≈ 0.8·dt = {0.8 * cell.time_unit:.3f} (docs/pspin.md)"
    rows.append(
        _row(
            "pspin",
            name,
            "final energy per spin",
            f"{expected:.4f} ({'n = ∞, t → ∞ after a quench' if glassy else 'paramagnet at this N'})",
            float(last.mean()),
            f"± {last.std(ddof=1) / np.sqrt(len(last)):.2g} (sem)",
            f"{len(last)} runs at time {steps[-1] * cell.time_unit:g}, {drift:+.4f} since time "
            f"{half * cell.time_unit:g}" + ("" if glassy else bias),
        )
    )
    return rows


def ck_rows(name: str, sim: CellTables, theories: list[CellTables]) -> list[dict]:
    """The simulation against CK at the same times (glassynets.glass_theory): μ over the
    simulation's window and the final energy, against CK mapped to its N and at n = ∞."""
    rows = []
    found = glass_theory.partners(sim, theories)
    for label, theory in (("mapped to this N", found.mapped), ("n = ∞", found.exact)):
        if theory is None:
            continue
        mu = glass_theory.mu_comparison(sim, theory)
        lo, hi = (t * sim.time_unit for t in mu["window"])
        reference = (
            f"{mu['mu_ck']:.3f} (CK {label}, same t_w window)"
            if np.isfinite(mu["mu_ck"])
            else f"undefined (CK {label})"
        )
        rows.append(
            _row(
                "pspin",
                name,
                f"μ against CK {label}",
                reference,
                mu["mu_sim"] if np.isfinite(mu["mu_sim"]) else "undefined",
                f"[{mu['total_low']:.3f}, {mu['total_high']:.3f}] (total)"
                if np.isfinite(mu["mu_sim"])
                else "",
                f"{mu['verdict']}: CK over t_w in [{lo:.3g}, {hi:.3g}] time units, "
                f"{mu['ck_points']} points, residual {mu['ck_residual_dex']:.3f} dex; CK by its own "
                f"window rule: {mu['mu_ck_own']:.3f} ({mu['ck_own_status']})",
            )
        )
        energy = glass_theory.energy_comparison(sim, theory, 0.8 * sim.time_unit)
        rows.append(
            _row(
                "pspin",
                name,
                f"energy per spin against CK {label}",
                f"{energy['e_ck']:.4f} (CK at time {energy['time']:g})",
                energy["e_sim"],
                f"± {energy['sem']:.2g} (sem)",
                f"{energy['verdict']}: difference {energy['difference']:+.4f}, allowed "
                f"{energy['allowed']:.4f} = 3 sem + the Euler–Maruyama bias ≈ 0.8·dt",
            )
        )
    return rows


def _plateau_tw(cell: CellTables) -> int:
    """The largest t_w whose Δ(t_w, t_w + t) spans at least two decades of t (the longest
    plateau that is still followed far enough); the smallest t_w > 0 if none does."""
    rows = cell.msd[cell.msd["t_w"] > 0]
    span = rows.groupby("t_w")["t"].agg(lambda t: t.max() / t.min())
    wide = span[span >= 100]
    return int(wide.index.max() if len(wide) else span.index.min())
