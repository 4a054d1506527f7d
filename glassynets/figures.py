"""The figure registry: what every figure draws, and the figure stage that draws one (:func:`figure`).
The workflow (its rules and targets), the plots, the report captions
(workflow/report/<name>.rst) and the tests all read the registry.

A figure selects the experiments it draws by their role (config: ``experiments.<name>.role``)
and data set, never by name: an experiment renamed in the config keeps its figures, and a new
experiment of a role is drawn beside the others of that role.

Adding a figure: one entry here, its drawing function in plots.py, sweep_plots.py or
scaling_plots.py (``draw``), its caption workflow/report/<name>.rst, its line in the README's
figure list and its row in docs/figures.md (tests/test_targets.py checks all five).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cells import CellTables
    from .jobs import Job


@dataclass(frozen=True)
class Select:
    """The experiments of one role, of some data sets only (None: any), and, for sweeps, of one
    axis only (None: any; config: ``sweep.axis``)."""

    role: str
    datasets: tuple[str, ...] | None = None
    axis: str | None = None

    def takes(self, experiment: dict[str, Any]) -> bool:
        """Whether a validated experiment (sweeps expanded into their variants) is selected."""
        axis = (experiment.get("sweep") or {}).get("axis")
        return (
            experiment.get("role") == self.role
            and (self.datasets is None or experiment["dataset"] in self.datasets)
            and (self.axis is None or axis == self.axis)
        )


@dataclass(frozen=True)
class Figure:
    """One figure: the experiments it draws (those configured) and which of their cells."""

    paper: str  # the figure of the papers it reproduces, or where it comes from
    selects: tuple[Select, ...]  # the experiments it draws, in the config's order
    draw: str  # the function of glassynets.plots (or sweep_plots, scaling_plots) that draws it
    every_cell: bool = False  # every (N, architecture) cell; else each experiment's first N
    hessian: bool = False  # Hessian spectra: only experiments with a `hessian` section
    two_layer: bool = False  # only the networks of two hidden layers
    glass: bool = False  # also the p-spin glass cells (and needs them)
    glass_beside: bool = False  # the p-spin cells too where configured, in the LJAT19 versions
    limits: bool = False  # the LJAT19 entropy floor and Bayes ceiling, where LJAT19 is drawn
    sweeps: bool = False  # experiments are sweeps (config: sweep): every variant's cells

    def takes(self, experiment: dict[str, Any]) -> bool:
        """Whether the figure draws a validated experiment (of any data set: see targets)."""
        return any(select.takes(experiment) for select in self.selects)


#: The papers' data sets: results/figures/<name> draws these; every other data set (Fashion-MNIST)
#: gets its own results/figures/<dataset>/<name>.
PAPER_DATASETS = ("ljat19", "mnist")
LJAT19 = ("ljat19",)
#: The image data sets, on which Figs 4 and 5 draw the architectures of Figs 1 and 2.
IMAGE_DATASETS = ("mnist", "fashion_mnist")

#: The architectures of LJAT19 (Figs 1, 2, A.3, B4).
LJAT_ARCHITECTURES = (Select("architectures", LJAT19),)
#: The architectures of the images (Figs 4, 5: each data set's own version).
IMAGE_ARCHITECTURES = (Select("architectures", IMAGE_DATASETS),)
#: The architectures of the papers' data sets (the Hessian figures 7, A.1).
PAPER_ARCHITECTURES = (Select("architectures", PAPER_DATASETS),)
#: The cells whose collapse and long-lag exponent are drawn (each data set's own version).
SHAPE_CELLS = (Select("architectures"), Select("chain"))
#: The sweeps of the training dynamics the figN* figures draw (each one's variants).
NOISE_SWEEPS = (Select("noise"),)

FIGURES: dict[str, Figure] = {
    "fig1": Figure("Fig 1", LJAT_ARCHITECTURES, "fig1", limits=True),
    "fig2": Figure("Fig 2", LJAT_ARCHITECTURES, "fig2"),
    "fig3": Figure("Fig 3", (Select("chain"),), "fig3", limits=True),
    "figA3": Figure("Fig A.3", LJAT_ARCHITECTURES, "figA3"),
    "fig4": Figure("Fig 4", IMAGE_ARCHITECTURES, "fig1"),
    "fig5": Figure("Fig 5", IMAGE_ARCHITECTURES, "fig2"),
    "fig6": Figure("Fig 6", (Select("alpha"),), "fig6", every_cell=True),
    "fig7": Figure("Fig 7", PAPER_ARCHITECTURES, "fig7", hessian=True, two_layer=True),
    "figA1": Figure("Fig A.1", PAPER_ARCHITECTURES, "figA1", hessian=True, two_layer=True),
    "figA2": Figure("Fig A.2", (Select("sizes"),), "figA2", every_cell=True, hessian=True),
    "figB1": Figure("Baity-Jesi et al.", (Select("transition"),), "figB1", every_cell=True),
    "figB2": Figure(
        "Baity-Jesi et al.", (Select("transition"), Select("toy")), "figB2", every_cell=True
    ),
    "figB3": Figure(
        "Baity-Jesi et al.",
        (Select("transition", LJAT19), Select("toy")),
        "figB3",
        every_cell=True,
    ),
    "figB4": Figure("Baity-Jesi et al.", LJAT_ARCHITECTURES, "figB4", two_layer=True, glass=True),
    # The shape of the two-time curves (glassynets.scaling_plots): collapse and long lags
    "figC1": Figure("scaling collapse", SHAPE_CELLS, "figC1", glass_beside=True),
    "figC2": Figure("long lags", SHAPE_CELLS, "figC2", glass_beside=True),
    # Beyond both papers: the dynamics as an axis (glassynets.sweep_plots, docs/noise.md)
    "figN1": Figure("noise sweeps", NOISE_SWEEPS, "figN1", sweeps=True),
    "figN2": Figure("noise sweeps", NOISE_SWEEPS, "figN2", sweeps=True),
    "figN3": Figure("noise sweeps", (Select("noise", axis="temperature"),), "figN3", sweeps=True),
    "figN4": Figure("noise sweeps", NOISE_SWEEPS, "figN4", sweeps=True),
}


def draw(
    name: str, cells: list[CellTables], out: str | Path, lineage: str | None = None, **options
) -> None:
    """Draw figure ``name`` of the registry (glassynets.figures) from its cells into ``out`` (.pdf
    and .png) with ``options``, its drawing function's keyword arguments (settings.figure's, and
    ``limits``); the PNG holds ``lineage`` (glassynets.lineage) as a text chunk, if given."""
    from . import plots, scaling_plots, sweep_plots

    if name not in FIGURES:
        raise ValueError(
            f"no figure {name!r} in the registry (glassynets.figures): {', '.join(FIGURES)}"
        )
    function = FIGURES[name].draw
    found = [getattr(m, function, None) for m in (sweep_plots, scaling_plots)]
    (next((f for f in found if f is not None), None) or getattr(plots, function))(
        cells, out, **options
    )
    if lineage is not None:
        _stamp(Path(out).with_suffix(".png"), lineage)


def figure(job: Job) -> None:
    """The figure stage: figure ``name`` of the registry with the job's settings
    (glassynets.settings.figure) from the network cells' table folders (inputs ``cells``), the
    p-spin cells' (``glass``) and the LJAT19 limits (``limits``, JSON), into output ``pdf`` and a
    PNG beside it."""
    import json

    from .cells import load

    options = dict(job.settings)
    name = options.pop("name")
    limits = job.optional_input("limits")
    tables = [load(folder) for folder in job.input_list("cells") + job.input_list("glass")]
    out = job.output("pdf")
    draw(
        name,
        tables,
        out,
        lineage=job.lineage,
        limits=json.loads(Path(limits).read_text()) if limits else None,
        **options,
    )
    job.log(f"wrote {out} and its .png")


def _stamp(png: Path, lineage: str) -> None:
    """Add the lineage text chunk to a PNG (rewritten losslessly, atomically)."""
    from PIL import Image, PngImagePlugin

    from .jobs import LINEAGE_KEY as KEY
    from .storage import replace_atomically

    info = PngImagePlugin.PngInfo()
    with Image.open(png) as image:
        image.load()
        for key, value in image.text.items():
            info.add_text(key, value)
        info.add_text(KEY, lineage)
        replace_atomically(png, lambda tmp: image.save(tmp, format="png", pnginfo=info))
