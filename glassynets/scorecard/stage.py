"""The scorecard's workflow stage (glassynets.jobs): cells in, Markdown and CSV out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..cells import CellTables
from ..jobs import Job
from .criteria import Criteria, experiments
from .experiment_rows import build
from .headline import Scored, headline
from .render import write


def tables(
    settings: dict[str, Any],
    limits: dict | None,
    cells: list[CellTables],
    glasses: list[CellTables] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every row, the headline) of a scorecard's ``settings`` (glassynets.settings.scorecard:
    the ``scorecard`` thresholds, ``roles``: experiment -> role, ``sweeps``: experiment -> its
    ``sweep`` section) from the network ``cells`` (grouped by the experiment their metadata
    names) and the p-spin ``glasses``."""
    criteria = Criteria.of(settings)
    scored = experiments(settings["roles"], cells)
    rows = build(limits, scored, criteria, glasses, settings["sweeps"])
    top = headline(Scored(limits, scored, criteria), glasses, settings["sweeps"])
    return rows, top


def scorecard(job: Job) -> None:
    """Write the paper-vs-reproduction scorecard (Markdown and CSV) from cell table folders:
    inputs limits? (the LJAT19 limits JSON), cells* (network cells), glass* (p-spin and CK
    cells); outputs md, csv."""
    from .. import cells

    path = job.optional_input("limits")
    limits = json.loads(Path(path).read_text()) if path else None
    networks = [cells.load(folder) for folder in job.input_list("cells")]
    glasses = [cells.load(folder) for folder in job.input_list("glass")]
    rows, top = tables(job.settings, limits, networks, glasses)
    write(rows, job.output("md"), job.output("csv"), top, lineage=job.lineage)
    job.log(f"wrote {job.output('md')} and {job.output('csv')} ({len(rows)} rows)")
