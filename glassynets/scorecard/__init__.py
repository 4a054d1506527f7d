"""The scorecard: every number the paper states for this part next to the reproduced value.

It opens with a headline table, one row per claim of the papers (glassynets.claims, the one table
of them), with a verdict (matches, differs, explained: a known cause written down in the linked
document, undefined: not measurable here); the per-cell rows follow. Reproduced values are means
over runs with their standard deviation across runs, unless the row says otherwise (μ: the total
interval, the bootstrap over runs and the spread over fit windows and averaging conventions
combined; data limits: estimator on a large independent sample).

Modules: :mod:`.criteria` (the config's thresholds, the experiments by role), :mod:`.cell_rows`
and :mod:`.experiment_rows` (the rows), :mod:`.glass` (the p-spin's), :mod:`.headline` (the
claims measured), :mod:`.render` (Markdown and CSV), :mod:`.stage` (the workflow's job).
"""

from __future__ import annotations

from .cell_rows import COLUMNS  # noqa: F401
from .criteria import Criteria, Experiment  # noqa: F401
from .experiment_rows import build, sweeps_alpha  # noqa: F401
from .headline import HEADLINE_COLUMNS, Scored, headline  # noqa: F401
from .render import write  # noqa: F401
