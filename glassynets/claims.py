"""The papers' claims, written once: the one table the scorecard and the LJAT19 calibration read.

Papers: Herrera Segura et al. 2022, "Subaging in underparametrized deep neural networks" (HS22:
LJAT19 and MNIST); Baity-Jesi et al. 2018, "Comparing dynamics: deep neural networks versus
glassy systems" (BJ18: the two phases along α). Each :class:`Claim` says what the paper states
(its number(s) and its wording), how closely a reproduction must agree (one tolerance per
claim), where the paper says it, which cells it is about (a role of the config's experiments,
``experiments.*.role``, on a data set: never an experiment's name, so renaming an experiment keeps
its rows) and how the scorecard's headline measures it (the name of a function of
:mod:`glassynets.scorecard.headline`). The per-cell rows show a claim's wording in their ``paper``
column (``cells``: which rows, in which words); :mod:`glassynets.calibration` scores the claims
it marks ``calibrated``.

A data set the papers did not run (Fashion-MNIST) is compared with the paper's data set of the
same kind (:data:`COMPARED_WITH`): the same role's claims, shown as "no paper value (MNIST: …)".
Thresholds of the reproduction (the underparametrized criterion, "loss reached", …) are no claims:
they come from the config's ``scorecard`` section.

One tolerance per claim, where the scorecard and the calibration had drifted apart: the final
train loss ±0.05 (the headline's; the calibration had 0.03, so its final_train_loss deviation is
0.6 times what it was), the crossover 0.3 dex (the calibration's; the headline widened the
bootstrap interval by 0.2), the gradient-norm RMS a factor 1.5 both ways (the headline's lower
bound was 0.67, now 1/1.5). Each choice leaves the scorecards of the smoke run as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HS22 = "Herrera Segura et al. 2022"
BJ18 = "Baity-Jesi et al. 2018"
#: Titles of the data sets in headline claims (and figures).
TITLES = {"ljat19": "LJAT19", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
#: A data set the papers did not run -> the papers' data set whose claims it is compared with.
COMPARED_WITH = {"fashion_mnist": "mnist"}
#: The role of the LJAT19 data set's own claims (its Bayes limits), which no experiment has.
DATA = "data"
#: μ on MNIST, one exponent across the underparametrized phase (HS22 Fig 6b): value and its ±.
MU_MNIST = (0.709, 0.017)
SUBAGING = "< 1 (subaging)"
#: The paper's underparametrized criterion: train accuracy below this after the run (HS22).
PAPER_ACCURACY = 0.99


@dataclass(frozen=True)
class Claim:
    """One statement of a paper: its value, tolerance, source, cells and measure.

    ``value`` is the paper's number (a tuple: one per depth, 1 to 3 hidden layers; None: a
    qualitative statement); ``tolerance`` how far a measurement may be from it (``log``: a factor,
    compared as log10(measured / value) / log10(tolerance); else (measured − value) / tolerance).
    ``roles`` and ``datasets`` select the cells (empty: any); ``cells`` the per-cell rows that
    show it, (row key, wording); ``measure`` the headline's function (empty: not in the headline)
    and ``title`` its claim column (``{data}``: the data set's title).
    """

    name: str
    paper: str
    source: str
    value: float | tuple[float, ...] | None = None
    tolerance: float | None = None
    log: bool = False
    roles: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    cells: tuple[tuple[str, str], ...] = ()
    measure: str = ""
    title: str = ""
    per_experiment: bool = False  # the headline measures it on each experiment apart
    calibrated: bool = False  # scored by glassynets.calibration

    def deviation(self, measured: float) -> float:
        """Signed deviation of a measured value in tolerance units (NaN when not measured)."""
        if not np.isfinite(measured):
            return float("nan")
        if self.log:
            return float(np.log10(measured / self.value) / np.log10(self.tolerance))
        return float((measured - self.value) / self.tolerance)

    def within(self, measured: float, value: float | None = None) -> bool:
        """|deviation| ≤ 1 (against ``value``, one of a tuple's, when given)."""
        reference = (
            self if value is None else Claim(self.name, "", "", value, self.tolerance, self.log)
        )
        return bool(abs(reference.deviation(measured)) <= 1)

    def applies(self, role: str | None, dataset: str) -> str | None:
        """How the claim applies to cells of ``role`` on ``dataset``: "paper" (as stated),
        "compared" (a data set the papers did not run, against their data set's value), or None."""
        if self.roles and role not in self.roles:
            return None
        if not self.datasets or dataset in self.datasets:
            return "paper"
        return "compared" if COMPARED_WITH.get(dataset) in self.datasets else None

    def shown(self, dataset: str, text: str | None = None) -> str:
        """The paper column for cells on ``dataset`` (the claim's wording, ``text`` if given);
        on a data set the papers did not run, "no paper value (MNIST: …)"."""
        text = self.paper if text is None else text
        if self.applies(None if not self.roles else self.roles[0], dataset) == "compared":
            return f"no paper value ({TITLES[COMPARED_WITH[dataset]]}: {text})"
        return text


def _band(value: tuple[float, float]) -> str:
    return f"{value[0]:g} ± {value[1]:g}"


def _by_depth(values: tuple[float, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((f"grad_rms_{depth}", f"{v:g}") for depth, v in enumerate(values, start=1))


_LJAT_ARCH = dict(roles=("architectures",), datasets=("ljat19",))
_LJAT_CHAIN = dict(roles=("chain",), datasets=("ljat19",))
_TRANSITION = dict(roles=("transition", "toy"), datasets=("ljat19", "mnist"))
_GRAD_RMS = (0.02, 0.07, 0.12)

#: Every claim, in the headline's order within each data set (and calibration's order of facts).
CLAIMS: tuple[Claim, ...] = (
    Claim("bayes_ceiling", "≈ 0.8", f"{HS22}, text (LJAT19 data: two of three distances)", 0.8,
          0.02, roles=(DATA,), datasets=("ljat19",),
          cells=(("bayes_accuracy", "≈ 0.8 (two of three distances)"),), measure="limit",
          title="{data} Bayes accuracy ceiling", calibrated=True),
    Claim("entropy_floor", "≈ 0.5", f"{HS22}, text (LJAT19 loss floor)", 0.5, 0.03,
          roles=(DATA,), datasets=("ljat19",), cells=(("loss_floor", "≈ 0.5"),),
          measure="limit", title="{data} entropy floor (nats)", calibrated=True),
    # tolerance 0.05: the headline's (the calibration's was 0.03; module docstring)
    Claim("final_train_loss", "≈ 0.5", f"{HS22}, Fig 1", 0.5, 0.05, **_LJAT_ARCH,
          cells=(("loss", "≈ 0.5 (floor)"),), measure="final_loss",
          title="{data} final train loss, 1/2/3 layers", calibrated=True),
    Claim("final_train_acc", "≈ 0.8 max", f"{HS22}, Fig 1", 0.8, 0.02, **_LJAT_ARCH,
          cells=(("accuracy", "≈ 0.8 max"),), calibrated=True),
    Claim("loss_at_1e3", "L ≈ 0.5 reached at t ≈ 10³", f"{HS22}, Fig 1", 0.5, 0.05,
          **_LJAT_ARCH, calibrated=True),
    # log10 of the first step where the mean loss is within scorecard.loss_within of its final value
    Claim("log10_t_floor", "t ≈ 10³", f"{HS22}, Fig 1", 3.0, 0.3, **_LJAT_ARCH,
          cells=(("loss_reached_step", "L ≈ 0.5 near t ≈ 10³"),), measure="time_to_floor",
          title="{data} time to reach the loss floor (within {within:.0%})", calibrated=True),
    Claim("plateau", "≈ 0.8 (intermediate loss plateau of the deeper nets)", f"{HS22}, Fig 1",
          0.8, 0.05, **_LJAT_ARCH, calibrated=True),
    Claim("chain_plateau", "≈ 0.8", f"{HS22}, Fig 3", 0.8, 0.05, **_LJAT_CHAIN,
          cells=(("loss", "plateau ≈ 0.8 for deeper nets"),), calibrated=True),
    Claim("chain_train_acc", "≈ 0.8 max", f"{HS22}, Fig 3", 0.8, **_LJAT_CHAIN,
          cells=(("accuracy", "≈ 0.8 max"),)),
    # RMS of the full-batch gradient norm after t = 10⁴, by depth; a factor 1.5 both ways
    Claim("grad_rms", " / ".join(f"{v:g}" for v in _GRAD_RMS), f"{HS22}, Fig A.3", _GRAD_RMS,
          1.5, log=True, **_LJAT_ARCH, cells=_by_depth(_GRAD_RMS), measure="grad_rms",
          title="{data} full-batch gradient-norm RMS, t ≥ {after:g}", calibrated=True),
    Claim("grad_ratio_3_1", "1 : 3.5 : 6", f"{HS22}, Fig A.3", _GRAD_RMS[2] / _GRAD_RMS[0], 1.5,
          log=True, **_LJAT_ARCH, calibrated=True),
    Claim("mu", SUBAGING, f"{HS22}, Fig 2", **_LJAT_ARCH, cells=(("mu", SUBAGING),),
          measure="mu", title="{data} μ at Δ* = {delta_star:.3g}"),
    # the start of the asymptotic regime of t*(t_w), log10 t_w; the headline asks 3.6 to lie in
    # the bootstrap interval widened by the tolerance (0.3 dex, the calibration's)
    Claim("crossover", "log10 t_w ≈ 3.6", f"{HS22}, Fig 2", 3.6, 0.3, **_LJAT_ARCH,
          cells=(("crossover", "t_w ≈ 10^3.6"),), measure="crossover",
          title="{data} crossover of t*(t_w), {arch}", calibrated=True),
    Claim("mu_scan", "yes", f"{HS22}, text on Fig 2", **_LJAT_ARCH,
          cells=(("mu_scan", "barely depends on Δ*"),), measure="mu_scan",
          title="{data} μ barely depends on Δ*"),
    Claim("chain_mu", SUBAGING, f"{HS22}, Fig 3", **_LJAT_CHAIN, cells=(("mu", SUBAGING),),
          measure="mu", title="{data} chain μ"),
    Claim("mnist_accuracy", f"< {PAPER_ACCURACY:g} (underparametrized)", f"{HS22}, Fig 4",
          PAPER_ACCURACY, roles=("architectures",), datasets=("mnist",),
          cells=(("accuracy", f"< {PAPER_ACCURACY:g} (underparametrized)"),)),
    Claim("mnist_mu", SUBAGING, f"{HS22}, Fig 5", roles=("architectures",), datasets=("mnist",),
          cells=(("mu", SUBAGING),)),
    Claim("mu_mnist", _band(MU_MNIST), f"{HS22}, Fig 6b", MU_MNIST[0], MU_MNIST[1],
          roles=("architectures",), datasets=("mnist",), cells=(("mu_mean", _band(MU_MNIST)),),
          measure="mu", title="{data} μ"),
    Claim("alpha_accuracy", f"< {PAPER_ACCURACY:g} after 10⁶ steps", f"{HS22}, Fig 6",
          PAPER_ACCURACY, roles=("alpha",), datasets=("mnist",),
          cells=(("accuracy", f"< {PAPER_ACCURACY:g} after 10⁶ steps"),)),
    Claim("mu_alpha", _band(MU_MNIST), f"{HS22}, Fig 6b", MU_MNIST[0], MU_MNIST[1],
          roles=("alpha",), datasets=("mnist",),
          cells=(("mu", _band(MU_MNIST)), ("mu_mean", _band(MU_MNIST))), measure="mu",
          title="{data} μ(α)"),
    Claim("mu_alpha_mean", _band(MU_MNIST), f"{HS22}, Fig 6b", MU_MNIST[0], MU_MNIST[1],
          roles=("alpha",), datasets=("mnist",), measure="mean_mu",
          title="{data} mean μ across α"),
    # the criterion itself, as the paper states it; every image set's cells are tested with it
    Claim("underparametrized", f"α ≪ 1 and accuracy < {PAPER_ACCURACY:g}", f"{HS22}, text",
          PAPER_ACCURACY, datasets=("mnist", "fashion_mnist"),
          cells=(("alpha", "≪ 1"), ("criterion", f"α ≪ 1 and accuracy < {PAPER_ACCURACY:g}"))),
    Claim("hessian_negative", "fraction drops but stays > 0", f"{HS22}, Fig 7",
          cells=(("hessian_end", "drops along training but stays > 0"),),
          measure="hessian_negative",
          title="negative Hessian eigenvalues along training ({experiment} {arch})"),
    Claim("trace_generalization", "positive", f"{HS22}, Fig A.2", cells=(("trace", "positive"),),
          measure="trace_generalization", per_experiment=True,
          title="Hessian trace/N vs generalization error (Spearman)"),
    Claim("transition", "a transition in α", f"{BJ18}, text", **_TRANSITION,
          cells=(("transition", "under- and over-parametrized phases"),), measure="transition",
          per_experiment=True, title="under/over-parametrized transition ({experiment})"),
    Claim("transition_aging", "under: yes (t* grows with t_w); over: no once the loss is ≈ 0",
          f"{BJ18}, text", **_TRANSITION, cells=(("aging", "under: yes (t* grows with t_w); "
                                                      "over: no once the loss is ≈ 0"),)),
    Claim("transition_late", "over: diffusive (β = 1) at the bottom of the landscape",
          f"{BJ18}, text", **_TRANSITION,
          cells=(("late", "over: diffusive (β = 1) at the bottom of the landscape"),)),
)  # fmt: skip
BY_NAME = {claim.name: claim for claim in CLAIMS}


def get(name: str) -> Claim:
    """The claim ``name`` (a KeyError names the claims there are)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no claim {name!r}; claims: {', '.join(BY_NAME)}") from None


def texts(role: str | None, dataset: str) -> dict[str, str]:
    """The paper column of the per-cell rows of cells of ``role`` on ``dataset``, by row key."""
    out: dict[str, str] = {}
    for claim in CLAIMS:
        how = claim.applies(role, dataset)
        if how is not None:
            out.update({row: claim.shown(dataset, text) for row, text in claim.cells})
    return out


def measured(dataset: str) -> list[Claim]:
    """The headline's claims about cells on ``dataset`` (each measured on every cell of its role
    together, also on a data set compared with the papers'), in table order."""
    return [
        claim
        for claim in CLAIMS
        if claim.measure
        and not claim.per_experiment
        and claim.datasets
        and claim.applies(claim.roles[0], dataset) is not None
    ]


def once() -> list[Claim]:
    """The headline's claims measured once over every cell (no role, no data set)."""
    return [
        claim
        for claim in CLAIMS
        if claim.measure and not claim.per_experiment and not claim.datasets
    ]


def per_experiment(role: str | None, dataset: str) -> list[Claim]:
    """The headline's claims measured on each experiment apart that apply to ``role`` on
    ``dataset``, in table order."""
    return [
        claim
        for claim in CLAIMS
        if claim.measure and claim.per_experiment and claim.applies(role, dataset) is not None
    ]
