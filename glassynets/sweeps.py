"""Sweeps of the training dynamics (docs/noise.md): each variant's μ against its control
parameter, whether one constant μ is consistent with a sweep's cells, every dynamics on one
temperature axis, and the time–temperature superposition of Langevin cells.

A sweep (config: an experiment's ``sweep``) is a family of experiments, one per variant; the
workflow hands the figure and scorecard commands the map experiment -> {axis, family, variant}
(``--sweeps``), and this module groups the cells by it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from . import aging
from .cells import CellTables
from .dynamics import stationarity_ratio
from .scaling import spread

#: z of a two-sided 95% interval: μ's total intervals are read as ±Z95·σ for the χ² test.
Z95 = float(stats.norm.ppf(0.975))
#: Below this p-value, one constant μ is rejected.
P_CONSISTENT = 0.05
#: Symbols of the control parameters, for labels.
AXIS_LABELS = {
    "batch_size": "batch size B",
    "lr": "learning rate lr",
    "temperature": "Langevin temperature T (nats)",
    "persistence": "persistence τ (steps)",
}


@dataclass
class Family:
    """One sweep: its control parameter and its variants' cells, in the config's order."""

    name: str
    axis: str
    members: list[tuple[str, CellTables]]

    @property
    def cells(self) -> list[CellTables]:
        return [cell for _, cell in self.members]

    @property
    def dataset(self) -> str:
        return self.members[0][1].dataset


def families(cells: list[CellTables], sweeps: dict[str, dict]) -> list[Family]:
    """The sweep families among ``cells`` (``sweeps``: experiment -> {axis, family, variant});
    each member cell's label becomes its variant's dynamics (for legends)."""
    out: dict[str, Family] = {}
    for cell in cells:
        sweep = sweeps.get(cell.meta.get("experiment"))
        if sweep is None:
            continue
        family = out.setdefault(sweep["family"], Family(sweep["family"], sweep["axis"], []))
        meta = {**cell.meta, "label": dynamics_label(cell), "sweep_base": sweep.get("base", False)}
        labelled = dataclasses.replace(cell, meta=meta)
        family.members.append((sweep["variant"], labelled))
    return list(out.values())


def dynamics_label(cell: CellTables) -> str:
    """The dynamics of a cell in a few symbols: 'SGD B = 100, lr = 0.05', 'Langevin T = 5.8e-05', ..."""
    m = cell.meta
    noise, lr, b = m["noise"], f"lr = {m['lr']:g}", f"B = {m['batch_size']}"
    if noise == "minibatch" and m["batch_size"] >= m["n_train"]:
        return f"GD (B = N), {lr}"
    if noise == "minibatch":
        replacement = ", with replacement" if m["sampling"] == "with_replacement" else ""
        return f"SGD {b}, {lr}{replacement}"
    if noise == "full_batch":
        return f"GD, {lr}"
    if noise == "langevin":
        return f"Langevin T = {m['temperature']:.2g}"
    if noise == "minibatch_langevin":
        return f"SGD {b} + Langevin T = {m['temperature']:.2g}"
    return f"persistent τ = {m['persistence']:.3g}, {b}"


def late(cell: CellTables, after: float) -> pd.DataFrame:
    """The metrics rows at steps >= after (every run)."""
    return cell.metrics[cell.metrics["step"] >= after]


def late_mean(cell: CellTables, column: str, after: float) -> float:
    """Mean of a metrics column over runs and metric steps >= after; NaN if there are none."""
    values = late(cell, after)[column].to_numpy(float)
    return float(values.mean()) if len(values) else float("nan")


def noiseless(cell: CellTables) -> bool:
    """Gradient descent: full_batch, or minibatch with B = N (no SGD noise, no Langevin noise)."""
    m = cell.meta
    return (
        m["noise"] == "full_batch" or m["noise"] == "minibatch" and m["batch_size"] >= m["n_train"]
    )


def effective_temperature(cell: CellTables, after: float) -> float:
    """T on one axis for every dynamics (nats): T_SGD late for SGD and persistent SGD, T for
    Langevin, T_SGD + T for minibatch_langevin, 0 for gradient descent."""
    noise = cell.meta["noise"]
    if noiseless(cell):
        return 0.0
    if noise == "langevin":
        return float(cell.meta["temperature"])
    t_sgd = late_mean(cell, "t_sgd", after)
    return t_sgd + float(cell.meta["temperature"]) if noise == "minibatch_langevin" else t_sgd


def stationarity(cell: CellTables) -> tuple[np.ndarray, np.ndarray]:
    """Yaida's ratio ⟨θ·g_B⟩/⟨(lr/2)|g_B|² + T·P⟩ at each metric step (1 at stationarity)."""
    m = cell.metrics
    return stationarity_ratio(m["step"], m["theta_batch_grad"], m["yaida_rhs"])


def late_stationarity(cell: CellTables, after: float) -> float:
    """Yaida's ratio of the sums over runs and metric steps >= after; NaN for gradient descent,
    which has no stationary distribution to test (its relation reads 0 = 0 at a minimum, and the
    ratio of two vanishing sides measures only how close to it the run has come)."""
    if noiseless(cell):
        return float("nan")
    rows = late(cell, after)
    den = rows["yaida_rhs"].to_numpy(float).sum()
    return (
        float(rows["theta_batch_grad"].to_numpy(float).sum() / den) if len(rows) else float("nan")
    )


def table(found: list[Family], after: float, tti_mu: float) -> pd.DataFrame:
    """One row per member cell: its family, variant, dynamics, α, μ with its total interval,
    residual, crossover and status, the aging class, T_SGD and the effective T (late means),
    Yaida's late ratio and the final mean train loss."""
    rows = []
    for family in found:
        for variant, cell in family.members:
            fit, m = cell.fit, cell.meta
            rows.append(
                {
                    "family": family.name,
                    "variant": variant,
                    "experiment": m["experiment"],
                    "dataset": cell.dataset,
                    "axis": family.axis,
                    "value": float(m[family.axis]) if m[family.axis] is not None else float("nan"),
                    "dynamics": dynamics_label(cell),
                    "noise": m["noise"],
                    "noiseless": noiseless(cell),
                    "base": bool(cell.meta.get("sweep_base", False)),
                    "lr": m["lr"],
                    "batch_size": m["batch_size"],
                    "lr_over_b": m["lr"] / m["batch_size"],
                    "steps": m["steps"],
                    "alpha": cell.alpha,
                    "mu": fit["mu"],
                    "total_low": fit["total_low"],
                    "total_high": fit["total_high"],
                    "residual_dex": fit["residual_dex"],
                    "crossover_log10_tw": fit["crossover_log10_tw"],
                    "status": fit["status"],
                    "aging": aging.aging_verdict(fit, tti_mu)[0],
                    "t_sgd": late_mean(cell, "t_sgd", after),
                    "t_eff": effective_temperature(cell, after),
                    "yaida_ratio": late_stationarity(cell, after),
                    "train_loss": cell.final("train_loss")[0],
                }
            )
    return pd.DataFrame(rows)


def constant_mu(mu: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict:
    """Is one constant μ consistent with every cell's total 95% interval? Each interval is read as
    ±Z95·σ on the side facing the common value (asymmetric intervals), the common value is the
    weighted mean, and χ² = Σ((μ_i − μ̄)/σ_i)² is tested with n − 1 degrees of freedom (iterated
    until the sides stop changing). Cells with an undefined μ are left out (counted in
    ``n_undefined``). The intervals' window/convention parts are treated as independent across
    cells, which overstates the evidence for consistency where they are shared. Returns mean, chi2,
    dof, p (NaN with fewer than 2 defined cells), n, n_undefined."""
    mu, low, high = (np.asarray(a, dtype=float) for a in (mu, low, high))
    ok = np.isfinite(mu) & np.isfinite(low) & np.isfinite(high)
    n, n_undefined = int(ok.sum()), int((~ok).sum())
    if n < 2:
        return dict(
            mean=float("nan"),
            chi2=float("nan"),
            dof=0,
            p=float("nan"),
            n=n,
            n_undefined=n_undefined,
        )
    mu, low, high = mu[ok], low[ok], high[ok]
    floor = 1e-6  # an interval of zero width (a degenerate bootstrap) must not divide by zero
    sigma = np.maximum((high - low) / (2 * Z95), floor)
    mean = float(np.average(mu, weights=sigma**-2))
    for _ in range(20):
        side = np.where(mu > mean, mu - low, high - mu)
        sigma = np.maximum(side / Z95, floor)
        new = float(np.average(mu, weights=sigma**-2))
        if abs(new - mean) < 1e-12:
            break
        mean = new
    chi2 = float((((mu - mean) / sigma) ** 2).sum())
    return dict(
        mean=mean,
        chi2=chi2,
        dof=n - 1,
        p=float(stats.chi2.sf(chi2, n - 1)),
        n=n,
        n_undefined=n_undefined,
    )


def lag_to_reach(cell: CellTables, t_w: float, delta_star: float) -> float:
    """The lag t (steps) at which the ensemble-mean Δ(t_w, t_w + t) first reaches Δ*, by log-log
    interpolation, at the recorded t_w nearest ``t_w``; NaN when it never does."""
    curve = two_time_curve(cell, t_w)
    t, delta = curve["t"].to_numpy(float), curve["delta_mean"].to_numpy(float)
    above = np.flatnonzero(delta >= delta_star)
    if not len(above) or above[0] == 0 or delta[above[0] - 1] <= 0:
        return float(t[0]) if len(above) and above[0] == 0 else float("nan")
    i = above[0]
    x0, x1 = np.log(t[i - 1]), np.log(t[i])
    y0, y1 = np.log(delta[i - 1]), np.log(delta[i])
    return float(np.exp(x0 + (np.log(delta_star) - y0) * (x1 - x0) / (y1 - y0)))


def two_time_curve(cell: CellTables, t_w: float) -> pd.DataFrame:
    """Rows of the msd table (t, delta_mean, ...) at the recorded t_w nearest ``t_w`` (log scale)."""
    waits = np.unique(cell.msd["t_w"].to_numpy(float))
    waits = waits[waits > 0]
    nearest = waits[np.argmin(np.abs(np.log(waits) - np.log(t_w)))]
    return cell.msd[cell.msd["t_w"] == nearest].sort_values("t")


def superposition(cells: list[CellTables], t_w: float, delta_star: float) -> dict:
    """Time–temperature superposition of Langevin cells at one t_w: τ(T), the lag where Δ reaches
    Δ* (NaN: never), and the RMS spread of log10 Δ across the cells with a τ, against t (raw) and
    against t/τ (scaled), each over the range all curves share. Returns tau [cells], raw, scaled,
    n (cells with a τ)."""
    tau = np.array([lag_to_reach(c, t_w, delta_star) for c in cells])
    curves = [two_time_curve(c, t_w) for c in cells]
    with_tau = [(k, c) for k, c in enumerate(curves) if np.isfinite(tau[k])]
    raw = [(c["t"].to_numpy(float), c["delta_mean"].to_numpy(float)) for _, c in with_tau]
    scaled = [(x / tau[k], d) for (k, _), (x, d) in zip(with_tau, raw)]
    return dict(tau=tau, raw=spread(raw), scaled=spread(scaled), n=len(with_tau))


def _mu_list(rows: pd.DataFrame) -> str:
    return "; ".join(
        f"{r.variant} {r.mu:.2f}" if np.isfinite(r.mu) else f"{r.variant} undefined"
        for r in rows.itertuples()
    )


def _consistency_row(claim: str, paper: str, rows: pd.DataFrame, note: str) -> dict:
    test = constant_mu(rows["mu"], rows["total_low"], rows["total_high"])
    undefined = f", {test['n_undefined']} undefined" if test["n_undefined"] else ""
    if not np.isfinite(test["p"]):
        return dict(
            claim=claim,
            paper=paper,
            reproduced=_mu_list(rows),
            uncertainty="",
            verdict="undefined",
            where=f"fewer than 2 cells with a μ{undefined}; {note}",
        )
    return dict(
        claim=claim,
        paper=paper,
        reproduced=f"μ̄ = {test['mean']:.3f}; χ² = {test['chi2']:.1f} / {test['dof']} dof, p = {test['p']:.2g}",
        uncertainty=_mu_list(rows),
        verdict="matches" if test["p"] >= P_CONSISTENT else "differs",
        where=f"{test['n']} cells{undefined}; {note}",
    )


def headline_rows(found: list[Family], after: float, tti_mu: float) -> list[dict]:
    """The scorecard's sweep claims, per data set: μ independent of lr and B (SGD cells of the
    batch-size and lr sweeps), μ of gradient descent against SGD's, μ independent of the Langevin
    T and of the persistence τ (keys: claim, paper, reproduced, uncertainty, verdict, where)."""
    rows = []
    frame = table(found, after, tti_mu)
    if frame.empty:
        return rows
    for dataset, part in frame.groupby("dataset", sort=False):
        where = f"{dataset} sweeps, docs/noise.md"
        sgd = part[part["axis"].isin(["batch_size", "lr"]) & (part["noise"] == "minibatch")]
        noisy = sgd[sgd["t_eff"] > 0]
        if len(noisy):
            excluded = len(sgd) - len(noisy)
            rows.append(
                _consistency_row(
                    f"μ independent of lr and B ({dataset})",
                    "yes (subaging paper, appendix 5.1; not shown there)",
                    noisy,
                    where
                    + (
                        f"; {excluded} cell(s) with B = N left out (no SGD noise)"
                        if excluded
                        else ""
                    ),
                )
            )
        reference = noisy[noisy["base"]].head(1)
        for r in part[part["noiseless"]].itertuples():
            rows.append(_gd_row(r, reference, where))
        for axis, claim in (("temperature", "Langevin T"), ("persistence", "persistence τ")):
            sub = part[(part["axis"] == axis) & (part["t_eff"] > 0)]
            if len(sub):
                rows.append(
                    _consistency_row(
                        f"μ independent of the {claim} ({dataset})",
                        "open (not measured by either paper)",
                        sub,
                        where,
                    )
                )
    return rows


def _gd_row(r, reference: pd.DataFrame, where: str) -> dict:
    """μ of a gradient-descent cell against SGD's (the first sweep variant of SGD that overrides
    nothing: ljat_arch's protocol): do the intervals overlap?"""
    claim = f"μ under gradient descent ({r.dynamics}, {r.family})"
    if not np.isfinite(r.mu):
        return dict(
            claim=claim,
            paper="open",
            reproduced="undefined",
            uncertainty="",
            verdict="undefined",
            where=f"{r.status}; {where}",
        )
    interval = f"[{r.total_low:.3f}, {r.total_high:.3f}]"
    if reference.empty or not np.isfinite(reference["mu"].iloc[0]):
        return dict(
            claim=claim,
            paper="open",
            reproduced=f"{r.mu:.3f} ({r.aging})",
            uncertainty=interval,
            verdict="undefined",
            where=f"no SGD cell with a μ to compare; {where}",
        )
    ref = reference.iloc[0]
    overlap = r.total_low <= ref["total_high"] and ref["total_low"] <= r.total_high
    return dict(
        claim=claim + " vs SGD",
        paper="open",
        reproduced=f"{r.mu:.3f} ({r.aging}) vs {ref['mu']:.3f} ({ref['dynamics']})",
        uncertainty=f"{interval} vs [{ref['total_low']:.3f}, {ref['total_high']:.3f}]",
        verdict="matches" if overlap else "differs",
        where=f"intervals {'overlap' if overlap else 'do not overlap'}; residual {r.residual_dex:.3f} dex; {where}",
    )
