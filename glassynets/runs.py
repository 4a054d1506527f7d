"""The aging analysis of any runs' ``two_time`` tables (``glassynets analyse``, ``glassynets.analyse``).

The tables of glassynets.AgingRecorder (or the workflow's own) are one ensemble, analysed by the
code the workflow's aging step runs (aging.analyse_cell) with the workflow's settings: every
option not given is the config schema's default for an ``analysis`` section
(workflow/schemas/config.schema.yaml, read through glassynets.config). Out come the cell tables
(msd, overlap, tstar, mu, mu_summary, msd_late; storage.SCHEMAS), the aging class
(aging.aging_verdict), a summary in words and the Fig 2-style figure (plots.fig_runs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Analysis:
    """What :func:`analyse` found: the mu_summary row (``summary``: mu, total_low/high,
    crossover_log10_tw, residual_dex, status, ...), the aging class and why, and where it wrote."""

    summary: dict[str, Any]
    verdict: str
    why: str
    folder: Path
    figure: Path
    settings: dict[str, Any]

    def text(self) -> str:
        s = self.summary
        lines = [f"aging class: {self.verdict} ({self.why})"]
        if np.isfinite(s["mu"]):
            lines.append(
                f"μ = {s['mu']:.3f}, total interval [{s['total_low']:.3f}, {s['total_high']:.3f}] "
                f"(bootstrap [{s['stat_low']:.3f}, {s['stat_high']:.3f}] ⊕ window/convention "
                f"-{s['syst_low']:.3f}/+{s['syst_high']:.3f}), Δ* = {s['delta_star']:.3g}"
            )
            lines.append(
                f"fit over t_w in [{s['tw_min']:.4g}, {s['tw_max']:.4g}] ({s['n_points']} t_w), "
                f"RMS residual {s['residual_dex']:.3f} dex, largest {s['max_residual_dex']:.3f} dex"
            )
        else:
            lines.append(f"μ undefined at Δ* = {s['delta_star']:.3g}: {s['status']}")
        if np.isfinite(s["crossover_log10_tw"]):
            lines.append(
                f"crossover at log10 t_w = {s['crossover_log10_tw']:.2f} "
                f"[{s['crossover_low']:.2f}, {s['crossover_high']:.2f}]"
            )
        else:
            lines.append("no crossover inside fit_tw (the last regime reaches back to its start)")
        lines.append(
            f"t* defined at {s['n_tw_defined']} of {s['n_tw']} t_w in fit_tw "
            f"{self.settings['fit_tw']}"
        )
        return "\n".join(lines)


def settings_for(given: dict[str, Any] | None = None) -> dict[str, Any]:
    """The analysis settings: ``given`` over the schema's defaults, t_w in steps. When Δ* is given
    and its scan is not, the scan is the schema's default range scaled by Δ* / its default Δ*
    (the default scan brackets the default Δ*, 0.3× to 3×)."""
    from . import config, settings

    given = {k: v for k, v in (given or {}).items() if v is not None}
    if "delta_star" in given and "delta_star_scan" not in given:
        defaults = config.analysis_section()
        scale = float(given["delta_star"]) / defaults["delta_star"]
        given["delta_star_scan"] = [d * scale for d in defaults["delta_star_scan"]]
    return settings.aging(config.analysis_section(given))


def analyse(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    out: str | os.PathLike,
    delta_star: float | None = None,
    *,
    label: str | None = None,
    tti_mu: float | None = None,
    log: Callable[[str], None] = print,
    **options: Any,
) -> Analysis:
    """t*(t_w), μ with its total interval, the crossover, residuals, aging class, Δ* scan and the
    figure from the ``two_time`` tables ``paths`` (one ensemble of runs: each run id once).

    delta_star and ``options`` (any key of the schema's ``analysis`` section: fit_tw,
    min_fit_points, n_boot, plot_tw, ...): None or absent means the schema's default. tti_mu: the
    aging class's bound for "t* does not grow" (default: the schema's scorecard.tti_mu). Writes
    the tables, ``summary.txt`` and ``aging.pdf``/``.png`` into ``out``; returns an
    :class:`Analysis`.
    """
    from . import aging, cells, config, plots, storage

    paths = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not paths:
        raise ValueError("analyse: no two_time tables given")
    analysis = settings_for({"delta_star": delta_star, **options})
    blocks = [storage.read_two_time(p) for p in paths]
    metas = [storage.metadata(p) for p in paths]
    owner: dict[int, Path] = {}
    for path, (columns, _) in zip(paths, blocks):
        for run in np.unique(columns["seed"]).tolist():
            if run in owner:
                raise ValueError(
                    f"analyse: run {run} is in both {owner[run]} and {path}; each run once"
                )
            owner[run] = path
    for key in ("n_params", "steps"):
        values = {str(p): m.get(key) for p, m in zip(paths, metas)}
        if None in values.values():
            missing = [p for p, v in values.items() if v is None]
            raise ValueError(
                f"analyse: {missing[0]} does not say its {key} (not a two_time table?)"
            )
        if len(set(values.values())) > 1:
            raise ValueError(
                f"analyse: the tables differ in {key} ({values}); one ensemble is one model and "
                "one run length"
            )
    meta = {k: v for k, v in metas[0].items() if k not in ("overlap_eps", "written")}
    meta["arch"] = label or metas[0].get("arch") or "own model"
    meta["seeds"] = sorted(owner)
    meta["analysis"] = analysis
    meta.update(storage.provenance(paths, analysis))
    n_params, steps = int(meta["n_params"]), float(meta["steps"])
    tables = aging.analyse_cell(blocks, None, None, n_params, steps, analysis, log=log)
    out = Path(out)
    for kind, columns in tables.items():
        storage.write(out / f"{kind}.parquet", kind, columns, meta)
    summary = {k: v[0] for k, v in tables["mu_summary"].items()}
    tti = config.default("scorecard.tti_mu") if tti_mu is None else tti_mu
    verdict, why = aging.aging_verdict(summary, tti)
    figure = out / "aging.pdf"
    plots.fig_runs([cells.load(out)], figure, plot_tw=analysis["plot_tw"])
    result = Analysis(summary, verdict, why, out, figure, analysis)
    header = (
        f"{meta['arch']}: {len(owner)} runs of {int(steps)} steps, P = {n_params:,} "
        f"({', '.join(str(p) for p in paths)})"
    )
    storage.atomic_write_text(out / "summary.txt", f"{header}\n{result.text()}\n")
    return result


def analyse_command(args) -> None:
    """``glassynets analyse TABLES --out DIR [options]``: :func:`analyse` with the options given
    (``--set KEY=VALUE`` for any other key of the schema's analysis section, a YAML value); every
    option not given is the schema's default."""
    import yaml

    from .jobs import log

    options = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set n_boot=200")
        options[key.strip()] = yaml.safe_load(value)
    options.update(
        fit_tw=args.fit_tw,
        min_fit_points=args.min_fit_points,
        min_fit_decades=args.min_fit_decades,
        n_boot=args.n_boot,
        plot_tw=args.plot_tw,
        delta_star_scan=args.delta_star_scan,
        fit_window=args.fit_window,
    )
    result = analyse(args.tables, args.out, args.delta_star, label=args.label, log=log, **options)
    print(result.text())
    log(f"wrote the tables, summary.txt and {result.figure} (and its .png) into {args.out}")
