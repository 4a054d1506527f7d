"""What the workflow builds for a validated configuration: the cells of each experiment, the files
each figure and scorecard reads, and the targets `all`, `ljat19`, `mnist`, `fashion_mnist`.

Pure functions of the configuration (no Snakemake), so they are unit-tested; workflow/rules/*.smk
call them through one :class:`Targets` object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import paths
from .cells import CK_TABLES, GLASS_TABLES, HESSIAN_TABLES, METRICS_TABLES, TABLES, seed_blocks
from .figures import FIGURES, PAPER_DATASETS

LIMITS_FILE = paths.LJAT19_LIMITS


class Targets:
    """The files of one configuration (``config``: validated, defaults filled in)."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.experiments = config["experiments"]
        self.pspin = config["pspin"]
        self.datasets = sorted({exp["dataset"] for exp in self.experiments.values()})

    # --- cells

    def sweeps(self, names: list[str]) -> dict[str, Any]:
        """What the figure and scorecard commands need of the sweeps among experiments ``names``:
        {"members": experiment -> {axis, family, variant, base}, "temperature_after": steps}."""
        members = {n: self.experiments[n]["sweep"] for n in names if "sweep" in self.experiments[n]}
        return {
            "members": members,
            "temperature_after": self.config["scorecard"]["temperature_after"],
        }

    def cell_dirs(self, name: str) -> list[str]:
        """Table folders of every (N, architecture) cell of an experiment."""
        exp = self.experiments[name]
        return [
            paths.CELL.format(experiment=name, n=n, arch=arch)
            for n in exp["n_train"]
            for arch in exp["architectures"]
        ]

    def glass_dirs(self) -> list[str]:
        """Table folders of every (N, T) cell of the p-spin glass (none without a `pspin` section)."""
        if self.pspin is None:
            return []
        return [
            paths.PSPIN_CELL.format(n=n, temperature=f"{t:g}")
            for n in self.pspin["n"]
            for t in self.pspin["temperatures"]
        ]

    def ck_dirs(self) -> list[str]:
        """Table folders of the p-spin's CK curves (glassynets.ck): at each temperature, n = ∞ and
        mapped to each simulated N (none without a `pspin.ck` section)."""
        if self.pspin is None or self.pspin["ck"] is None:
            return []
        return [
            paths.CK_CELL.format(size=n, temperature=f"{t:g}")
            for t in self.pspin["temperatures"]
            for n in ("inf", *self.pspin["n"])
        ]

    def data_files(self, experiment: str, n: int | str) -> dict[str, str]:
        """The training table (N rows) and the test table of an experiment's cells at N."""
        dataset = self.experiments[experiment]["dataset"]
        if dataset == "ljat19":
            return {"train": paths.LJAT19_TRAIN.format(n=n), "test": paths.LJAT19_TEST}
        return {
            "train": paths.IMAGES_TRAIN.format(image_set=dataset, n=n),
            "test": paths.IMAGES_SPLIT.format(image_set=dataset, image_split="t10k"),
        }

    def block_files(self, experiment: str, n: int | str, arch: str, kind: str) -> list[str]:
        """Files ``kind`` (snapshots, metrics, two_time) of every seed block of one cell."""
        exp = self.experiments[experiment]
        cell = {"experiment": experiment, "n": n, "arch": arch}
        return [
            paths.table(paths.RUN_BLOCK.format(**cell, first=lo, last=hi), kind)
            for lo, hi in seed_blocks(exp["seeds"], exp["seeds_per_job"])
        ]

    def hessian_cells(self, name: str) -> list[str]:
        """Cells of an experiment that get Hessian spectra (none without a `hessian` section)."""
        h = self.experiments[name].get("hessian")
        if h is None:
            return []
        return [
            d
            for d in self.cell_dirs(name)
            if h["architectures"] is None or Path(d).name in h["architectures"]
        ]

    def hessian_files(self, names: list[str]) -> list[str]:
        return [
            f
            for name in names
            for d in self.hessian_cells(name)
            for f in paths.tables(d, HESSIAN_TABLES)
        ]

    @staticmethod
    def cell_table_files(dirs: list[str]) -> list[str]:
        return [f for d in dirs for f in paths.tables(d, (*TABLES, *METRICS_TABLES))]

    @staticmethod
    def glass_table_files(dirs: list[str]) -> list[str]:
        """The tables of p-spin cells: simulated ones, or CK curves (no histograms)."""
        return [
            f"{d}/{table}.parquet"
            for d in dirs
            for table in (*(CK_TABLES if "/pspin_ck/" in f"/{d}" else TABLES), *GLASS_TABLES)
        ]

    # --- figures

    def figure_experiments(self, name: str, dataset: str | None = None) -> list[str]:
        """The configured experiments a figure draws, in the config's order (with a `hessian`
        section for Hessian figures): of one data set if given, else those of the papers' data sets."""
        figure = FIGURES[name]
        return [
            exp_name
            for exp_name, exp in self.experiments.items()
            if figure.takes(exp)
            and (not figure.hessian or exp.get("hessian") is not None)
            and exp["dataset"] in ((dataset,) if dataset else PAPER_DATASETS)
        ]

    def figure_datasets(self, name: str, dataset: str | None = None) -> list[str]:
        """Data sets of the experiments a figure draws (every configured one if dataset is "all")."""
        if dataset == "all":
            return sorted(
                {exp["dataset"] for exp in self.experiments.values() if FIGURES[name].takes(exp)}
            )
        return sorted(
            {self.experiments[e]["dataset"] for e in self.figure_experiments(name, dataset)}
        )

    def figure_cells(self, name: str, dataset: str | None = None) -> list[str]:
        """Network cells a figure draws: every architecture at each experiment's first N (at every N
        for every_cell figures; the 2-hidden-layer architectures for two_layer figures)."""
        figure, cells = FIGURES[name], []
        for exp_name in self.figure_experiments(name, dataset):
            first_n = self.experiments[exp_name]["n_train"][0]
            candidates = (
                self.hessian_cells(exp_name) if figure.hessian else self.cell_dirs(exp_name)
            )
            cells += [
                d
                for d in candidates
                if (figure.every_cell or f"/N{first_n}/" in d)
                and (not figure.two_layer or Path(d).name.count("-") == 1)
            ]
        return cells

    def figure_glass_cells(self, name: str, dataset: str | None = None) -> list[str]:
        """p-spin cells a figure draws: always for glass figures; for glass_beside ones, in the
        main and the LJAT19 versions only (the offline half, as the scorecards do)."""
        figure = FIGURES[name]
        beside = figure.glass_beside and dataset in (None, "ljat19")
        if figure.glass:
            return self.glass_dirs() + self.ck_dirs()
        return self.glass_dirs() if beside else []

    def drawable(self, name: str, dataset: str | None = None) -> bool:
        """A figure is drawn when it has network cells (and glass cells, if it draws the glass)."""
        return bool(self.figure_cells(name, dataset)) and (
            not FIGURES[name].glass or bool(self.glass_dirs())
        )

    def figure_variants(self) -> list[tuple[str, str | None]]:
        """(figure, data set) of every figure rule: (name, None) draws its configured experiments of
        the papers' data sets into results/figures/<name>; (name, dataset) draws one data set's
        experiments into results/figures/<dataset>/<name>, for every data set the main figure does
        not draw alone (the LJAT19 half of a mixed figure, Fashion-MNIST's version of Fig 6)."""
        variants = [(name, None) for name in FIGURES if self.drawable(name)]
        for name in FIGURES:
            variants += [
                (name, d)
                for d in self.figure_datasets(name, "all")
                if self.figure_datasets(name) != [d] and self.drawable(name, d)
            ]
        return variants

    @staticmethod
    def figure_path(name: str, dataset: str | None = None) -> str:
        """A figure's path without its suffix (.pdf, .png)."""
        if dataset is None:
            return paths.FIGURE.format(name=name)
        return paths.DATASET_FIGURE.format(dataset=dataset, name=name)

    @staticmethod
    def figure_log(name: str, dataset: str | None = None) -> str:
        """The log of a figure's job: results/logs/figures/[<dataset>/]<name>.log."""
        return f"results/logs/figures/{f'{dataset}/' if dataset else ''}{name}.log"

    def figure_limits(self, name: str, dataset: str | None = None) -> list[str]:
        """The LJAT19 limits file a figure draws, if any."""
        drawn = [self.experiments[e]["dataset"] for e in self.figure_experiments(name, dataset)]
        return [LIMITS_FILE] if FIGURES[name].limits and "ljat19" in drawn else []

    def figure_inputs(self, name: str, dataset: str | None = None) -> list[str]:
        cells = self.figure_cells(name, dataset)
        files = self.cell_table_files(cells) + self.glass_table_files(
            self.figure_glass_cells(name, dataset)
        )
        files += self.figure_limits(name, dataset)
        if FIGURES[name].hessian:
            files += [f"{d}/{t}.parquet" for d in cells for t in HESSIAN_TABLES]
        return files

    def figure_stage_inputs(self, name: str, dataset: str | None = None) -> dict[str, list[str]]:
        """The figure stage's inputs by name (glassynets.figures.figure): the network cells' table
        folders, the p-spin cells' and the LJAT19 limits file, each in the order drawn."""
        return {
            "cells": self.figure_cells(name, dataset),
            "glass": self.figure_glass_cells(name, dataset),
            "limits": self.figure_limits(name, dataset),
        }

    def figures(self, dataset: str | None = None) -> list[str]:
        """Figure files (without extension) of the default target (the papers' figures and every
        other data set's own), or of one data set's target (its figures, and its versions of the
        mixed ones)."""
        return [
            self.figure_path(name, variant)
            for name, variant in self.figure_variants()
            if dataset is None
            and variant not in PAPER_DATASETS
            or dataset is not None
            and (variant == dataset or variant is None and self.figure_datasets(name) == [dataset])
        ]

    # --- scorecards and targets

    @staticmethod
    def scorecard_name(dataset: str | None = None) -> str:
        """results/scorecard.md covers every experiment; results/scorecard_<dataset>.md one data set."""
        return paths.SCORECARD.format(suffix=f"_{dataset}" if dataset else "")

    def scorecard_experiments(self, dataset: str | None = None) -> list[str]:
        """The experiments a scorecard covers: every one, or those of one data set."""
        chosen = self.experiments.items()
        return [name for name, exp in chosen if dataset in (None, exp["dataset"])]

    def scorecard_glass(self, dataset: str | None = None) -> list[str]:
        """p-spin cells of a scorecard: in the combined one and in the LJAT19 one (the offline half,
        whose Fig B4 sets the glass beside the LJAT19 networks)."""
        return self.glass_dirs() + self.ck_dirs() if dataset in (None, "ljat19") else []

    def scorecard_limits(self, dataset: str | None = None) -> list[str]:
        """The LJAT19 data limits, when the scorecard covers an LJAT19 experiment."""
        names = self.scorecard_experiments(dataset)
        return (
            [LIMITS_FILE] if any(self.experiments[n]["dataset"] == "ljat19" for n in names) else []
        )

    def scorecard_inputs(self, dataset: str | None = None) -> list[str]:
        names = self.scorecard_experiments(dataset)
        dirs = [d for name in names for d in self.cell_dirs(name)]
        return (
            self.scorecard_limits(dataset)
            + self.cell_table_files(dirs)
            + self.hessian_files(names)
            + self.glass_table_files(self.scorecard_glass(dataset))
        )

    def scorecard_stage_inputs(self, dataset: str | None = None) -> dict[str, list[str]]:
        """The scorecard stage's inputs by name (glassynets.scorecard.stage): the LJAT19 limits,
        every network cell folder, the p-spin and CK cell folders; its settings are
        glassynets.settings.scorecard's."""
        cells = [d for name in self.scorecard_experiments(dataset) for d in self.cell_dirs(name)]
        return {
            "limits": self.scorecard_limits(dataset),
            "cells": cells,
            "glass": self.scorecard_glass(dataset),
        }

    def targets(self, dataset: str | None = None) -> list[str]:
        """Figures (PDF and PNG) and scorecards: of one data set, or of everything (the combined
        scorecard and each data set's)."""
        if dataset is not None and dataset not in self.datasets:
            return []
        scopes = [dataset] if dataset else [None, *self.datasets]
        return [f"{path}.{ext}" for path in self.figures(dataset) for ext in ("pdf", "png")] + [
            f"{self.scorecard_name(scope)}.{ext}" for scope in scopes for ext in ("md", "csv")
        ]
