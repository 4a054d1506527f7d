"""A cell is one (experiment, N, architecture) of the study: its seeds' runs and their tables.

Training writes one snapshots and one metrics file per block of seeds; the aging step merges the
blocks into the cell's table folder ``results/tables/<experiment>/N<n>/<arch>/``, which is
everything figures and the scorecard read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import storage

TABLES = ("metrics", "msd", "tstar", "mu")
#: Written only for experiments with a `hessian` section.
HESSIAN_TABLES = ("hessian", "hessian_summary")


@dataclass
class CellTables:
    """The analysed tables of one cell; ``meta`` is the training provenance (spec, P, N, ...)."""

    meta: dict
    metrics: pd.DataFrame
    msd: pd.DataFrame
    tstar: pd.DataFrame
    mu: pd.DataFrame
    hessian: pd.DataFrame | None = None
    hessian_summary: pd.DataFrame | None = None

    @property
    def label(self) -> str:
        return f"{self.meta['arch']} (P = {self.meta['n_params']})"

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

    @property
    def fit(self) -> pd.Series:
        """The μ fit at the configured Δ* (mu, ci_low, ci_high, intercept, tw_min, tw_max, ...)."""
        return self.mu[self.mu["primary"]].iloc[0]


def load(folder: str | Path) -> CellTables:
    """Read a cell's table folder (files named as in :data:`TABLES`, and :data:`HESSIAN_TABLES`
    where present), checking every schema."""
    folder = Path(folder)
    frames = {name: storage.read_frame(folder / f"{name}.parquet", name) for name in TABLES}
    frames.update({name: storage.read_frame(folder / f"{name}.parquet", name)
                   for name in HESSIAN_TABLES if (folder / f"{name}.parquet").exists()})
    return CellTables(meta=storage.metadata(folder / "msd.parquet"), **frames)


def seed_blocks(n_seeds: int, per_job: int) -> list[tuple[int, int]]:
    """Inclusive (first, last) seed ranges covering 0..n_seeds-1 in blocks of ``per_job``."""
    return [(lo, min(lo + per_job, n_seeds) - 1) for lo in range(0, n_seeds, per_job)]
