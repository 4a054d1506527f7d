"""The figures of the dynamics sweeps (figN1 … figN4, docs/noise.md), drawn from cell tables.

Each takes the cells it shows, the output PDF path and ``sweeps`` (the figure command's
``--sweeps``: {"members": experiment -> {axis, family, variant, base}, "temperature_after": steps}),
and writes the PDF and a PNG beside it, as the functions of :mod:`glassynets.plots` do.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import sweeps as sw
from .cells import CellTables
from .claims import TITLES
from .plots import COLORS, _data_title, _save, _tstar_panel, ensemble, tidy

#: Training settings that tell a sweep's variants apart (besides the number of steps).
DYNAMICS_KEYS = ("noise", "sampling", "lr", "batch_size", "temperature", "persistence")
#: Where an undefined μ is marked (axes fraction from the bottom): never drawn as a value.
UNDEFINED_Y = 0.04


def _families(cells: list[CellTables], sweeps: dict) -> list[sw.Family]:
    return sw.families(cells, sweeps["members"])


def _base(family: sw.Family) -> CellTables | None:
    return next((c for c in family.cells if c.meta.get("sweep_base")), None)


def _on_axis(cell: CellTables, base: CellTables | None, axis: str) -> bool:
    """Whether a variant differs from the sweep's base in the control parameter only."""
    if base is None:
        return True
    return all(cell.meta[k] == base.meta[k] for k in DYNAMICS_KEYS if k != axis)


def _reference_band(ax: plt.Axes, reference: CellTables | None) -> None:
    """SGD at the base settings (B = 100, lr = 0.05 on LJAT19): its μ interval as a grey band."""
    if reference is None or not np.isfinite(reference.fit["mu"]):
        return
    fit = reference.fit
    ax.axhspan(
        fit["total_low"],
        fit["total_high"],
        color="grey",
        alpha=0.25,
        lw=0,
        label=f"{reference.label}: μ = {fit['mu']:.2f}",
    )


def _mu_point(ax: plt.Axes, x: float, cell: CellTables, **style) -> None:
    """μ with its total interval at x, or an 'x' at the bottom where μ is undefined."""
    fit = cell.fit
    if np.isfinite(fit["mu"]):
        ax.errorbar(
            x,
            fit["mu"],
            yerr=[[fit["mu"] - fit["total_low"]], [fit["total_high"] - fit["mu"]]],
            capsize=2,
            lw=1,
            **style,
        )
    else:
        style = {k: v for k, v in style.items() if k in ("color", "label")}
        ax.plot(x, UNDEFINED_Y, "x", ms=6, transform=ax.get_xaxis_transform(), **style)


def _tick(value: float) -> str:
    """A control parameter's tick label: 3 significant digits from 0.01 to 10⁴, else 5.8e-4."""
    if value == 0 or 0.01 <= abs(value) < 1e4:
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    exponent = int(np.floor(np.log10(abs(value))))
    return f"{value / 10**exponent:.2g}e{exponent}"


def _legend(ax: plt.Axes) -> None:
    """The panel's legend, where it has something to list (a sweep of gradient descent alone has
    no curve in figN4's panels: an empty legend would be a stray box)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=5.5, framealpha=0.8)


def _log_x(ax: plt.Axes) -> None:
    """A log x axis labelled at the decades only (a sweep spans one or two of them)."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


def _reference(found: list[sw.Family]) -> CellTables | None:
    """The base variant of the first SGD sweep (batch size or lr): the band of every panel."""
    for family in found:
        base = _base(family)
        if family.axis in ("batch_size", "lr") and base is not None and not sw.noiseless(base):
            return base
    return None


def _noiseless_line(ax: plt.Axes, cell: CellTables) -> None:
    """Gradient descent's μ as a dashed line with its interval (or, undefined, a legend entry)."""
    fit = cell.fit
    if np.isfinite(fit["mu"]):
        ax.axhline(
            fit["mu"], color="k", ls="--", lw=0.8, label=f"{cell.label}: μ = {fit['mu']:.2f}"
        )
        ax.axhspan(fit["total_low"], fit["total_high"], color="k", alpha=0.08, lw=0)
    else:
        ax.plot([], [], "x", color="k", label=f"{cell.label}: μ undefined ({fit['status']})")


def _sweep_panel(
    ax: plt.Axes, family: sw.Family, reference: CellTables | None, letter: str
) -> None:
    """μ against one sweep's control parameter: the variants that differ from the base in it
    alone joined by a line, the others open markers, gradient descent dashed."""
    base = _base(family)
    _reference_band(ax, reference)
    on = [c for c in family.cells if _on_axis(c, base, family.axis) and not sw.noiseless(c)]
    xs = [float(c.meta[family.axis]) for c in on]
    for k, (x, cell) in enumerate(zip(xs, on)):
        label = f"{sw.AXIS_LABELS[family.axis]} varied alone" if k == 0 else None
        _mu_point(ax, x, cell, color=COLORS[0], marker="o", ms=4, label=label)
    finite = [(x, c.fit["mu"]) for x, c in zip(xs, on) if np.isfinite(c.fit["mu"])]
    if finite:
        ax.plot(*zip(*sorted(finite)), color=COLORS[0], lw=0.6, alpha=0.6)
    others = [c for c in family.cells if c not in on and not sw.noiseless(c)]
    for k, cell in enumerate(others):
        x = float(cell.meta[family.axis])
        style = dict(color=COLORS[1 + k % 8], marker="sD^v"[k % 4], ms=4, mfc="none")
        _mu_point(ax, x, cell, **style, label=cell.label)
    for cell in (c for c in family.cells if sw.noiseless(c)):
        _noiseless_line(ax, cell)
    _log_x(ax)
    values = sorted({float(c.meta[family.axis]) for c in family.cells if not sw.noiseless(c)})
    if values:  # (a sweep of gradient descent alone has none: its μ is the dashed line)
        ax.set_xticks(values, [_tick(v) for v in values], fontsize=7, rotation=30)
    ax.set_xlabel(sw.AXIS_LABELS[family.axis])
    ax.set_title(f"({letter}) {family.name}")
    _legend(ax)


def _temperature_panel(
    ax: plt.Axes,
    found: list[sw.Family],
    reference: CellTables | None,
    after: float,
    letter: str,
) -> None:
    """μ against the effective temperature (T_SGD late for SGD, T for Langevin) of every noisy cell."""
    _reference_band(ax, reference)
    for k, family in enumerate(found):
        noisy = [c for c in family.cells if not sw.noiseless(c)]
        for j, cell in enumerate(noisy):
            t_eff = sw.effective_temperature(cell, after)
            if np.isfinite(t_eff) and t_eff > 0:
                label = family.name if j == 0 else None
                _mu_point(ax, t_eff, cell, color=COLORS[k % 10], marker="o", ms=3.5, label=label)
    _log_x(ax)
    ax.set_xlabel("T (nats): SGD's measured T_SGD, Langevin's set T", fontsize=8)
    ax.set_title(f"({letter}) μ vs T (T_SGD: mean over t ≥ {tidy(after)})")
    _legend(ax)


def figN1(cells: list[CellTables], out: str | Path, sweeps: dict, **_) -> None:
    """μ against each sweep's control parameter (one panel per sweep, total intervals, undefined μ
    marked 'x' at the bottom, gradient descent as a dashed line with its interval), and μ against
    the effective temperature (T_SGD late for SGD, T for Langevin) of every noisy cell."""
    found, after = _families(cells, sweeps), sweeps["temperature_after"]
    reference = _reference(found)
    n = len(found) + 1
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 3.3 * nrows), sharey=True, squeeze=False
    )
    axes = list(grid.flat)
    for ax in axes[n:]:
        ax.remove()
    for ax, family, letter in zip(axes, found, "abcdefgh"):
        _sweep_panel(ax, family, reference, letter)
    for ax in axes[:n:ncols]:
        ax.set_ylabel("μ at Δ* (total 95% interval)")
    _temperature_panel(axes[n - 1], found, reference, after, "abcdefgh"[n - 1])
    _data_title(fig, cells)
    _save(fig, out)


def _in_flow_time(cell: CellTables) -> CellTables:
    """The cell with time in gradient-flow units lr·t (for comparing learning rates)."""
    meta = {**cell.meta, "dt": cell.meta["lr"], "time_label": "lr·steps"}
    return dataclasses.replace(cell, meta=meta)


def _delta_panel(
    ax: plt.Axes, cells: list[CellTables], t_w: float, flow_lr: float | None = None
) -> None:
    """Δ(t_w, t_w + t) of every cell at the recorded t_w nearest ``t_w`` (steps); with flow_lr,
    at the same gradient-flow time lr·t_w = flow_lr·t_w for every cell (cells in lr·steps)."""
    for color, cell in zip(COLORS, cells):
        wait = t_w if flow_lr is None else t_w * flow_lr / cell.meta["lr"]
        curve, unit = sw.two_time_curve(cell, wait), cell.time_unit
        ax.plot(curve["t"] * unit, curve["delta_mean"], color=color, lw=1.1, label=cell.label)
    d_star = float(cells[0].tstar["delta_star"].iloc[0])
    ax.axhline(d_star, color="grey", ls=":", lw=1, label=f"Δ* = {d_star:.3g}")
    unit = cells[0].meta.get("time_label", "steps")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"t ({unit} after $t_w$)")
    ax.set_ylabel(r"$\Delta(t_w, t_w + t)$")
    ax.set_title(
        f"$t_w$ = {tidy(t_w)} steps" if flow_lr is None else f"lr·$t_w$ = {tidy(t_w * flow_lr)}"
    )
    ax.legend(loc="upper left", fontsize=5, framealpha=0.6)


def figN2(
    cells: list[CellTables], out: str | Path, plot_tw: list[float], sweeps: dict, **_
) -> None:
    """Per sweep (one row each): t*(t_w) with the power-law fits, then Δ(t_w, t_w + t) of every
    variant at the middle and the last t_w of plot_tw, as Fig 2 draws them; the learning-rate sweep
    in gradient-flow time lr·t (Sclocchi & Wyart: does t* depend on lr and B through lr/B only?)."""
    found = _families(cells, sweeps)
    middle, last = plot_tw[len(plot_tw) // 2], plot_tw[-1]
    fig, axes = plt.subplots(
        len(found),
        3,
        figsize=(12.5, 3.6 * len(found)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.6, 1, 1]},
    )
    for row, family in zip(axes, found):
        members, flow_lr = family.cells, None
        if family.axis == "lr":  # the t_w of plot_tw at the base variant's lr, in lr·steps
            members = [_in_flow_time(c) for c in members]
            base = _base(family)
            flow_lr = (base or members[0]).meta["lr"]
        title = f"{family.name} ({TITLES.get(family.dataset, family.dataset)}): t*($t_w$)"
        tstar_ax = _tstar_panel(row[0], members)
        tstar_ax.set_title(title)
        tstar_ax.legend(loc="upper left", fontsize=5, framealpha=0.6)
        for ax, t_w in zip(row[1:], (middle, last)):
            _delta_panel(ax, members, t_w, flow_lr)
            ax.set_title(f"{family.name}: {ax.get_title()}")
    _save(fig, out)


def figN3(
    cells: list[CellTables], out: str | Path, plot_tw: list[float], sweeps: dict, **_
) -> None:
    """Time–temperature superposition of each Langevin sweep: (a) Δ(t_w, t_w + t) at the middle
    t_w of plot_tw for every T, (b) the same against t/τ(T), τ(T) the lag where Δ reaches Δ*;
    the RMS spread of log10 Δ across T, without and with the rescaling, in the titles."""
    found = [f for f in _families(cells, sweeps) if f.axis == "temperature"]
    t_w = plot_tw[len(plot_tw) // 2]
    fig, axes = plt.subplots(len(found), 2, figsize=(7.5, 3.4 * len(found)), squeeze=False)
    for (raw_ax, scaled_ax), family in zip(axes, found):
        members = sorted(family.cells, key=lambda c: c.meta["temperature"])
        d_star = float(members[0].tstar["delta_star"].iloc[0])
        hot = [c for c in members if c.meta["temperature"] > 0]  # T = 0 is drawn, not collapsed
        result = sw.superposition(hot, t_w, d_star)
        taus = [np.nan] * (len(members) - len(hot)) + list(result["tau"])
        for color, cell, tau in zip(COLORS, members, taus):
            curve = sw.two_time_curve(cell, t_w)
            label = f"{cell.label}" + (f", τ = {_tick(tau)}" if np.isfinite(tau) else "")
            raw_ax.plot(curve["t"], curve["delta_mean"], color=color, lw=1.1, label=label)
            if np.isfinite(tau):
                scaled_ax.plot(
                    curve["t"] / tau, curve["delta_mean"], color=color, lw=1.1, label=cell.label
                )
        for ax in (raw_ax, scaled_ax):
            ax.axhline(d_star, color="grey", ls=":", lw=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylabel(r"$\Delta(t_w, t_w + t)$")
            _legend(ax)
        raw_ax.set_xlabel(f"t (steps after $t_w$ = {tidy(t_w)})")
        scaled_ax.set_xlabel("t / τ(T)")
        raw_ax.set_title(f"(a) {family.name}: spread of log10 Δ over T > 0: {result['raw']:.3f}")
        scaled_ax.set_title(
            f"(b) rescaled: spread {result['scaled']:.3f} ({result['n']} T; T = 0 has no τ)"
        )
    _data_title(fig, cells)
    _save(fig, out)


def figN4(cells: list[CellTables], out: str | Path, sweeps: dict, **_) -> None:
    """Per sweep (one column each): the SGD noise temperature T_SGD(t) = lr·|g_B − g|²/(2P)
    (ensemble mean; a Langevin T dashed over the run), and Yaida's stationarity ratio
    ⟨θ·g_B⟩/⟨(lr/2)|g_B|² + T·P⟩ against t (1 at stationarity; symmetric-log axis; none for
    gradient descent, which has no stationary distribution to test)."""
    found = _families(cells, sweeps)
    fig, axes = plt.subplots(2, len(found), figsize=(3.6 * len(found), 6.4), squeeze=False)
    for k, family in enumerate(found):
        temp_ax, ratio_ax = axes[0, k], axes[1, k]
        flow = family.axis == "lr"  # learning rates compared at equal gradient-flow time lr·t
        for color, cell in zip(COLORS, family.cells):
            scale = cell.meta["lr"] if flow else 1.0
            if sw.noiseless(cell):
                continue  # g_B = g: T_SGD is the rounding of two summation orders (~1e-18)
            steps, ratio = sw.stationarity(cell)
            keep = steps > 0
            ratio_ax.plot(steps[keep] * scale, ratio[keep], color=color, lw=1, label=cell.label)
            if cell.meta["temperature"]:
                span = steps[keep] * scale
                level = np.full(len(span), cell.meta["temperature"])
                temp_ax.plot(
                    span, level, color=color, ls="--", lw=0.9, label=f"{cell.label} (set T)"
                )
            if cell.meta["noise"] == "langevin":
                continue  # full batch: no minibatch noise
            mean = ensemble(cell.metrics, "t_sgd")["mean"]
            mean = mean[mean > 0]
            temp_ax.plot(mean.index * scale, mean.to_numpy(), color=color, lw=1, label=cell.label)
        hot = any(c.meta["temperature"] for c in family.cells)
        temp_ax.set_xscale("log")
        temp_ax.set_yscale("log")
        temp_ax.set_title(
            f"{family.name}: " + ("Langevin T (dashed)" if hot else "$T_{SGD}$"), fontsize=9
        )
        temp_ax.set_ylabel("nats")
        _legend(temp_ax)
        ratio_ax.axhline(1, color="grey", lw=0.8)
        ratio_ax.set_xscale("log")
        ratio_ax.set_yscale("symlog", linthresh=1)
        ratio_ax.set_title(f"{family.name}: Yaida's ratio (1: stationary)", fontsize=9)
        ratio_ax.set_ylabel(r"$\langle\theta\cdot g_B\rangle / \langle (lr/2)|g_B|^2 + TP\rangle$")
        _legend(ratio_ax)
        for ax in (temp_ax, ratio_ax):
            ax.set_xlabel("lr·step (gradient-flow time)" if flow else "step")
    _data_title(fig, cells)
    _save(fig, out)
