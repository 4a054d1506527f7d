"""What the scorecard's rows are computed with: the config's ``scorecard`` thresholds, and the
experiments scored, each with its role (which claims of :mod:`glassynets.claims` apply) and cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..cells import CellTables


@dataclass(frozen=True)
class Criteria:
    """The ``scorecard`` section of the validated config, as the job's settings carry it."""

    loss_within: float  # "loss reached": within this fraction of the final mean train loss
    grad_rms_after: float  # gradient-norm RMS over steps >= this
    alpha_max: float  # underparametrized: α = P/N at most this …
    accuracy_max: float  # … and final mean train accuracy below this
    tti_mu: float  # aging 'none' when μ's total interval lies below this
    temperature_after: float  # a sweep's late-time means over metric steps >= this

    @classmethod
    def of(cls, settings: dict[str, Any]) -> Criteria:
        """From a scorecard job's settings (glassynets.settings.scorecard)."""
        return cls(
            loss_within=settings["loss_within"],
            grad_rms_after=settings["grad_rms_after"],
            alpha_max=settings["underparametrized_alpha"],
            accuracy_max=settings["underparametrized_accuracy"],
            tti_mu=settings["tti_mu"],
            temperature_after=settings["temperature_after"],
        )


@dataclass(frozen=True)
class Experiment:
    """One experiment of the scorecard: its name, role (config ``role``) and cells, in order."""

    name: str
    role: str | None
    cells: list[CellTables]

    @property
    def dataset(self) -> str:
        return self.cells[0].dataset


def experiments(roles: dict[str, str | None], cells: list[CellTables]) -> list[Experiment]:
    """The cells grouped by the experiment their metadata names (in the order first given), each
    with its role from ``roles`` (the job's settings, whose JSON keys are sorted: the order is the
    inputs'; a cell of an experiment not there is an error)."""
    groups: dict[str, list[CellTables]] = {}
    for cell in cells:
        name = cell.meta["experiment"]
        if name not in roles:
            raise ValueError(
                f"a cell of experiment {name!r}, which the scorecard's settings do not name "
                f"(they name {', '.join(roles) or 'none'})"
            )
        groups.setdefault(name, []).append(cell)
    return [Experiment(name, roles[name], group) for name, group in groups.items()]


def role_cells(scored: list[Experiment], role: str, dataset: str) -> list[CellTables]:
    """Every cell of the experiments of ``role`` on ``dataset``, in the experiments' order."""
    return [c for e in scored if e.role == role and e.dataset == dataset for c in e.cells]


def role_names(scored: list[Experiment], role: str, dataset: str) -> str:
    """The names of the experiments of ``role`` on ``dataset``, for a headline's "where"."""
    return ", ".join(e.name for e in scored if e.role == role and e.dataset == dataset)
