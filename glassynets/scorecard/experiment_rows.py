"""The scorecard's rows of whole experiments (the mean μ, the Hessian trace against
generalization, the transition along α) and the table of every row (:func:`build`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import claims
from ..cells import CellTables, phases
from .cell_rows import (
    COLUMNS,
    _row,
    cell_name,
    cell_rows,
    shape_rows,
    sweep_rows,
    underparametrized,
)
from .criteria import Criteria, Experiment


def transition_row(
    experiment: str, cells: list[CellTables], accuracy_max: float, paper: str = ""
) -> dict:
    """Where the cells of an experiment cross from the under- to the over-parametrized phase along
    α (cells.phases: the paper's accuracy criterion), with every cell's final accuracy and loss,
    against ``paper``."""
    under, over, alpha_star = phases(cells, accuracy_max)
    points = sorted((c.alpha, c.final("train_acc")[0], c.final("train_loss")[0]) for c in cells)
    listing = "; ".join(f"α {a:.3g}: acc {acc:.4f}, loss {loss:.3g}" for a, acc, loss in points)
    quantity = f"α at the transition (train accuracy {accuracy_max:g})"
    where = f"{len(cells)} cells"
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


def trace_generalization_rows(
    experiment: str, cells: list[CellTables], paper: str = "", n_boot: int = 1000, seed: int = 0
) -> list[dict]:
    """Pearson and Spearman correlation of Hessian trace/N with the generalization error over every
    network of the experiment at its last step, with 95% bootstrap intervals (resampling networks),
    against ``paper``."""
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
                paper,
                value,
                f"[{lo:.3f}, {hi:.3f}] (95% bootstrap)",
                f"N in {sorted({int(n) for n in points['n_train']})}, step {int(points['step'].max())}",
            )
        )
    return rows


def mean_mu_row(
    experiment: str, cells: list[CellTables], criteria: Criteria, paper: str = ""
) -> dict:
    """Mean of the cells' μ against the paper's MNIST exponent (claims.MU_MNIST), over the cells
    that pass the underparametrized criterion (the paper's claim is about them; all cells if none
    passes); ± is the sd across cells."""
    alpha_max, accuracy_max = criteria.alpha_max, criteria.accuracy_max
    passing = [c for c in cells if underparametrized(c, alpha_max, accuracy_max)[0]]
    used, which = (
        (passing, "underparametrized") if passing else (cells, "none underparametrized: all")
    )
    mus = np.array([c.fit["mu"] for c in used], dtype=float)
    mus = mus[np.isfinite(mus)]
    lo, hi = claims.MU_MNIST[0] - claims.MU_MNIST[1], claims.MU_MNIST[0] + claims.MU_MNIST[1]
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
    the architectures of one N (role architectures), which says nothing about a transition."""
    alphas = {round(c.alpha, 12) for c in cells}
    return len(alphas) >= 3 and max(alphas) >= 2 * min(alphas)


def limits_rows(limits: dict) -> list[dict]:
    """The LJAT19 data's Bayes accuracy ceiling and conditional-entropy floor."""
    paper = claims.texts(claims.DATA, "ljat19")
    return [
        _row(
            "data",
            "LJAT19",
            "Bayes accuracy ceiling",
            paper["bayes_accuracy"],
            limits["accuracy_ceiling"],
            note=f"estimated on {limits['n']} samples, features {', '.join(limits['features'])}",
        ),
        _row(
            "data",
            "LJAT19",
            "conditional-entropy floor (nats)",
            paper["loss_floor"],
            limits["entropy_floor_nats"],
            note="lowest cross-entropy any classifier of these features can reach",
        ),
    ]


def experiment_rows(
    experiment: Experiment, criteria: Criteria, sweeps: dict[str, dict]
) -> list[dict]:
    """Every row of an experiment: each cell's (with its temperatures and stationarity where it
    is a sweep's: ``sweeps``, experiment -> its ``sweep`` section), the mean μ on image data sets
    (or where a claim states one), the Hessian trace against generalization over several N, the
    transition of an experiment that sweeps α."""
    name, cells = experiment.name, experiment.cells
    paper = claims.texts(experiment.role, experiment.dataset)
    rows = []
    for cell in cells:
        rows.extend(cell_rows(experiment, cell, criteria, paper))
        rows.extend(shape_rows(name, cell_name(cell), cell, paper.get("late", "")))
        if name in sweeps:
            rows.extend(
                _row(name, cell_name(cell), *row)
                for row in sweep_rows(cell, criteria.temperature_after)
            )
    if "mu_mean" in paper or experiment.dataset != "ljat19":
        rows.append(mean_mu_row(name, cells, criteria, paper.get("mu_mean", "")))
    if len({c.meta["n_train"] for c in cells if c.hessian_summary is not None}) > 1:
        rows.extend(trace_generalization_rows(name, cells, paper.get("trace", "")))
    if sweeps_alpha(cells):
        rows.append(transition_row(name, cells, criteria.accuracy_max, paper.get("transition", "")))
    return rows


def build(
    limits: dict | None,
    experiments: list[Experiment],
    criteria: Criteria,
    glasses: list[CellTables] = (),
    sweeps: dict[str, dict] | None = None,
) -> pd.DataFrame:
    """All rows: the LJAT19 data's limits first (when given), then every experiment's
    (:func:`experiment_rows`), and the p-spin glass cells last."""
    from .glass import glass_rows

    rows = limits_rows(limits) if limits is not None else []
    for experiment in experiments:
        rows += experiment_rows(experiment, criteria, sweeps or {})
    if glasses:
        networks = [c for e in experiments for c in e.cells]
        rows.extend(glass_rows(list(glasses), networks, criteria.tti_mu))
    return pd.DataFrame(rows, columns=COLUMNS)
