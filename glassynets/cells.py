"""A cell is one (experiment, N, architecture) of the study: its seeds' runs and their tables.

Training writes one snapshots and one metrics file per block of seeds; the aging step merges the
blocks into the cell's table folder ``results/tables/<experiment>/N<n>/<arch>/``, which is
everything figures and the scorecard read. A p-spin glass cell ``results/tables/pspin/N<n>/T<T>/``
has the same aging tables, an ``energy`` table instead of ``metrics``, and the spins as θ; its
exact n = ∞ curves (glassynets.ck) ``results/tables/pspin_ck/N<inf or n>/T<T>/`` are one such cell
of one run without snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import storage

#: Written by the aging step for every cell.
TABLES = (
    "msd",
    "overlap",
    "tstar",
    "mu",
    "mu_summary",
    "msd_late",
    "collapse",
    "long_lag",
    "weight_hist",
)
#: Of those, absent from the tables of runs recorded without snapshots (``glassynets analyse``),
#: and from folders written before the collapse and long-lag tables existed.
OPTIONAL_TABLES = ("weight_hist", "collapse", "long_lag")
#: Written for the p-spin's CK curves (no spins, so no histograms).
CK_TABLES = tuple(t for t in TABLES if t != "weight_hist")
#: Network cells only: the merged training metrics.
METRICS_TABLES = ("metrics",)
#: Written only for experiments with a `hessian` section.
HESSIAN_TABLES = ("hessian", "hessian_summary")
#: p-spin cells only: the energy per spin along the run.
GLASS_TABLES = ("energy",)


@dataclass
class CellTables:
    """The analysed tables of one cell; ``meta`` is the training provenance (spec, P, N, ...)."""

    meta: dict
    msd: pd.DataFrame
    overlap: pd.DataFrame
    tstar: pd.DataFrame
    mu: pd.DataFrame
    mu_summary: pd.DataFrame
    msd_late: pd.DataFrame
    weight_hist: pd.DataFrame | None = None  # None: runs recorded without snapshots
    collapse: pd.DataFrame | None = None  # None: a folder written before the table existed
    long_lag: pd.DataFrame | None = None
    metrics: pd.DataFrame | None = None
    hessian: pd.DataFrame | None = None
    hessian_summary: pd.DataFrame | None = None
    energy: pd.DataFrame | None = None

    @property
    def is_glass(self) -> bool:
        """A p-spin cell (θ = the spins) rather than a network's."""
        return self.meta.get("model") == "pspin"

    @property
    def is_theory(self) -> bool:
        """The p-spin's exact n = ∞ curves (glassynets.ck), not a simulation."""
        return self.meta.get("theory") == "ck"

    @property
    def label(self) -> str:
        """For legends: meta's ``label`` where one was set (a sweep's variant), else the model."""
        if "label" in self.meta:
            return self.meta["label"]
        if self.is_theory:
            n = self.meta["n_spins"]
            return f"CK T = {self.meta['temperature']:g} ({'n = ∞' if n is None else f'mapped to N = {n}'})"
        if self.is_glass:
            return f"p-spin T = {self.meta['temperature']:g} (N = {self.meta['n_spins']})"
        return f"{self.meta['arch']} (P = {self.meta['n_params']})"

    @property
    def time_unit(self) -> float:
        """Time per step: dt for the p-spin (Langevin time units), 1 for networks (SGD steps)."""
        return float(self.meta.get("dt", 1.0))

    @property
    def late(self) -> pd.Series:
        """Late-time behaviour of Δ (aging.late_msd): t_w, t_min, t_max, slope, diffusion, diffusive."""
        return self.msd_late.iloc[0]

    @property
    def alpha(self) -> float:
        """α = P/N: parameters per training sample."""
        return self.meta["n_params"] / self.meta["n_train"]

    @property
    def dataset(self) -> str:
        return self.meta.get("dataset", "ljat19")

    @property
    def tstar_curve(self) -> pd.DataFrame:
        """t*(t_w) of the ensemble-mean Δ (the tstar rows of seed −1), for t_w > 0; NaN: undefined."""
        return self.tstar[(self.tstar["seed"] == -1) & (self.tstar["t_w"] > 0)]

    def final_hessians(self) -> pd.DataFrame:
        """Hessian summaries at the last recorded step, one row per network, with trace/N and the
        generalization error (test − train cross-entropy, nats)."""
        summary = self.hessian_summary
        last = summary[summary["step"] == summary["step"].max()].copy()
        last["trace_per_n"] = last["trace"] / last["n_train"]
        last["gen_error"] = last["test_loss"] - last["train_loss"]
        return last

    def final(self, column: str) -> tuple[float, float]:
        """Mean and standard deviation over runs of a metric at the last recorded step."""
        last = self.metrics[self.metrics["step"] == self.metrics["step"].max()][column]
        return float(last.mean()), float(last.std(ddof=1)) if len(last) > 1 else float("nan")

    @property
    def fit(self) -> pd.Series:
        """μ at the configured Δ* with its crossover, full uncertainty and goodness of fit (the
        mu_summary row: mu, stat_low/high, syst_low/high, total_low/high, intercept, tw_min, tw_max,
        residual_dex, crossover_log10_tw, status, ...)."""
        return self.mu_summary.iloc[0]


def load(folder: str | Path) -> CellTables:
    """Read a cell's table folder (files named as in :data:`TABLES`, and those of
    :data:`METRICS_TABLES`, :data:`HESSIAN_TABLES`, :data:`GLASS_TABLES` where present), checking
    every schema."""
    folder = Path(folder)
    frames = {
        name: storage.read_frame(folder / f"{name}.parquet", name)
        for name in TABLES
        if name not in OPTIONAL_TABLES or (folder / f"{name}.parquet").exists()
    }
    frames.update(
        {
            name: storage.read_frame(folder / f"{name}.parquet", name)
            for name in METRICS_TABLES + HESSIAN_TABLES + GLASS_TABLES
            if (folder / f"{name}.parquet").exists()
        }
    )
    return CellTables(meta=storage.metadata(folder / "msd.parquet"), **frames)


def seed_blocks(n_seeds: int, per_job: int) -> list[tuple[int, int]]:
    """Inclusive (first, last) seed ranges covering 0..n_seeds-1 in blocks of ``per_job``."""
    return [(lo, min(lo + per_job, n_seeds) - 1) for lo in range(0, n_seeds, per_job)]


def phases(
    cells: list[CellTables], accuracy_max: float
) -> tuple[list[CellTables], list[CellTables], float]:
    """Cells sorted by α split into the under- (final mean train accuracy < accuracy_max, the
    subaging paper's criterion) and the over-parametrized phase, and the transition α*: the
    geometric mean of the largest α under and the smallest α over when the two phases do not
    interleave in α, else NaN (also NaN when one phase is empty)."""
    ordered = sorted(cells, key=lambda c: c.alpha)
    under = [c for c in ordered if c.final("train_acc")[0] < accuracy_max]
    over = [c for c in ordered if c.final("train_acc")[0] >= accuracy_max]
    if not under or not over or under[-1].alpha > over[0].alpha:
        return under, over, float("nan")
    return under, over, float(np.sqrt(under[-1].alpha * over[0].alpha))
