"""What the workflow builds for a validated configuration: the cells of each experiment, the files
each figure and scorecard reads, and the targets `all`, `ljat19`, `mnist`, `fashion_mnist`.

Pure functions of the configuration (no Snakemake), so they are unit-tested; workflow/rules/*.smk
call them through one :class:`Targets` object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import paths, settings
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

    def members(self, name: str) -> list[str]:
        """The experiments a name stands for: the variants of a sweep (config: ``sweep``), the
        experiment itself, or none if the config has neither."""
        variants = [
            e
            for e, exp in self.experiments.items()
            if (exp.get("sweep") or {}).get("family") == name
        ]
        return variants or ([name] if name in self.experiments else [])

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
        """The configured experiments a figure draws (with a `hessian` section for Hessian figures):
        of one data set if given, else those of the papers' data sets."""
        figure = FIGURES[name]
        return [
            exp
            for named in figure.experiments
            for exp in self.members(named)
            if (not figure.hessian or self.experiments[exp].get("hessian") is not None)
            and self.experiments[exp]["dataset"] in ((dataset,) if dataset else PAPER_DATASETS)
        ]

    def figure_datasets(self, name: str, dataset: str | None = None) -> list[str]:
        """Data sets of the experiments a figure draws (every configured one if dataset is "all")."""
        if dataset == "all":
            return sorted(
                {
                    self.experiments[e]["dataset"]
                    for named in FIGURES[name].experiments
                    for e in self.members(named)
                }
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
        return f"results/figures/{name}" if dataset is None else f"results/figures/{dataset}/{name}"

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

    def figure_options(self, name: str, dataset: str | None = None) -> str:
        """The figure command's options: its cells, the t_w drawn and the accuracy criterion."""
        first = self.experiments[self.figure_experiments(name, dataset)[0]]
        options = (
            f"--cells {' '.join(self.figure_cells(name, dataset))} "
            f"--plot-tw {' '.join(str(t) for t in first['analysis']['plot_tw'])} "
            f"--underparametrized-accuracy {self.config['scorecard']['underparametrized_accuracy']}"
            + "".join(f" --limits {f}" for f in self.figure_limits(name, dataset))
        )
        if FIGURES[name].sweeps:
            chosen = self.sweeps(self.figure_experiments(name, dataset))
            options += f" --sweeps '{settings.as_json(chosen)}'"
        if self.figure_glass_cells(name, dataset):
            options += (
                f" --glass-cells {' '.join(self.figure_glass_cells(name, dataset))} "
                f"--glass-plot-tw {' '.join(str(t) for t in self.pspin['analysis']['plot_tw'])}"
            )
        return options

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
        return "results/scorecard" + (f"_{dataset}" if dataset else "")

    def scorecard_experiments(self, dataset: str | None = None) -> list[str]:
        return [name for name, exp in self.experiments.items() if dataset in (None, exp["dataset"])]

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

    def scorecard_options(self, dataset: str | None = None) -> str:
        """The scorecard command's options: its cells (experiment=folder), glass cells, limits, criteria."""
        card = self.config["scorecard"]
        cells = " ".join(
            f"{name}={d}"
            for name in self.scorecard_experiments(dataset)
            for d in self.cell_dirs(name)
        )
        chosen = settings.as_json(self.sweeps(self.scorecard_experiments(dataset)))
        return (
            " ".join(f"--limits {f}" for f in self.scorecard_limits(dataset)) + f" --cells {cells}"
            f" --sweeps '{chosen}'"
            f" --glass-cells {' '.join(self.scorecard_glass(dataset))} --tti-mu {card['tti_mu']}"
            f" --loss-within {card['loss_within']} --grad-rms-after {card['grad_rms_after']}"
            f" --underparametrized {card['underparametrized_alpha']} {card['underparametrized_accuracy']}"
        )

    def targets(self, dataset: str | None = None) -> list[str]:
        """Figures (PDF and PNG) and scorecards: of one data set, or of everything (the combined
        scorecard and each data set's)."""
        if dataset is not None and dataset not in self.datasets:
            return []
        scopes = [dataset] if dataset else [None, *self.datasets]
        return [f"{path}.{ext}" for path in self.figures(dataset) for ext in ("pdf", "png")] + [
            f"{self.scorecard_name(scope)}.{ext}" for scope in scopes for ext in ("md", "csv")
        ]
