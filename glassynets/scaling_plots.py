"""The figures of the two-time curves' shape (figC1, figC2; glassynets.scaling, docs/aging.md):
the aging scaling collapse and the long-lag exponent, for networks and the p-spin glass."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import scaling
from .cells import CellTables
from .plots import _data_title, _save, _time_label, tidy

#: Panels per row.
COLUMNS = 3


def _exponent(value: float) -> str:
    """An exponent to two decimals; one within rounding of 0 has no sign."""
    return f"{value:.2f}".replace("-0.00", "0.00")


def _grid(n: int, height: float = 3.0):
    ncols = min(n, COLUMNS)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.5 * ncols, height * nrows), squeeze=False)
    axes = list(axes.flat)
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def _window_curves(cell: CellTables):
    """(t_w, rows of the msd table) for each t_w of the collapse window."""
    c = cell.collapse.iloc[0]
    msd = cell.msd
    waits = np.unique(msd["t_w"].to_numpy(float))
    waits = waits[(waits >= c["tw_min"]) & (waits <= c["tw_max"])]
    return [(tw, msd[(msd["t_w"] == tw) & (msd["delta_mean"] > 0)]) for tw in waits]


def figC1(cells: list[CellTables], out: str | Path, **_) -> None:
    """The aging scaling collapse: Δ(t_w, t_w + t) against t/t_w^μ (the cell's t* μ) for every t_w
    of μ's fit window, one panel per cell; the titles give the spread of log10 Δ across t_w at
    fixed scaled time without rescaling, at μ, and μ_collapse (the μ minimising it) with its
    bootstrap interval."""
    shown = [c for c in cells if c.collapse is not None]
    fig, axes = _grid(len(shown))
    for ax, cell in zip(axes, shown):
        c = cell.collapse.iloc[0]
        if np.isfinite(c["mu"]):
            mu, which = c["mu"], "t* μ"
        elif np.isfinite(c["mu_collapse"]):
            mu, which = c["mu_collapse"], "μ_collapse (t* μ undefined)"
        else:
            mu, which = 0.0, "unscaled: no μ"
        curves = _window_curves(cell)
        colors = plt.cm.viridis(np.linspace(0, 0.9, max(len(curves), 1)))
        for color, (tw, rows) in zip(colors, curves):
            ax.plot(rows["t"] / tw**mu, rows["delta_mean"], color=color, lw=0.9)
        if curves:
            for color, (tw, _) in ((colors[0], curves[0]), (colors[-1], curves[-1])):
                ax.plot([], [], color=color, label=f"$t_w$ = {tidy(tw * cell.time_unit)}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"t / $t_w^{{{_exponent(mu)}}}$ ({_time_label(cell)}; {which})")
        ax.set_ylabel(r"$\Delta(t_w, t_w + t)$")
        verdict = {1.0: "agrees with μ", 0.0: "differs: μ depends on Δ*"}.get(c["agree"], "")
        at_mu = f"{c['spread_mu']:.3f}" if np.isfinite(c["spread_mu"]) else "(μ undefined)"
        best = (
            f"μ_collapse {_exponent(c['mu_collapse'])} "
            f"[{_exponent(c['collapse_low'])}, {_exponent(c['collapse_high'])}] {verdict}"
            if np.isfinite(c["mu_collapse"])
            else "μ_collapse undefined"
        )
        ax.set_title(
            f"{cell.label}\nspread of log10 Δ {c['spread_raw']:.3f} → {at_mu} dex\n{best}",
            fontsize=7,
        )
        ax.legend(loc="upper left", fontsize=6, framealpha=0.8)
    _data_title(fig, shown)
    _save(fig, out)


def figC2(
    cells: list[CellTables],
    out: str | Path,
    plot_tw: list[float],
    glass_plot_tw: list[float] = (),
    **_,
) -> None:
    """The long-lag regime, one panel per cell: the local exponent β(t_w, t) = d log Δ / d log t
    against t for the t_w of plot_tw (glass_plot_tw for p-spin cells), and where β is constant over
    a decade at t >= 10·t_w, the fitted β (horizontal segment over its window) of Δ ≈ D_β·t^β;
    the title gives the range of fitted β and the slope of log D_β against log t_w."""
    fig, axes = _grid(len(cells))
    for ax, cell in zip(axes, cells):
        wanted = glass_plot_tw if cell.is_glass else plot_tw
        unit = cell.time_unit
        msd = cell.msd
        waits = np.unique(msd["t_w"].to_numpy(float))
        waits = waits[waits > 0]
        chosen = sorted(
            {waits[np.argmin(np.abs(np.log(waits) - np.log(w / unit)))] for w in wanted}
        )
        colors = plt.cm.viridis(np.linspace(0, 0.9, max(len(chosen), 1)))
        for color, tw in zip(colors, chosen):
            rows = msd[msd["t_w"] == tw]
            beta = scaling.local_beta(rows["t"].to_numpy(), rows["delta_mean"].to_numpy())
            ax.plot(rows["t"] * unit, beta, color=color, lw=1, label=f"$t_w$ = {tidy(tw * unit)}")
        fits = cell.long_lag if cell.long_lag is not None else None
        title = cell.label
        if fits is not None and len(fits):
            for r in fits.itertuples():
                ax.plot(
                    [r.t_min * unit, r.t_max * unit], [r.beta, r.beta], color="k", lw=0.8, alpha=0.5
                )
            aging = scaling.diffusion_aging({k: fits[k].to_numpy() for k in fits.columns})
            title += (
                f"\nβ fitted at {aging['n_tw']} $t_w$: {aging['beta_min']:.2f}–{aging['beta_max']:.2f}"
                + (f"; $D_β ∝ t_w^{{{aging['slope']:.2f}}}$" if np.isfinite(aging["slope"]) else "")
            )
        else:
            title += "\nno decade of constant β at t ≥ 10 $t_w$"
        ax.axhline(1, color="grey", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel(f"t ({_time_label(cell)} after $t_w$)")
        ax.set_ylabel("β = d log Δ / d log t")
        ax.set_title(title, fontsize=7)
        ax.legend(loc="best", fontsize=5, ncol=2, framealpha=0.7)
    _data_title(fig, cells)
    _save(fig, out)
