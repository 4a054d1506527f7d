"""The figure registry: what every figure draws. The workflow (its rules and targets), the plots,
the report captions (workflow/report/<name>.rst) and the tests all read it.

Adding a figure: one entry here, its drawing function in plots.py, sweep_plots.py or
scaling_plots.py (``draw``), its caption workflow/report/<name>.rst, its line in the README's
figure list and its row in docs/figures.md (tests/test_targets.py checks all five).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One figure: the experiments it draws (those configured) and which of their cells."""

    paper: str  # the figure of the papers it reproduces, or where it comes from
    experiments: tuple[
        str, ...
    ]  # experiments it draws; one data set's own version for each other data set
    draw: str  # the function of glassynets.plots (or sweep_plots, scaling_plots) that draws it
    every_cell: bool = False  # every (N, architecture) cell; else each experiment's first N
    hessian: bool = False  # Hessian spectra: only experiments with a `hessian` section
    two_layer: bool = False  # only the networks of two hidden layers
    glass: bool = False  # also the p-spin glass cells (and needs them)
    glass_beside: bool = False  # the p-spin cells too where configured, in the LJAT19 versions
    limits: bool = False  # the LJAT19 entropy floor and Bayes ceiling, where LJAT19 is drawn
    sweeps: bool = False  # experiments are sweeps (config: sweep): every variant's cells


#: The cells whose collapse and long-lag exponent are drawn (each data set's own version).
SHAPE_CELLS = ("ljat_arch", "ljat_chain", "mnist_arch", "fashion_arch")
#: The sweeps of the training dynamics the figN* figures draw (each one's variants).
NOISE_SWEEPS = ("ljat_batch", "ljat_lr", "ljat_langevin", "ljat_persistent", "fashion_batch")

FIGURES: dict[str, Figure] = {
    "fig1": Figure("Fig 1", ("ljat_arch",), "fig1", limits=True),
    "fig2": Figure("Fig 2", ("ljat_arch",), "fig2"),
    "fig3": Figure("Fig 3", ("ljat_chain",), "fig3", limits=True),
    "figA3": Figure("Fig A.3", ("ljat_arch",), "figA3"),
    "fig4": Figure("Fig 4", ("mnist_arch", "fashion_arch"), "fig1"),
    "fig5": Figure("Fig 5", ("mnist_arch", "fashion_arch"), "fig2"),
    "fig6": Figure("Fig 6", ("mnist_alpha", "fashion_alpha"), "fig6", every_cell=True),
    "fig7": Figure("Fig 7", ("ljat_arch", "mnist_arch"), "fig7", hessian=True, two_layer=True),
    "figA1": Figure("Fig A.1", ("ljat_arch", "mnist_arch"), "figA1", hessian=True, two_layer=True),
    "figA2": Figure("Fig A.2", ("ljat_sizes",), "figA2", every_cell=True, hessian=True),
    "figB1": Figure(
        "Baity-Jesi et al.", ("ljat_transition", "mnist_transition"), "figB1", every_cell=True
    ),
    "figB2": Figure(
        "Baity-Jesi et al.",
        ("ljat_transition", "mnist_transition", "mnist_toy"),
        "figB2",
        every_cell=True,
    ),
    "figB3": Figure(
        "Baity-Jesi et al.", ("ljat_transition", "mnist_toy"), "figB3", every_cell=True
    ),
    "figB4": Figure("Baity-Jesi et al.", ("ljat_arch",), "figB4", two_layer=True, glass=True),
    # The shape of the two-time curves (glassynets.scaling_plots): collapse and long lags
    "figC1": Figure("scaling collapse", SHAPE_CELLS, "figC1", glass_beside=True),
    "figC2": Figure("long lags", SHAPE_CELLS, "figC2", glass_beside=True),
    # Beyond both papers: the dynamics as an axis (glassynets.sweep_plots, docs/noise.md)
    "figN1": Figure("noise sweeps", NOISE_SWEEPS, "figN1", sweeps=True),
    "figN2": Figure("noise sweeps", NOISE_SWEEPS, "figN2", sweeps=True),
    "figN3": Figure("noise sweeps", ("ljat_langevin",), "figN3", sweeps=True),
    "figN4": Figure("noise sweeps", NOISE_SWEEPS, "figN4", sweeps=True),
}

#: The papers' data sets: results/figures/<name> draws these; every other data set (Fashion-MNIST)
#: gets its own results/figures/<dataset>/<name>.
PAPER_DATASETS = ("ljat19", "mnist")
