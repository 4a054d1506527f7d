"""The scorecard written out: Markdown (the headline, then every row, then its lineage line)
and the rows as CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import storage
from .cell_rows import COLUMNS
from .headline import HEADLINE_COLUMNS


def _markdown_row(values) -> str:
    """A Markdown table row; a | inside a value is escaped (it would split the cell)."""
    return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"


def write(
    table: pd.DataFrame,
    md_path: str | Path,
    csv_path: str | Path,
    top: pd.DataFrame | None = None,
    lineage: str | None = None,
) -> None:
    """Write the scorecard as Markdown (the headline table ``top`` first, then every row; its last
    line holds ``lineage``, glassynets.lineage, if given) and the rows as CSV (atomically)."""
    lines = ["# Scorecard: the paper's numbers next to this reproduction", ""]
    if top is not None and len(top):
        lines += [
            "## Headline: one row per claim",
            "",
            "Verdicts: matches; differs; explained (the cause is documented where linked); undefined (not "
            "measurable here, e.g. t* undefined at too many t_w). μ intervals combine the 95% bootstrap over runs "
            "with the spread over fit windows and averaging conventions.",
            "",
            "| " + " | ".join(HEADLINE_COLUMNS) + " |",
            "|" + "---|" * len(HEADLINE_COLUMNS),
        ]
        lines += [_markdown_row(row) for row in top.itertuples(index=False)]
        lines += ["", "## Every cell", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += [_markdown_row(row) for row in table.itertuples(index=False)]
    if lineage is not None:
        from ..lineage import SCORECARD_LINE

        lines += ["", SCORECARD_LINE.format(lineage)]
    storage.atomic_write_text(md_path, "\n".join(lines) + "\n")
    storage.atomic_write_text(csv_path, table.to_csv(index=False))
