"""The scorecard: every number the paper states for this part next to the reproduced value.

It opens with a headline table, one row per claim of the papers, with a verdict (matches,
differs, explained: a known cause written down in the linked document, undefined: not measurable
here); the per-cell rows follow. Reproduced values are means over runs with their standard
deviation across runs, unless the row says otherwise (μ: the total interval, the bootstrap over
runs and the spread over fit windows and averaging conventions combined; data limits: estimator
on a large independent sample).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import aging, glass_theory, storage
from .cells import CellTables, phases

#: The paper's statements (Herrera Segura et al. 2022, text and Figs 1–6, A.3), by experiment.
PAPER_DATA = {"bayes_accuracy": "≈ 0.8 (two of three distances)", "loss_floor": "≈ 0.5"}
PAPER = {
    "ljat_arch": {
        "loss": "≈ 0.5 (floor)",
        "accuracy": "≈ 0.8 max",
        "loss_reached_step": "L ≈ 0.5 near t ≈ 10³",
        "grad_rms": {
            1: "0.02",
            2: "0.07",
            3: "0.12",
        },  # RMS of the gradient norm after t = 10⁴, by depth
        "mu": "< 1 (subaging)",
        "mu_scan": "barely depends on Δ*",
        "crossover": "t_w ≈ 10^3.6",
    },
    "ljat_chain": {
        "loss": "plateau ≈ 0.8 for deeper nets",
        "accuracy": "≈ 0.8 max",
        "mu": "< 1 (subaging)",
    },
    "mnist_arch": {
        "accuracy": "< 0.99 (underparametrized)",
        "mu": "< 1 (subaging)",
        "mu_mean": "0.709 ± 0.017",
    },
    "mnist_alpha": {
        "accuracy": "< 0.99 after 10⁶ steps",
        "mu": "0.709 ± 0.017",
        "mu_mean": "0.709 ± 0.017",
    },
}
#: Baity-Jesi et al. (2018): the qualitative picture on both sides of the transition, for the
#: experiments that cross it.
TRANSITION = {
    "aging": "under: yes (t* grows with t_w); over: no once the loss is ≈ 0",
    "late": "over: diffusive (β = 1) at the bottom of the landscape",
    "transition": "under- and over-parametrized phases",
}
PAPER.update({name: TRANSITION for name in ("ljat_transition", "mnist_transition", "mnist_toy")})
#: μ on MNIST, one exponent across the underparametrized phase (Fig 6b): value and its ±.
PAPER_MU_MNIST = (0.709, 0.017)
#: Experiments the papers did not run, shown beside the MNIST experiment whose protocol they repeat.
COMPARED_WITH = {"fashion_arch": "mnist_arch", "fashion_alpha": "mnist_alpha"}
#: Titles of the data sets in headline claims.
TITLES = {"ljat19": "LJAT19", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def paper_values(experiment: str) -> dict:
    """The paper's statements for an experiment; for one the papers did not run, the MNIST values
    of the protocol it repeats, labelled as a comparison."""
    if experiment in COMPARED_WITH:
        return {
            key: f"no paper value (MNIST: {value})"
            for key, value in PAPER[COMPARED_WITH[experiment]].items()
        }
    return PAPER.get(experiment, {})


COLUMNS = ["experiment", "cell", "quantity", "paper", "reproduced", "uncertainty", "note"]
HEADLINE_COLUMNS = ["claim", "paper", "reproduced", "uncertainty", "verdict", "where"]


def _row(
    experiment: str,
    cell: str,
    quantity: str,
    paper: str,
    value: float | str,
    uncertainty: str = "",
    note: str = "",
) -> dict:
    shown = value if isinstance(value, str) else f"{value:.4g}"
    return dict(zip(COLUMNS, [experiment, cell, quantity, paper, shown, uncertainty, note]))


def loss_reached_step(metrics: pd.DataFrame, within: float) -> float:
    """First step at which the ensemble-mean train loss is within ``within`` (fraction) of its final value."""
    mean = metrics.groupby("step")["train_loss"].mean()
    reached = mean.index[mean <= mean.iloc[-1] * (1 + within)]
    return float(reached[0]) if len(reached) else float("nan")


def grad_rms(metrics: pd.DataFrame, column: str, after: float) -> tuple[float, float]:
    """RMS of a gradient-norm column over steps >= ``after``: over all runs, and its spread across runs."""
    late = metrics[metrics["step"] >= after]
    per_run = late.groupby("seed")[column].apply(lambda g: float(np.sqrt(np.mean(g**2))))
    return float(np.sqrt(np.mean(late[column] ** 2))), float(per_run.std(ddof=1)) if len(
        per_run
    ) > 1 else float("nan")


def underparametrized(cell: CellTables, alpha_max: float, accuracy_max: float) -> tuple[bool, str]:
    """The paper's criterion: α ≪ 1 (here α <= alpha_max) and final mean train accuracy < accuracy_max."""
    acc, _ = cell.final("train_acc")
    ok = cell.alpha <= alpha_max and acc < accuracy_max
    return (
        ok,
        f"α = {cell.alpha:.3g} {'≤' if cell.alpha <= alpha_max else '>'} {alpha_max:g}, "
        f"train accuracy {acc:.4f} {'<' if acc < accuracy_max else '≥'} {accuracy_max:g}",
    )


def cell_rows(
    experiment: str,
    cell: CellTables,
    loss_within: float,
    grad_rms_after: float,
    alpha_max: float = 0.3,
    accuracy_max: float = 0.99,
    tti_mu: float = 0.1,
) -> list[dict]:
    name = f"N{cell.meta['n_train']}/{cell.meta['arch']}"
    depth = len(cell.meta["widths"]) - 2
    paper = paper_values(experiment)
    images = cell.dataset != "ljat19"
    rows = [
        _row(
            experiment,
            name,
            "α = P/N",
            "≪ 1" if images else "",
            cell.alpha,
            note=f"P = {cell.meta['n_params']}, N = {cell.meta['n_train']}",
        )
    ]
    if images:
        verdict, why = underparametrized(cell, alpha_max, accuracy_max)
        rows.append(
            _row(
                experiment,
                name,
                "underparametrized criterion",
                "α ≪ 1 and accuracy < 0.99",
                "yes" if verdict else "no",
                note=why,
            )
        )
    loss, loss_sd = cell.final("train_loss")
    unit = "MSE" if cell.meta.get("loss") == "mse" else "nats"
    rows.append(
        _row(
            experiment,
            name,
            f"final train loss ({unit})",
            paper.get("loss", ""),
            loss,
            f"± {loss_sd:.2g} (sd)",
        )
    )
    acc, acc_sd = cell.final("train_acc")
    rows.append(
        _row(
            experiment,
            name,
            "final train accuracy",
            paper.get("accuracy", ""),
            acc,
            f"± {acc_sd:.2g} (sd)",
        )
    )
    test_acc, test_sd = cell.final("test_acc")
    rows.append(
        _row(experiment, name, "final test accuracy", "", test_acc, f"± {test_sd:.2g} (sd)")
    )
    reached = loss_reached_step(cell.metrics, loss_within)
    rows.append(
        _row(
            experiment,
            name,
            f"step where mean loss is within {loss_within:.0%} of final",
            paper.get("loss_reached_step", ""),
            reached,
            note=f"log10 = {np.log10(reached):.2f}" if reached > 0 else "",
        )
    )
    paper_grad = paper.get("grad_rms", {}).get(depth, "")
    for column, what in (("grad_norm", "full-batch"), ("batch_grad_norm", "minibatch")):
        rms, sd = grad_rms(cell.metrics, column, grad_rms_after)
        rows.append(
            _row(
                experiment,
                name,
                f"{what} gradient-norm RMS, t ≥ {grad_rms_after:g}",
                paper_grad,
                rms,
                f"± {sd:.2g} (sd of per-run RMS)",
            )
        )
    rows.append(mu_row(experiment, name, cell, paper.get("mu", "")))
    rows += dynamics_rows(experiment, name, cell, paper, tti_mu)
    low, high = scan_range(cell)
    if np.isfinite(low):
        rows.append(
            _row(
                experiment,
                name,
                "μ range over the Δ* scan (asymptotic window)",
                paper.get("mu_scan", ""),
                high - low,
                note=f"μ from {low:.3f} to {high:.3f} over Δ* in "
                f"[{cell.mu['delta_star'][cell.mu['variant'] == 'delta_star_scan'].min():.2g}, "
                f"{cell.mu['delta_star'][cell.mu['variant'] == 'delta_star_scan'].max():.2g}]",
            )
        )
    if cell.hessian_summary is not None:
        rows.extend(hessian_rows(experiment, name, cell))
    rows.append(crossover_row(experiment, name, cell, paper.get("crossover", "")))
    return rows


def mu_text(fit: pd.Series) -> tuple[str, str]:
    """(uncertainty, note) of a μ row: the total interval with its parts, and how it was fitted."""
    if not np.isfinite(fit["mu"]):
        return "", str(fit["status"])
    stat = (
        "exact curve, no statistical part"
        if fit["n_boot"] == 0 and fit["stat_low"] == fit["stat_high"]
        else f"95% bootstrap [{fit['stat_low']:.3f}, {fit['stat_high']:.3f}]"
    )
    uncertainty = (
        f"[{fit['total_low']:.3f}, {fit['total_high']:.3f}] ({stat} ⊕ window/convention "
        f"−{fit['syst_low']:.3f} +{fit['syst_high']:.3f})"
    )
    note = (
        f"{fit['window_rule']} window t_w in [{fit['tw_min']:.3g}, {fit['tw_max']:.3g}], {fit['n_points']} points, "
        f"RMS residual {fit['residual_dex']:.3f} dex (max {fit['max_residual_dex']:.3f})"
    )
    return uncertainty, note


def mu_row(experiment: str, name: str, cell: CellTables, paper: str) -> dict:
    fit = cell.fit
    uncertainty, note = mu_text(fit)
    return _row(
        experiment,
        name,
        f"μ at Δ* = {fit['delta_star']:.3g}",
        paper,
        fit["mu"] if np.isfinite(fit["mu"]) else "undefined",
        uncertainty,
        note,
    )


def scan_range(cell: CellTables) -> tuple[float, float]:
    """Smallest and largest μ over the Δ* scan (fitted on the primary window); NaNs if μ is undefined."""
    scan = cell.mu[cell.mu["variant"] == "delta_star_scan"]["mu"].to_numpy(float)
    scan = scan[np.isfinite(scan)]
    if not len(scan) or not np.isfinite(cell.fit["mu"]):
        return float("nan"), float("nan")
    return float(scan.min()), float(scan.max())


def crossover_row(experiment: str, name: str, cell: CellTables, paper: str) -> dict:
    """Where the asymptotic regime of t*(t_w) starts, with its bootstrap interval, and the break
    of the two-segment fit for comparison."""
    fit = cell.fit
    hinge = (
        f"two-segment fit: break at {fit['hinge_log10_tw']:.2f} (F-test p = {fit['hinge_p']:.2g}), slopes "
        f"{fit['slope_before']:.2f} before, {fit['slope_after']:.2f} after"
    )
    if not np.isfinite(fit["crossover_log10_tw"]):
        return _row(
            experiment,
            name,
            "crossover in t*(t_w), log10 t_w",
            paper,
            "undefined",
            note=f"{fit['status']}; {hinge}",
        )
    return _row(
        experiment,
        name,
        "crossover in t*(t_w), log10 t_w",
        paper,
        fit["crossover_log10_tw"],
        f"[{fit['crossover_low']:.2f}, {fit['crossover_high']:.2f}] (95% bootstrap)",
        f"start of the asymptotic power-law regime; {hinge}",
    )


def dynamics_rows(
    experiment: str, name: str, cell: CellTables, paper: dict, tti_mu: float
) -> list[dict]:
    """Whether t* grows with t_w; for folders without the long-lag table (written before it
    existed), the single late-time slope of Δ in t and its diffusion constant, which the long-lag
    rows (shape_rows) replace."""
    verdict, why = aging.aging_verdict(cell.fit, tti_mu)
    aging_row = _row(experiment, name, "aging", paper.get("aging", ""), verdict, note=why)
    if cell.long_lag is not None:
        return [aging_row]
    late = cell.late
    window = f"t_w = {late['t_w']:g}, t in [{late['t_min']:g}, {late['t_max']:g}], {late['n_points']} points"
    unit = "spin²" if cell.is_glass else "parameter²"
    diffusion = (
        (
            late["diffusion"] / cell.time_unit,
            f"{unit} per time unit" if cell.is_glass else f"{unit} per step",
        )
        if late["diffusive"]
        else ("n/a", f"not diffusive (|slope − 1| > {late['tolerance']:g})")
    )
    return [
        aging_row,
        _row(
            experiment,
            name,
            "late-time log–log slope of Δ in t",
            paper.get("late", ""),
            late["slope"],
            note=window,
        ),
        _row(
            experiment, name, "diffusion constant D (Δ = 2Dt)", "", diffusion[0], note=diffusion[1]
        ),
    ]


def transition_row(experiment: str, cells: list[CellTables], accuracy_max: float) -> dict:
    """Where the cells of an experiment cross from the under- to the over-parametrized phase along
    α (cells.phases: the paper's accuracy criterion), with every cell's final accuracy and loss."""
    under, over, alpha_star = phases(cells, accuracy_max)
    points = sorted((c.alpha, c.final("train_acc")[0], c.final("train_loss")[0]) for c in cells)
    listing = "; ".join(f"α {a:.3g}: acc {acc:.4f}, loss {loss:.3g}" for a, acc, loss in points)
    quantity = f"α at the transition (train accuracy {accuracy_max:g})"
    paper, where = PAPER.get(experiment, {}).get("transition", ""), f"{len(cells)} cells"
    if not under or not over:
        phase = "under" if under else "over"
        return _row(
            experiment,
            where,
            quantity,
            paper,
            "n/a",
            note=f"all {phase}parametrized for α in [{points[0][0]:.3g}, {points[-1][0]:.3g}]; {listing}",
        )
    if not np.isfinite(alpha_star):
        return _row(
            experiment, where, quantity, paper, "n/a", note=f"phases interleave in α; {listing}"
        )
    return _row(
        experiment,
        where,
        quantity,
        paper,
        alpha_star,
        f"between {under[-1].alpha:.3g} and {over[0].alpha:.3g}",
        listing,
    )


def glass_rows(glasses: list[CellTables], networks: list[CellTables], tti_mu: float) -> list[dict]:
    """The spherical p-spin (p = 3) beside the networks: the CK curves' μ and shape (theory cells
    of ``glasses``), then per simulated cell μ (against the t → ∞ class: simple aging below T_d,
    time-translation invariance above) and against CK at the same times (ck_rows), the plateau of
    Δ against 2(1 − q_EA), the final energy against its large-time value, and the networks' μ."""
    from . import pspin

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
            pspin.asymptotic_energy(T)
            if glassy
            else pspin.paramagnetic_energy(T, cell.meta["n_spins"])
        )
        bias = (
            f"; Euler–Maruyama lowers it by ≈ 0.8·dt = {0.8 * cell.time_unit:.3f} (docs/pspin.md)"
        )
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


def hessian_rows(experiment: str, name: str, cell: CellTables) -> list[dict]:
    """Fraction of negative Hessian eigenvalues at the first and last recorded steps."""
    summary = cell.hessian_summary
    rows = []
    ends = (("start", summary["step"].min()), ("end", summary["step"].max()))
    for when, step in (
        ends[1:] if ends[0][1] == ends[1][1] else ends
    ):  # one row when only one step has spectra
        frac = summary.loc[summary["step"] == step, "frac_negative"]
        sd = f"± {frac.std(ddof=1):.2g} (sd)" if len(frac) > 1 else ""
        rows.append(
            _row(
                experiment,
                name,
                f"fraction of negative Hessian eigenvalues at the {when} (step {step:g})",
                "drops along training but stays > 0" if when == "end" else "",
                float(frac.mean()),
                sd,
                f"{len(frac)} runs, {'exact' if summary['exact'].all() else 'stochastic (unreliable near 0)'}",
            )
        )
    return rows


def trace_generalization_rows(
    experiment: str, cells: list[CellTables], n_boot: int = 1000, seed: int = 0
) -> list[dict]:
    """Pearson and Spearman correlation of Hessian trace/N with the generalization error over every
    network of the experiment at its last step, with 95% bootstrap intervals (resampling networks)."""
    from scipy import stats

    points = pd.concat(
        [c.final_hessians() for c in cells if c.hessian_summary is not None], ignore_index=True
    )
    x, y = points["trace_per_n"].to_numpy(), points["gen_error"].to_numpy()
    rng = np.random.default_rng(seed)
    rows = []
    for label, corr in (
        ("Pearson", lambda a, b: stats.pearsonr(a, b)[0]),
        ("Spearman", lambda a, b: stats.spearmanr(a, b)[0]),
    ):
        value = float(corr(x, y))
        boot = [corr(x[i], y[i]) for i in (rng.integers(0, len(x), len(x)) for _ in range(n_boot))]
        lo, hi = np.nanquantile(boot, [0.025, 0.975])
        rows.append(
            _row(
                experiment,
                f"{len(x)} networks",
                f"{label} correlation of Hessian trace/N with test − train loss",
                "positive",
                value,
                f"[{lo:.3f}, {hi:.3f}] (95% bootstrap)",
                f"N in {sorted({int(n) for n in points['n_train']})}, step {int(points['step'].max())}",
            )
        )
    return rows


def mean_mu_row(
    experiment: str, cells: list[CellTables], alpha_max: float, accuracy_max: float
) -> dict:
    """Mean of the cells' μ against the paper's MNIST exponent, over the cells that pass the
    underparametrized criterion (the paper's claim is about them; all cells if none passes);
    ± is the sd across cells."""
    passing = [c for c in cells if underparametrized(c, alpha_max, accuracy_max)[0]]
    used, which = (
        (passing, "underparametrized") if passing else (cells, "none underparametrized: all")
    )
    mus = np.array([c.fit["mu"] for c in used], dtype=float)
    mus = mus[np.isfinite(mus)]
    lo, hi = PAPER_MU_MNIST[0] - PAPER_MU_MNIST[1], PAPER_MU_MNIST[0] + PAPER_MU_MNIST[1]
    paper = paper_values(experiment).get("mu_mean", "")
    if not len(mus):
        return _row(
            experiment,
            f"0 of {len(cells)} cells",
            "mean μ across cells",
            paper,
            "n/a",
            note="no cell has a finite μ",
        )
    mean = float(mus.mean())
    sd = f"± {mus.std(ddof=1):.3f} (sd across cells)" if len(mus) > 1 else ""
    inside = "inside" if lo <= mean <= hi else "outside"
    return _row(
        experiment,
        f"{len(mus)} of {len(cells)} cells ({which})",
        "mean μ across cells",
        paper,
        mean,
        sd,
        f"{inside} the paper's MNIST band [{lo:.3f}, {hi:.3f}]",
    )


def sweeps_alpha(cells: list[CellTables]) -> bool:
    """≥ 3 values of α spanning at least a factor 2: not the few-percent spread of P across
    the architectures of one N (mnist_arch), which says nothing about a transition."""
    alphas = {round(c.alpha, 12) for c in cells}
    return len(alphas) >= 3 and max(alphas) >= 2 * min(alphas)


def build(
    limits: dict | None,
    experiments: dict[str, list[CellTables]],
    loss_within: float,
    grad_rms_after: float,
    alpha_max: float = 0.3,
    accuracy_max: float = 0.99,
    tti_mu: float = 0.1,
    glasses: list[CellTables] = (),
    sweeps: dict | None = None,
) -> pd.DataFrame:
    """All rows: the LJAT19 data's limits first (when given), then every cell of every experiment
    (with its temperatures and stationarity where it is a sweep's, ``sweeps`` as --sweeps gives),
    each MNIST experiment's mean μ, the transition of experiments that sweep α, and the
    p-spin glass cells last."""
    rows = []
    if limits is not None:
        rows += [
            _row(
                "data",
                "LJAT19",
                "Bayes accuracy ceiling",
                PAPER_DATA["bayes_accuracy"],
                limits["accuracy_ceiling"],
                note=f"estimated on {limits['n']} samples, features {', '.join(limits['features'])}",
            ),
            _row(
                "data",
                "LJAT19",
                "conditional-entropy floor (nats)",
                PAPER_DATA["loss_floor"],
                limits["entropy_floor_nats"],
                note="lowest cross-entropy any classifier of these features can reach",
            ),
        ]
    for experiment, cells in experiments.items():
        for cell in cells:
            rows.extend(
                cell_rows(
                    experiment, cell, loss_within, grad_rms_after, alpha_max, accuracy_max, tti_mu
                )
            )
            name = f"N{cell.meta['n_train']}/{cell.meta['arch']}"
            rows.extend(
                shape_rows(experiment, name, cell, paper_values(experiment).get("late", ""))
            )
            if sweeps and experiment in sweeps["members"]:
                rows.extend(
                    _row(experiment, f"N{cell.meta['n_train']}/{cell.meta['arch']}", *row)
                    for row in sweep_rows(cell, sweeps["temperature_after"])
                )
        if "mu_mean" in paper_values(experiment) or cells[0].dataset != "ljat19":
            rows.append(mean_mu_row(experiment, cells, alpha_max, accuracy_max))
        if len({c.meta["n_train"] for c in cells if c.hessian_summary is not None}) > 1:
            rows.extend(trace_generalization_rows(experiment, cells))
        if sweeps_alpha(cells):
            rows.append(transition_row(experiment, cells, accuracy_max))
    if glasses:
        rows.extend(
            glass_rows(list(glasses), [c for cells in experiments.values() for c in cells], tti_mu)
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _verdict(ok: bool | None, explained: str = "") -> str:
    """matches / differs (explained: where the cause is written down) / undefined (ok is None)."""
    if ok is None:
        return "undefined"
    return "matches" if ok else (f"explained ({explained})" if explained else "differs")


def _headline_mu(
    claim: str,
    cells: list[CellTables],
    paper: str,
    tti_mu: float,
    want: set[str],
    explained: str = "",
) -> list[dict]:
    """One headline row per cell: μ with its total interval and the aging class against ``want``."""
    rows = []
    for cell in cells:
        fit = cell.fit
        verdict, why = aging.aging_verdict(fit, tti_mu)
        value = f"{fit['mu']:.3f}" if np.isfinite(fit["mu"]) else "undefined"
        interval = (
            f"[{fit['total_low']:.3f}, {fit['total_high']:.3f}]" if np.isfinite(fit["mu"]) else ""
        )
        ok = None if verdict == "undefined" else verdict in want
        shown = value if verdict == "undefined" else f"{value} ({verdict})"
        rows.append(
            dict(
                zip(
                    HEADLINE_COLUMNS,
                    [
                        f"{claim}, {cell.meta['arch']}" if not cell.is_glass else claim,
                        paper,
                        shown,
                        interval,
                        _verdict(ok, explained),
                        f"{cell.meta['experiment']} rows; residual {fit['residual_dex']:.3f} dex"
                        if ok is not None
                        else str(fit["status"]),
                    ],
                )
            )
        )
    return rows


def headline(
    limits: dict | None,
    experiments: dict[str, list[CellTables]],
    grad_rms_after: float,
    tti_mu: float,
    accuracy_max: float,
    glasses: list[CellTables] = (),
    sweeps: dict | None = None,
) -> pd.DataFrame:
    """One row per claim or number of the papers that this run can test, with a verdict; then the
    claims of the dynamics sweeps (glassynets.sweeps.headline_rows), ``sweeps`` as --sweeps gives."""
    rows = []

    def add(claim, paper, value, uncertainty, verdict, where):
        rows.append(dict(zip(HEADLINE_COLUMNS, [claim, paper, value, uncertainty, verdict, where])))

    ljat_doc = "docs/ljat19.md"
    if limits is not None:
        c, f = limits["accuracy_ceiling"], limits["entropy_floor_nats"]
        add(
            "LJAT19 Bayes accuracy ceiling",
            "≈ 0.8",
            f"{c:.3f}",
            "",
            _verdict(abs(c - 0.8) <= 0.02, ljat_doc),
            ljat_doc,
        )
        add(
            "LJAT19 entropy floor (nats)",
            "≈ 0.5",
            f"{f:.3f}",
            "",
            _verdict(abs(f - 0.5) <= 0.03, ljat_doc),
            ljat_doc,
        )
    arch = experiments.get("ljat_arch", [])
    if arch:
        losses = [c.final("train_loss")[0] for c in arch]
        add(
            "LJAT19 final train loss, 1/2/3 layers",
            "≈ 0.5",
            " / ".join(f"{v:.3f}" for v in losses),
            "",
            _verdict(all(abs(v - 0.5) <= 0.05 for v in losses), ljat_doc),
            "ljat_arch rows",
        )
        reached = [loss_reached_step(c.metrics, 0.1) for c in arch]
        add(
            "LJAT19 time to reach the loss floor (within 10%)",
            "t ≈ 10³",
            " / ".join(f"10^{np.log10(r):.2f}" for r in reached),
            "",
            _verdict(all(abs(np.log10(r) - 3) <= 0.3 for r in reached)),
            "ljat_arch rows; regenerated data: " + ljat_doc,
        )
        paper = {1: 0.02, 2: 0.07, 3: 0.12}
        rms = {
            len(c.meta["widths"]) - 2: grad_rms(c.metrics, "grad_norm", grad_rms_after)[0]
            for c in arch
        }
        add(
            f"LJAT19 full-batch gradient-norm RMS, t ≥ {grad_rms_after:g}",
            "0.02 / 0.07 / 0.12",
            " / ".join(f"{rms[d]:.3f}" for d in sorted(rms)),
            "norm of ∇(CE + λ‖θ‖²) over all parameters",
            _verdict(all(0.67 <= rms[d] / paper[d] <= 1.5 for d in rms if d in paper)),
            "ljat_arch rows; regenerated data: " + ljat_doc,
        )
        rows.extend(
            _headline_mu(
                f"LJAT19 μ at Δ* = {arch[0].fit['delta_star']:.3g}",
                arch,
                "< 1 (subaging)",
                tti_mu,
                {"subaging"},
            )
        )
        for cell in arch:
            fit = cell.fit
            ok = (
                None
                if not np.isfinite(fit["crossover_log10_tw"])
                else bool(fit["crossover_low"] - 0.2 <= 3.6 <= fit["crossover_high"] + 0.2)
            )
            add(
                f"LJAT19 crossover of t*(t_w), {cell.meta['arch']}",
                "log10 t_w ≈ 3.6",
                f"{fit['crossover_log10_tw']:.2f}" if ok is not None else "undefined",
                f"[{fit['crossover_low']:.2f}, {fit['crossover_high']:.2f}]"
                if ok is not None
                else "",
                _verdict(ok),
                f"start of the asymptotic regime; two-segment break at {fit['hinge_log10_tw']:.2f}",
            )
        spans = [scan_range(c) for c in arch]
        widths = [c.fit["total_high"] - c.fit["total_low"] for c in arch]
        finite = [np.isfinite(lo) for lo, _ in spans]
        add(
            "LJAT19 μ barely depends on Δ*",
            "yes",
            " / ".join(f"{hi - lo:.3f}" if np.isfinite(lo) else "n/a" for lo, hi in spans),
            "range of μ over the Δ* scan, same window",
            _verdict(
                all((hi - lo) <= w for (lo, hi), w in zip(spans, widths) if np.isfinite(lo))
                if any(finite)
                else None
            ),
            "compared with each μ's total interval width",
        )
    chain = experiments.get("ljat_chain", [])
    if chain:
        rows.extend(_headline_mu("LJAT19 chain μ", chain, "< 1 (subaging)", tti_mu, {"subaging"}))
    for arch_name, alpha_name in (("mnist_arch", "mnist_alpha"), ("fashion_arch", "fashion_alpha")):
        cells = experiments.get(arch_name, []) + experiments.get(alpha_name, [])
        if not cells:
            continue
        title = TITLES[cells[0].dataset]
        # a data set the papers did not run is compared with MNIST's exponent, and says so
        paper = (
            "0.709 ± 0.017"
            if cells[0].dataset == "mnist"
            else "no paper value (MNIST: 0.709 ± 0.017)"
        )
        if experiments.get(arch_name):
            rows.extend(
                _headline_mu(f"{title} μ", experiments[arch_name], paper, tti_mu, {"subaging"})
            )
        if experiments.get(alpha_name):
            rows.extend(
                _headline_mu(f"{title} μ(α)", experiments[alpha_name], paper, tti_mu, {"subaging"})
            )
            row = mean_mu_row(alpha_name, experiments[alpha_name], 1.0, accuracy_max)
            lo, hi = PAPER_MU_MNIST[0] - PAPER_MU_MNIST[1], PAPER_MU_MNIST[0] + PAPER_MU_MNIST[1]
            value = float(row["reproduced"]) if row["reproduced"] != "n/a" else float("nan")
            add(
                f"{title} mean μ across α",
                paper,
                row["reproduced"],
                row["uncertainty"],
                _verdict(bool(lo <= value <= hi) if np.isfinite(value) else None),
                row["cell"],
            )
    hess = [
        c
        for cells in experiments.values()
        for c in cells
        if c.hessian_summary is not None and c.hessian_summary["step"].nunique() > 1
    ]
    for cell in hess[:1]:
        summary = cell.hessian_summary
        first = summary.loc[summary["step"] == summary["step"].min(), "frac_negative"].mean()
        last = summary.loc[summary["step"] == summary["step"].max(), "frac_negative"].mean()
        add(
            f"negative Hessian eigenvalues along training ({cell.meta['experiment']} {cell.meta['arch']})",
            "fraction drops but stays > 0",
            f"{first:.3f} → {last:.3f}",
            "",
            _verdict(bool(last < first and last > 0)),
            "hessian rows",
        )
    for name, cells in experiments.items():
        if len({c.meta["n_train"] for c in cells if c.hessian_summary is not None}) > 1:
            row = trace_generalization_rows(name, cells)[1]
            lo = float(row["uncertainty"].split(",")[0].strip("["))
            add(
                "Hessian trace/N vs generalization error (Spearman)",
                "positive",
                row["reproduced"],
                row["uncertainty"],
                _verdict(lo > 0),
                f"{name}, {row['cell']}",
            )
        if sweeps_alpha(cells) and name in ("ljat_transition", "mnist_transition", "mnist_toy"):
            row = transition_row(name, cells, accuracy_max)
            add(
                f"under/over-parametrized transition ({name})",
                "a transition in α",
                row["reproduced"],
                row["uncertainty"],
                _verdict(row["reproduced"] != "n/a" or None),
                "transition row",
            )
    simulated, theories = glass_theory.split(glasses)
    rows.extend(_headline_glass(cell, theories, tti_mu) for cell in simulated)
    if sweeps and sweeps["members"]:
        from . import sweeps as sweep_claims

        found = sweep_claims.families(
            [c for cells in experiments.values() for c in cells], sweeps["members"]
        )
        rows += sweep_claims.headline_rows(found, sweeps["temperature_after"], tti_mu)
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def _headline_glass(cell: CellTables, theories: list[CellTables], tti_mu: float) -> dict:
    """The p-spin's μ against the theory that applies at the simulated times: CK mapped to its N
    over the same t_w window (glassynets.glass_theory); without CK cells, the asymptotic class
    (simple aging below T_d, none above), which these times need not reach."""
    from .pspin import T_DYNAMICAL

    T, n = cell.meta["temperature"], cell.meta["n_spins"]
    claim = f"p-spin T = {T:g}, N = {n}: μ"
    theory = glass_theory.partners(cell, theories).mapped
    if theory is None:
        glassy = T < T_DYNAMICAL
        row = _headline_mu(
            claim,
            [cell],
            "simple aging (μ ≈ 1) as t → ∞" if glassy else "none (μ ≈ 0)",
            tti_mu,
            {"simple aging"} if glassy else {"none"},
        )[0]
        row["claim"] = f"{claim} (aging class)"
        return row
    mu = glass_theory.mu_comparison(cell, theory)
    defined = np.isfinite(mu["mu_sim"])
    return dict(
        zip(
            HEADLINE_COLUMNS,
            [
                f"{claim} against CK at the same times",
                f"{mu['mu_ck']:.3f} (CK mapped to N = {n}, same window)"
                if np.isfinite(mu["mu_ck"])
                else "undefined (CK)",
                f"{mu['mu_sim']:.3f}" if defined else "undefined",
                f"[{mu['total_low']:.3f}, {mu['total_high']:.3f}]" if defined else "",
                mu["verdict"],
                f"pspin rows 'μ against CK' (n = ∞: see its row); CK's own window: "
                f"{mu['mu_ck_own']:.3f}",
            ],
        )
    )


def shape_rows(experiment: str, name: str, cell: CellTables, paper_late: str = "") -> list[dict]:
    """The two-time curves' shape (glassynets.scaling): the collapse quality and μ_collapse against
    the t* μ, and the long-lag exponent β with the aging of D_β (none for old folders), against
    ``paper_late``, the paper's statement on long times."""
    from . import scaling

    if cell.collapse is None:
        return []
    c = cell.collapse.iloc[0]
    window = f"t_w in [{c['tw_min']:.3g}, {c['tw_max']:.3g}] ({c['n_tw']} t_w)"
    agree = {
        1.0: "agrees with the t* μ within the intervals",
        0.0: "differs from the t* μ beyond the intervals: μ depends on the level Δ* it is read at",
    }.get(c["agree"], "t* μ undefined: nothing to compare")
    rows = [
        _row(
            experiment,
            name,
            "collapse spread of log10 Δ (dex): unscaled → at μ",
            "",
            f"{c['spread_raw']:.3f} → {c['spread_mu']:.3f}"
            if np.isfinite(c["spread_mu"])
            else f"{c['spread_raw']:.3f} → undefined",
            "",
            f"RMS over scaled times of the spread across {window}",
        ),
        _row(
            experiment,
            name,
            "μ_collapse (minimising the spread)",
            "",
            c["mu_collapse"] if np.isfinite(c["mu_collapse"]) else "undefined",
            f"[{c['collapse_low']:.3f}, {c['collapse_high']:.3f}] (95% bootstrap)"
            if np.isfinite(c["mu_collapse"])
            else "",
            f"spread there {c['spread_min']:.3f}; {agree}",
        ),
    ]
    fits = cell.long_lag
    if fits is None or not len(fits):
        rows.append(
            _row(experiment, name, "long-lag β of Δ ≈ D_β·t^β", paper_late, "undefined", "",
                 f"no decade of lags t >= {scaling.LONG_LAG_FACTOR:g} t_w with local β within ±{scaling.BETA_TOLERANCE:g}")
        )  # fmt: skip
        return rows
    summary = scaling.diffusion_aging({k: fits[k].to_numpy() for k in fits.columns})
    rows.append(
        _row(
            experiment,
            name,
            "long-lag β of Δ ≈ D_β·t^β",
            paper_late,
            float(np.median(fits["beta"])),
            f"{summary['beta_min']:.3f} … {summary['beta_max']:.3f} over t_w; 95% bootstrap of each "
            f"within [{fits['beta_low'].min():.3f}, {fits['beta_high'].max():.3f}]",
            f"median over {summary['n_tw']} t_w ({fits['t_w'].min():g} … {fits['t_w'].max():g}); "
            + (
                f"log D_β against log t_w: slope {summary['slope']:.2f}"
                if np.isfinite(summary["slope"])
                else "one t_w: no D_β(t_w)"
            ),
        )
    )
    return rows


def sweep_rows(cell: CellTables, after: float) -> list[tuple]:
    """(quantity, paper, value, uncertainty, note) of a sweep cell's temperatures and stationarity."""
    from . import sweeps as sw

    window = f"mean over runs and metric steps >= {after:g}"
    return [
        (
            "dynamics",
            "",
            sw.dynamics_label(cell),
            "",
            f"noise {cell.meta['noise']}, sampling {cell.meta['sampling']}",
        ),
        ("T_SGD = lr·‖g_B − g‖²/(2P) (nats)", "", sw.late_mean(cell, "t_sgd", after), "", window),
        (
            "effective temperature (nats)",
            "",
            sw.effective_temperature(cell, after),
            "",
            "T_SGD (SGD, persistent), T (Langevin), T_SGD + T (minibatch_langevin), 0 (gradient descent)",
        ),
        (
            "Yaida's ratio ⟨θ·g_B⟩/⟨(lr/2)‖g_B‖² + T·P⟩",
            "1 at stationarity",
            "undefined" if sw.noiseless(cell) else sw.late_stationarity(cell, after),
            "",
            "gradient descent: no noise, no stationary distribution to test"
            if sw.noiseless(cell)
            else window,
        ),
    ]


def _markdown_row(values) -> str:
    """A Markdown table row; a | inside a value is escaped (it would split the cell)."""
    return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"


def write(
    table: pd.DataFrame,
    md_path: str | Path,
    csv_path: str | Path,
    top: pd.DataFrame | None = None,
    lineage: str | None = None,
) -> None:
    """Write the scorecard as Markdown (the headline table ``top`` first, then every row; its last
    line holds ``lineage``, glassynets.lineage, if given) and the rows as CSV (atomically)."""
    lines = ["# Scorecard: the paper's numbers next to this reproduction", ""]
    if top is not None and len(top):
        lines += [
            "## Headline: one row per claim",
            "",
            "Verdicts: matches; differs; explained (the cause is documented where linked); undefined (not "
            "measurable here, e.g. t* undefined at too many t_w). μ intervals combine the 95% bootstrap over runs "
            "with the spread over fit windows and averaging conventions.",
            "",
            "| " + " | ".join(HEADLINE_COLUMNS) + " |",
            "|" + "---|" * len(HEADLINE_COLUMNS),
        ]
        lines += [_markdown_row(row) for row in top.itertuples(index=False)]
        lines += ["", "## Every cell", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += [_markdown_row(row) for row in table.itertuples(index=False)]
    if lineage is not None:
        from .lineage import SCORECARD_LINE

        lines += ["", SCORECARD_LINE.format(lineage)]
    storage.atomic_write_text(md_path, "\n".join(lines) + "\n")
    storage.atomic_write_text(csv_path, table.to_csv(index=False))
