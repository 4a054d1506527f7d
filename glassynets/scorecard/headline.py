"""The scorecard's headline: one row per claim of the papers that this run can test, with a
verdict. A loop over the claims' table (glassynets.claims): each claim names the function below
that measures it on the cells of its role; then the p-spin's and the dynamics sweeps' claims."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import aging, claims, glass_theory
from ..cells import CellTables
from .cell_rows import grad_rms, loss_reached_step, scan_range
from .criteria import Criteria, Experiment, role_cells, role_names
from .experiment_rows import mean_mu_row, sweeps_alpha, trace_generalization_rows, transition_row

HEADLINE_COLUMNS = ["claim", "paper", "reproduced", "uncertainty", "verdict", "where"]
#: Where a data set's claims that differ for a known reason are explained.
DOCS = {"ljat19": "docs/ljat19.md"}
#: The key of the LJAT19 limits JSON that measures each data claim.
LIMITS = {"bayes_ceiling": "accuracy_ceiling", "entropy_floor": "entropy_floor_nats"}


@dataclass(frozen=True)
class Scored:
    """Everything the headline measures: the LJAT19 limits (or None), the experiments, the
    config's thresholds."""

    limits: dict | None
    experiments: list[Experiment]
    criteria: Criteria


def _line(claim, paper, value, uncertainty, verdict, where) -> dict:
    return dict(zip(HEADLINE_COLUMNS, [claim, paper, value, uncertainty, verdict, where]))


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


def limit(claim: claims.Claim, scored: Scored, dataset: str) -> list[dict]:
    """A limit of the LJAT19 data (Bayes ceiling, entropy floor) against the paper's value."""
    if scored.limits is None:
        return []
    value, doc = scored.limits[LIMITS[claim.name]], DOCS[dataset]
    title = claim.title.format(data=claims.TITLES[dataset])
    ok = claim.within(value)
    return [_line(title, claim.shown(dataset), f"{value:.3f}", "", _verdict(ok, doc), doc)]


def final_loss(claim: claims.Claim, scored: Scored, dataset: str) -> list[dict]:
    """The final mean train loss of every cell of the claim's role, all within the tolerance."""
    cells = role_cells(scored.experiments, claim.roles[0], dataset)
    if not cells:
        return []
    losses = [c.final("train_loss")[0] for c in cells]
    ok = all(claim.within(v) for v in losses)
    return [
        _line(
            claim.title.format(data=claims.TITLES[dataset]),
            claim.shown(dataset),
            " / ".join(f"{v:.3f}" for v in losses),
            "",
            _verdict(ok, DOCS.get(dataset, "")),
            f"{role_names(scored.experiments, claim.roles[0], dataset)} rows",
        )
    ]


def _where_regenerated(scored: Scored, claim: claims.Claim, dataset: str) -> str:
    where = f"{role_names(scored.experiments, claim.roles[0], dataset)} rows"
    return where + (f"; regenerated data: {DOCS[dataset]}" if dataset in DOCS else "")


def time_to_floor(claim: claims.Claim, scored: Scored, dataset: str) -> list[dict]:
    """log10 of the first step where the mean loss is within scorecard.loss_within of its final
    value, for every cell of the claim's role."""
    cells = role_cells(scored.experiments, claim.roles[0], dataset)
    if not cells:
        return []
    within = scored.criteria.loss_within
    reached = [loss_reached_step(c.metrics, within) for c in cells]
    ok = all(claim.within(np.log10(r)) for r in reached)
    return [
        _line(
            claim.title.format(data=claims.TITLES[dataset], within=within),
            claim.shown(dataset),
            " / ".join(f"10^{np.log10(r):.2f}" for r in reached),
            "",
            _verdict(ok),
            _where_regenerated(scored, claim, dataset),
        )
    ]


def grad_rms_by_depth(claim: claims.Claim, scored: Scored, dataset: str) -> list[dict]:
    """The full-batch gradient-norm RMS after scorecard.grad_rms_after, by depth, each within the
    claim's factor of the paper's value for that depth."""
    cells = role_cells(scored.experiments, claim.roles[0], dataset)
    if not cells:
        return []
    after = scored.criteria.grad_rms_after
    rms = {len(c.meta["widths"]) - 2: grad_rms(c.metrics, "grad_norm", after)[0] for c in cells}
    paper = dict(enumerate(claim.value, start=1))
    ok = all(claim.within(rms[d], paper[d]) for d in rms if d in paper)
    return [
        _line(
            claim.title.format(data=claims.TITLES[dataset], after=after),
            claim.shown(dataset),
            " / ".join(f"{rms[d]:.3f}" for d in sorted(rms)),
            "norm of ∇(CE + λ‖θ‖²) over all parameters",
            _verdict(ok),
            _where_regenerated(scored, claim, dataset),
        )
    ]


def mu(claim: claims.Claim, scored: Scored, dataset: str) -> list[dict]:
    """μ of every cell of the claim's role, its aging class against the papers' subaging."""
    cells = role_cells(scored.experiments, claim.roles[0], dataset)
    if not cells:
        return []
    title = claim.title.format(data=claims.TITLES[dataset], delta_star=cells[0].fit["delta_star"])
    return _headline_mu(title, cells, claim.shown(dataset), scored.criteria.tti_mu, {"subaging"})


def crossover(claim: claims.Claim, scored: Scored, dataset: str) -> list[dict]:
    """Per cell: the paper's crossover inside the bootstrap interval widened by the tolerance."""
    rows = []
    for cell in role_cells(scored.experiments, claim.roles[0], dataset):
        fit = cell.fit
        low, high = fit["crossover_low"], fit["crossover_high"]
        ok = (
            None
            if not np.isfinite(fit["crossover_log10_tw"])
            else bool(low - claim.tolerance <= claim.value <= high + claim.tolerance)
        )
        rows.append(
            _line(
                claim.title.format(data=claims.TITLES[dataset], arch=cell.meta["arch"]),
                claim.shown(dataset),
                f"{fit['crossover_log10_tw']:.2f}" if ok is not None else "undefined",
                f"[{low:.2f}, {high:.2f}]" if ok is not None else "",
                _verdict(ok),
                f"start of the asymptotic regime; two-segment break at {fit['hinge_log10_tw']:.2f}",
            )
        )
    return rows


def mu_scan(claim: claims.Claim, scored: Scored, dataset: str) -> list[dict]:
    """μ's range over the Δ* scan, against each μ's total interval width."""
    cells = role_cells(scored.experiments, claim.roles[0], dataset)
    if not cells:
        return []
    spans = [scan_range(c) for c in cells]
    widths = [c.fit["total_high"] - c.fit["total_low"] for c in cells]
    ok = (
        all((hi - lo) <= w for (lo, hi), w in zip(spans, widths) if np.isfinite(lo))
        if any(np.isfinite(lo) for lo, _ in spans)
        else None
    )
    return [
        _line(
            claim.title.format(data=claims.TITLES[dataset]),
            claim.shown(dataset),
            " / ".join(f"{hi - lo:.3f}" if np.isfinite(lo) else "n/a" for lo, hi in spans),
            "range of μ over the Δ* scan, same window",
            _verdict(ok),
            "compared with each μ's total interval width",
        )
    ]


def mean_mu(claim: claims.Claim, scored: Scored, dataset: str) -> list[dict]:
    """The mean μ of the underparametrized cells of the claim's role (the config's criterion, as
    the per-cell rows: before the claims were written once, this row tested α ≤ 1), inside the
    paper's band."""
    cells = role_cells(scored.experiments, claim.roles[0], dataset)
    if not cells:
        return []
    row = mean_mu_row("", cells, scored.criteria)
    value = float(row["reproduced"]) if row["reproduced"] != "n/a" else float("nan")
    return [
        _line(
            claim.title.format(data=claims.TITLES[dataset]),
            claim.shown(dataset),
            row["reproduced"],
            row["uncertainty"],
            _verdict(claim.within(value) if np.isfinite(value) else None),
            row["cell"],
        )
    ]


def hessian_negative(claim: claims.Claim, scored: Scored) -> list[dict]:
    """The first cell with spectra at several steps: the fraction of negative eigenvalues."""
    for cell in (c for e in scored.experiments for c in e.cells):
        summary = cell.hessian_summary
        if summary is None or summary["step"].nunique() <= 1:
            continue
        first = summary.loc[summary["step"] == summary["step"].min(), "frac_negative"].mean()
        last = summary.loc[summary["step"] == summary["step"].max(), "frac_negative"].mean()
        return [
            _line(
                claim.title.format(experiment=cell.meta["experiment"], arch=cell.meta["arch"]),
                claim.paper,
                f"{first:.3f} → {last:.3f}",
                "",
                _verdict(bool(last < first and last > 0)),
                "hessian rows",
            )
        ]
    return []


def trace_generalization(claim: claims.Claim, scored: Scored, exp: Experiment) -> list[dict]:
    """Over an experiment's several N: the Spearman correlation of Hessian trace/N with the
    generalization error, positive when its bootstrap interval is."""
    if len({c.meta["n_train"] for c in exp.cells if c.hessian_summary is not None}) <= 1:
        return []
    row = trace_generalization_rows(exp.name, exp.cells)[1]
    low = float(row["uncertainty"].split(",")[0].strip("["))
    return [
        _line(
            claim.title,
            claim.shown(exp.dataset),
            row["reproduced"],
            row["uncertainty"],
            _verdict(low > 0),
            f"{exp.name}, {row['cell']}",
        )
    ]


def transition(claim: claims.Claim, scored: Scored, exp: Experiment) -> list[dict]:
    """An experiment that sweeps α: where its cells cross from the under- to the over-
    parametrized phase (the accuracy criterion: scorecard.underparametrized_accuracy)."""
    if not sweeps_alpha(exp.cells):
        return []
    row = transition_row(exp.name, exp.cells, scored.criteria.accuracy_max)
    return [
        _line(
            claim.title.format(experiment=exp.name),
            claim.shown(exp.dataset),
            row["reproduced"],
            row["uncertainty"],
            _verdict(row["reproduced"] != "n/a" or None),
            "transition row",
        )
    ]


#: The measure functions the claims name (claims.Claim.measure).
MEASURES = {
    "limit": limit,
    "final_loss": final_loss,
    "time_to_floor": time_to_floor,
    "grad_rms": grad_rms_by_depth,
    "mu": mu,
    "crossover": crossover,
    "mu_scan": mu_scan,
    "mean_mu": mean_mu,
    "hessian_negative": hessian_negative,
    "trace_generalization": trace_generalization,
    "transition": transition,
}


def headline(
    scored: Scored, glasses: list[CellTables] = (), sweeps: dict[str, dict] | None = None
) -> pd.DataFrame:
    """Every claim of the papers this run can test (the claims of each data set, in
    claims.TITLES's order; those over all cells; those of each experiment), then the p-spin's
    against its theory and the dynamics sweeps' claims (glassynets.sweeps.headline_rows;
    ``sweeps``: experiment -> its ``sweep`` section)."""
    rows = []
    for dataset in claims.TITLES:
        for claim in claims.measured(dataset):
            rows += MEASURES[claim.measure](claim, scored, dataset)
    for claim in claims.once():
        rows += MEASURES[claim.measure](claim, scored)
    for exp in scored.experiments:
        for claim in claims.per_experiment(exp.role, exp.dataset):
            rows += MEASURES[claim.measure](claim, scored, exp)
    simulated, theories = glass_theory.split(glasses)
    rows.extend(headline_glass(cell, theories, scored.criteria.tti_mu) for cell in simulated)
    if sweeps:
        from .. import sweeps as sweep_claims

        cells = [c for e in scored.experiments for c in e.cells]
        found = sweep_claims.families(cells, sweeps)
        after, tti_mu = scored.criteria.temperature_after, scored.criteria.tti_mu
        rows += sweep_claims.headline_rows(found, after, tti_mu)
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def headline_glass(cell: CellTables, theories: list[CellTables], tti_mu: float) -> dict:
    """The p-spin's μ against the theory that applies at the simulated times: CK mapped to its N
    over the same t_w window (glassynets.glass_theory); without CK cells, the asymptotic class
    (simple aging below T_d, none above), which these times need not reach."""
    from ..pspin import T_DYNAMICAL

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
