"""The scorecard: every number the paper states for this part next to the reproduced value.

Reproduced values are means over runs with their standard deviation across runs, unless the
row says otherwise (μ: bootstrap-over-seeds 95% interval; data limits: estimator on a large
independent sample).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import aging, storage
from .cells import CellTables

#: The paper's statements (Herrera Segura et al. 2022, text and Figs 1–6, A.3), by experiment.
PAPER_DATA = {"bayes_accuracy": "≈ 0.8 (two of three distances)", "loss_floor": "≈ 0.5"}
PAPER = {
    "ljat_arch": {
        "loss": "≈ 0.5 (floor)",
        "accuracy": "≈ 0.8 max",
        "loss_reached_step": "L ≈ 0.5 near t ≈ 10³",
        "grad_rms": {1: "0.02", 2: "0.07", 3: "0.12"},  # RMS of the gradient norm after t = 10⁴, by depth
        "mu": "< 1 (subaging)",
        "mu_scan": "barely depends on Δ*",
        "crossover": "t_w ≈ 10^3.6",
    },
    "ljat_chain": {"loss": "plateau ≈ 0.8 for deeper nets", "accuracy": "≈ 0.8 max", "mu": "< 1 (subaging)"},
    "mnist_arch": {"accuracy": "< 0.99 (underparametrized)", "mu": "< 1 (subaging)", "mu_mean": "0.709 ± 0.017"},
    "mnist_alpha": {"accuracy": "< 0.99 after 10⁶ steps", "mu": "0.709 ± 0.017", "mu_mean": "0.709 ± 0.017"},
}
#: μ on MNIST, one exponent across the underparametrized phase (Fig 6b): value and its ±.
PAPER_MU_MNIST = (0.709, 0.017)

COLUMNS = ["experiment", "cell", "quantity", "paper", "reproduced", "uncertainty", "note"]


def _row(experiment: str, cell: str, quantity: str, paper: str, value: float | str, uncertainty: str = "",
         note: str = "") -> dict:
    shown = value if isinstance(value, str) else f"{value:.4g}"
    return dict(zip(COLUMNS, [experiment, cell, quantity, paper, shown, uncertainty, note]))


def _final(metrics: pd.DataFrame, column: str) -> tuple[float, float]:
    last = metrics[metrics["step"] == metrics["step"].max()][column]
    return float(last.mean()), float(last.std(ddof=1)) if len(last) > 1 else float("nan")


def loss_reached_step(metrics: pd.DataFrame, within: float) -> float:
    """First step at which the ensemble-mean train loss is within ``within`` (fraction) of its final value."""
    mean = metrics.groupby("step")["train_loss"].mean()
    reached = mean.index[mean <= mean.iloc[-1] * (1 + within)]
    return float(reached[0]) if len(reached) else float("nan")


def grad_rms(metrics: pd.DataFrame, column: str, after: float) -> tuple[float, float]:
    """RMS of a gradient-norm column over steps >= ``after``: over all runs, and its spread across runs."""
    late = metrics[metrics["step"] >= after]
    per_run = late.groupby("seed")[column].apply(lambda g: float(np.sqrt(np.mean(g**2))))
    return float(np.sqrt(np.mean(late[column] ** 2))), float(per_run.std(ddof=1)) if len(per_run) > 1 else float("nan")


def underparametrized(cell: CellTables, alpha_max: float, accuracy_max: float) -> tuple[bool, str]:
    """The paper's criterion: α ≪ 1 (here α <= alpha_max) and final mean train accuracy < accuracy_max."""
    acc, _ = _final(cell.metrics, "train_acc")
    ok = cell.alpha <= alpha_max and acc < accuracy_max
    return ok, f"α = {cell.alpha:.3g} {'≤' if cell.alpha <= alpha_max else '>'} {alpha_max:g}, " \
               f"train accuracy {acc:.4f} {'<' if acc < accuracy_max else '≥'} {accuracy_max:g}"


def cell_rows(experiment: str, cell: CellTables, loss_within: float, grad_rms_after: float,
              alpha_max: float = 0.3, accuracy_max: float = 0.99) -> list[dict]:
    name = f"N{cell.meta['n_train']}/{cell.meta['arch']}"
    depth = len(cell.meta["widths"]) - 2
    paper = PAPER.get(experiment, {})
    rows = [_row(experiment, name, "α = P/N", "≪ 1" if cell.dataset == "mnist" else "", cell.alpha,
                 note=f"P = {cell.meta['n_params']}, N = {cell.meta['n_train']}")]
    if cell.dataset == "mnist":
        verdict, why = underparametrized(cell, alpha_max, accuracy_max)
        rows.append(_row(experiment, name, "underparametrized criterion", "α ≪ 1 and accuracy < 0.99",
                         "yes" if verdict else "no", note=why))
    loss, loss_sd = _final(cell.metrics, "train_loss")
    rows.append(_row(experiment, name, "final train loss (nats)", paper.get("loss", ""), loss, f"± {loss_sd:.2g} (sd)"))
    acc, acc_sd = _final(cell.metrics, "train_acc")
    rows.append(_row(experiment, name, "final train accuracy", paper.get("accuracy", ""), acc, f"± {acc_sd:.2g} (sd)"))
    test_acc, test_sd = _final(cell.metrics, "test_acc")
    rows.append(_row(experiment, name, "final test accuracy", "", test_acc, f"± {test_sd:.2g} (sd)"))
    reached = loss_reached_step(cell.metrics, loss_within)
    rows.append(_row(experiment, name, f"step where mean loss is within {loss_within:.0%} of final", paper.get("loss_reached_step", ""),
                     reached, note="log10 = %.2f" % np.log10(reached) if reached > 0 else ""))
    paper_grad = paper.get("grad_rms", {}).get(depth, "")
    for column, what in (("grad_norm", "full-batch"), ("batch_grad_norm", "minibatch")):
        rms, sd = grad_rms(cell.metrics, column, grad_rms_after)
        rows.append(_row(experiment, name, f"{what} gradient-norm RMS, t ≥ {grad_rms_after:g}", paper_grad, rms,
                         f"± {sd:.2g} (sd of per-run RMS)"))
    fit = cell.fit
    rows.append(_row(experiment, name, f"μ at Δ* = {fit['delta_star']:g}", paper.get("mu", ""), fit["mu"],
                     f"[{fit['ci_low']:.3f}, {fit['ci_high']:.3f}] (95% bootstrap)",
                     f"fit over t_w in [{fit['tw_min']:g}, {fit['tw_max']:g}], {fit['n_points']} points"))
    scan = cell.mu[~cell.mu["primary"]]
    if len(scan):
        rows.append(_row(experiment, name, f"μ range over Δ* in [{scan['delta_star'].min():.2g}, {scan['delta_star'].max():.2g}]",
                         paper.get("mu_scan", ""), float(scan["mu"].max() - scan["mu"].min()),
                         note=f"μ from {scan['mu'].min():.3f} to {scan['mu'].max():.3f}"))
    if cell.hessian_summary is not None:
        rows.extend(hessian_rows(experiment, name, cell))
    curve = cell.tstar_curve
    cross = aging.crossover(curve["t_w"].to_numpy(), curve["t_star"].to_numpy())
    rows.append(_row(experiment, name, "crossover in t*(t_w), log10 t_w", paper.get("crossover", ""), cross["log10_tw"],
                     note=f"slopes {cross['slope_before']:.2f} before, {cross['slope_after']:.2f} after"))
    return rows


def hessian_rows(experiment: str, name: str, cell: CellTables) -> list[dict]:
    """Fraction of negative Hessian eigenvalues at the first and last recorded steps."""
    summary = cell.hessian_summary
    rows = []
    for when, step in (("start", summary["step"].min()), ("end", summary["step"].max())):
        frac = summary.loc[summary["step"] == step, "frac_negative"]
        sd = f"± {frac.std(ddof=1):.2g} (sd)" if len(frac) > 1 else ""
        rows.append(_row(experiment, name, f"fraction of negative Hessian eigenvalues at the {when} (step {step:g})",
                         "drops along training but stays > 0" if when == "end" else "", float(frac.mean()), sd,
                         f"{len(frac)} runs, {'exact' if summary['exact'].all() else 'stochastic (unreliable near 0)'}"))
    return rows


def trace_generalization_rows(experiment: str, cells: list[CellTables], n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """Pearson and Spearman correlation of Hessian trace/N with the generalization error over every
    network of the experiment at its last step, with 95% bootstrap intervals (resampling networks)."""
    from scipy import stats

    points = pd.concat([c.final_hessians() for c in cells if c.hessian_summary is not None], ignore_index=True)
    x, y = points["trace_per_n"].to_numpy(), points["gen_error"].to_numpy()
    rng = np.random.default_rng(seed)
    rows = []
    for label, corr in (("Pearson", lambda a, b: stats.pearsonr(a, b)[0]), ("Spearman", lambda a, b: stats.spearmanr(a, b)[0])):
        value = float(corr(x, y))
        boot = [corr(x[i], y[i]) for i in (rng.integers(0, len(x), len(x)) for _ in range(n_boot))]
        lo, hi = np.nanquantile(boot, [0.025, 0.975])
        rows.append(_row(experiment, f"{len(x)} networks", f"{label} correlation of Hessian trace/N with test − train loss",
                         "positive", value, f"[{lo:.3f}, {hi:.3f}] (95% bootstrap)",
                         f"N in {sorted({int(n) for n in points['n_train']})}, step {int(points['step'].max())}"))
    return rows


def mean_mu_row(experiment: str, cells: list[CellTables], alpha_max: float, accuracy_max: float) -> dict:
    """Mean of the cells' μ against the paper's MNIST exponent, over the cells that pass the
    underparametrized criterion (the paper's claim is about them; all cells if none passes);
    ± is the sd across cells."""
    passing = [c for c in cells if underparametrized(c, alpha_max, accuracy_max)[0]]
    used, which = (passing, "underparametrized") if passing else (cells, "none underparametrized: all")
    mus = np.array([c.fit["mu"] for c in used], dtype=float)
    mus = mus[np.isfinite(mus)]
    lo, hi = PAPER_MU_MNIST[0] - PAPER_MU_MNIST[1], PAPER_MU_MNIST[0] + PAPER_MU_MNIST[1]
    if not len(mus):
        return _row(experiment, f"0 of {len(cells)} cells", "mean μ across cells", PAPER.get(experiment, {}).get("mu_mean", ""),
                    "n/a", note="no cell has a finite μ")
    mean = float(mus.mean())
    sd = f"± {mus.std(ddof=1):.3f} (sd across cells)" if len(mus) > 1 else ""
    inside = "inside" if lo <= mean <= hi else "outside"
    return _row(experiment, f"{len(mus)} of {len(cells)} cells ({which})", "mean μ across cells",
                PAPER.get(experiment, {}).get("mu_mean", ""), mean, sd, f"{inside} the paper's band [{lo:.3f}, {hi:.3f}]")


def build(limits: dict | None, experiments: dict[str, list[CellTables]], loss_within: float, grad_rms_after: float,
          alpha_max: float = 0.3, accuracy_max: float = 0.99) -> pd.DataFrame:
    """All rows: the LJAT19 data's limits first (when given), then every cell of every experiment,
    then each MNIST experiment's mean μ."""
    rows = []
    if limits is not None:
        rows += [
            _row("data", "LJAT19", "Bayes accuracy ceiling", PAPER_DATA["bayes_accuracy"], limits["accuracy_ceiling"],
                 note=f"estimated on {limits['n']} samples, features {', '.join(limits['features'])}"),
            _row("data", "LJAT19", "conditional-entropy floor (nats)", PAPER_DATA["loss_floor"], limits["entropy_floor_nats"],
                 note="lowest cross-entropy any classifier of these features can reach"),
        ]
    for experiment, cells in experiments.items():
        for cell in cells:
            rows.extend(cell_rows(experiment, cell, loss_within, grad_rms_after, alpha_max, accuracy_max))
        if "mu_mean" in PAPER.get(experiment, {}) or cells[0].dataset == "mnist":
            rows.append(mean_mu_row(experiment, cells, alpha_max, accuracy_max))
        if len({c.meta["n_train"] for c in cells if c.hessian_summary is not None}) > 1:
            rows.extend(trace_generalization_rows(experiment, cells))
    return pd.DataFrame(rows, columns=COLUMNS)


def write(table: pd.DataFrame, md_path: str | Path, csv_path: str | Path) -> None:
    """Write the scorecard as a Markdown table and as CSV (atomically)."""
    lines = ["# Scorecard: the paper's numbers next to this reproduction", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    storage.atomic_write_text(md_path, "\n".join(lines) + "\n")
    storage.atomic_write_text(csv_path, table.to_csv(index=False))
