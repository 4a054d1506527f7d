"""The scorecard's rows of one network cell: size, training, μ, dynamics, shape, Hessian and
sweep rows, each with the papers' statement (glassynets.claims) in its ``paper`` column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import aging
from ..cells import CellTables
from .criteria import Criteria, Experiment

COLUMNS = ["experiment", "cell", "quantity", "paper", "reproduced", "uncertainty", "note"]


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


def cell_name(cell: CellTables) -> str:
    """A network cell in the rows: N<n>/<architecture>."""
    return f"N{cell.meta['n_train']}/{cell.meta['arch']}"


def cell_rows(
    experiment: Experiment, cell: CellTables, criteria: Criteria, paper: dict[str, str]
) -> list[dict]:
    """Every row of one network cell; ``paper``: the claims' wording by row
    (glassynets.claims.texts)."""
    name, exp = cell_name(cell), experiment.name
    rows = _size_rows(exp, name, cell, criteria, paper)
    rows += _training_rows(exp, name, cell, criteria, paper)
    rows.append(mu_row(exp, name, cell, paper.get("mu", "")))
    rows += dynamics_rows(exp, name, cell, paper, criteria.tti_mu)
    low, high = scan_range(cell)
    if np.isfinite(low):
        scan = cell.mu["delta_star"][cell.mu["variant"] == "delta_star_scan"]
        rows.append(
            _row(
                exp,
                name,
                "μ range over the Δ* scan (asymptotic window)",
                paper.get("mu_scan", ""),
                high - low,
                note=f"μ from {low:.3f} to {high:.3f} over Δ* in "
                f"[{scan.min():.2g}, {scan.max():.2g}]",
            )
        )
    if cell.hessian_summary is not None:
        rows.extend(hessian_rows(exp, name, cell, paper.get("hessian_end", "")))
    rows.append(crossover_row(exp, name, cell, paper.get("crossover", "")))
    return rows


def _size_rows(
    exp: str, name: str, cell: CellTables, criteria: Criteria, paper: dict[str, str]
) -> list[dict]:
    """α = P/N, and on image data sets the underparametrized criterion (config's thresholds)."""
    rows = [
        _row(
            exp,
            name,
            "α = P/N",
            paper.get("alpha", ""),
            cell.alpha,
            note=f"P = {cell.meta['n_params']}, N = {cell.meta['n_train']}",
        )
    ]
    if cell.dataset != "ljat19":
        verdict, why = underparametrized(cell, criteria.alpha_max, criteria.accuracy_max)
        rows.append(
            _row(
                exp,
                name,
                "underparametrized criterion",
                paper.get("criterion", ""),
                "yes" if verdict else "no",
                note=why,
            )
        )
    return rows


def _training_rows(
    exp: str, name: str, cell: CellTables, criteria: Criteria, paper: dict[str, str]
) -> list[dict]:
    """Final train loss and accuracies, when the loss was reached, the gradient-norm RMS."""
    loss, loss_sd = cell.final("train_loss")
    unit = "MSE" if cell.meta.get("loss") == "mse" else "nats"
    acc, acc_sd = cell.final("train_acc")
    test_acc, test_sd = cell.final("test_acc")
    within = criteria.loss_within
    reached = loss_reached_step(cell.metrics, within)
    rows = [
        _row(exp, name, f"final train loss ({unit})", paper.get("loss", ""), loss,
             f"± {loss_sd:.2g} (sd)"),
        _row(exp, name, "final train accuracy", paper.get("accuracy", ""), acc,
             f"± {acc_sd:.2g} (sd)"),
        _row(exp, name, "final test accuracy", "", test_acc, f"± {test_sd:.2g} (sd)"),
        _row(exp, name, f"step where mean loss is within {within:.0%} of final",
             paper.get("loss_reached_step", ""), reached,
             note=f"log10 = {np.log10(reached):.2f}" if reached > 0 else ""),
    ]  # fmt: skip
    depth = len(cell.meta["widths"]) - 2
    after = criteria.grad_rms_after
    for column, what in (("grad_norm", "full-batch"), ("batch_grad_norm", "minibatch")):
        rms, sd = grad_rms(cell.metrics, column, after)
        rows.append(
            _row(
                exp,
                name,
                f"{what} gradient-norm RMS, t ≥ {after:g}",
                paper.get(f"grad_rms_{depth}", ""),
                rms,
                f"± {sd:.2g} (sd of per-run RMS)",
            )
        )
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


def hessian_rows(experiment: str, name: str, cell: CellTables, paper_end: str) -> list[dict]:
    """Fraction of negative Hessian eigenvalues at the first and last recorded steps, the last
    against ``paper_end``."""
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
                paper_end if when == "end" else "",
                float(frac.mean()),
                sd,
                f"{len(frac)} runs, {'exact' if summary['exact'].all() else 'stochastic (unreliable near 0)'}",
            )
        )
    return rows


def shape_rows(experiment: str, name: str, cell: CellTables, paper_late: str = "") -> list[dict]:
    """The two-time curves' shape (glassynets.scaling): the collapse quality and μ_collapse against
    the t* μ, and the long-lag exponent β with the aging of D_β (none for old folders), against
    ``paper_late``, the paper's statement on long times."""
    from .. import scaling

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
    from .. import sweeps as sw

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
