"""Command line of the pipeline: a table of stages and of a user's tools (``glassynets --help``).

Every workflow job is ``glassynets <stage> --settings JSON --in NAME=PATH ... --out NAME=PATH ...``
(the stage contract, :mod:`glassynets.jobs`): the settings come from the validated config
(:mod:`glassynets.settings`), Snakemake tracks them, and the stage's function beside its science
reads, computes and writes. The tools (check-config, check-results, describe, analyse) are for a
user at the shell. This module parses; it holds no defaults and no policy.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from typing import Any

from . import jobs
from .jobs import Stage

#: Every workflow stage: its function, what it does, the names of its inputs and outputs.
STAGES: dict[str, Stage] = {
    "ljat19-dataset": Stage(
        "datasets:ljat19_table",
        "Write an LJAT19 table: regenerated from the physics, or the first n rows of a verified file",
        inputs=("published?",),
        outputs=("table",),
    ),
    "ljat19-fetch": Stage(
        "datasets:ljat19_fetch",
        "Copy or download a published LJAT19 file and keep it only if its sha256 matches",
        outputs=("file",),
    ),
    "ljat19-limits": Stage(
        "datasets:ljat19_limits",
        "Bayes accuracy ceiling and conditional-entropy floor of LJAT19's label given its inputs",
        inputs=("sample",),
        outputs=("limits",),
    ),
    "images-fetch": Stage(
        "datasets:images_fetch",
        "Copy one official file of an image data set from a local folder, or download it; verified",
        outputs=("file",),
    ),
    "images-convert": Stage(
        "datasets:images_convert",
        "Check one split's two IDX files and store it as an images table",
        inputs=("images", "labels"),
        outputs=("table",),
    ),
    "images-subset": Stage(
        "datasets:images_subset",
        "Draw a deterministic training subset of N images from a converted split",
        inputs=("split",),
        outputs=("table",),
    ),
    "figure": Stage(
        "figures:figure",
        "Draw one figure of the registry (glassynets.figures) from cell table folders",
        ("cells*", "glass*", "limits?"),
        ("pdf",),
    ),
    "train": Stage(
        "training.stage:train",
        "Train one block of seeds of one cell: snapshots, metrics and two-time observables",
        ("train", "test"),
        ("snapshots", "metrics", "two_time"),
    ),
    "ljat19-calibrate": Stage(
        "calibration:calibrate",
        "Score LJAT19 training against the paper's facts (docs/ljat19.md)",
        ("arch*", "chain*", "limits?", "mu_summary*"),
        ("calibration",),
    ),
    "scorecard": Stage(
        "scorecard.stage:scorecard",
        "Write the paper-vs-reproduction scorecard (Markdown and CSV)",
        ("limits?", "cells*", "glass*"),
        ("md", "csv"),
    ),
    "aging": Stage(
        "aging:aging_tables",
        "Merge a cell's seed blocks; write Δ, D, Y and Q_ε from t = 1, t*(t_w), μ with its crossover "
        "and full uncertainty, the Δ* scan, the late-time behaviour of Δ and the parameter histograms",
        inputs=("two_time*", "snapshots*", "metrics*"),
        outputs=("folder",),
    ),
    "hessian": Stage(
        "hessian:spectra",
        "Hessian spectra of the full-batch training loss at chosen snapshot steps of a cell's first runs",
        inputs=("snapshots*", "train", "test"),
        outputs=("eigenvalues", "summary"),
    ),
    "pspin": Stage(
        "pspin:simulate_cell",
        "Quench the spherical p-spin (p = 3) and integrate its Langevin dynamics: spins, two-time "
        "observables and energy per spin; finished samples are kept in --checkpoint (a folder)",
        outputs=("snapshots", "two_time", "energy"),
    ),
    "ck": Stage(
        "ck:solve_cell",
        "Integrate the exact n = ∞ dynamics of the p-spin (the CK equations) on a simulated cell's "
        "two-time grid, at n = ∞ or mapped to N spins: a two_time table of one run and an energy table",
        outputs=("two_time", "energy"),
    ),
}


@dataclass(frozen=True)
class Tool:
    """A user's command: its function (taking the parsed arguments) and its arguments."""

    target: str  # "module:function" of glassynets
    help: str
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = ()


def _arg(*flags: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return flags, options


CONFIGS = _arg(
    "files", nargs="*", default=["config.yaml"], help="config.yaml, then --configfile files"
)
TOOLS: dict[str, Tool] = {
    "check-config": Tool(
        "config:check_command",
        "Check config files as snakemake --configfile merges them: YAML, then the schema",
        (CONFIGS,),
    ),
    "check-results": Tool(
        "lineage:check_command",
        "Check every file the config's workflow makes against the config in force (exit 1: stale)",
        (CONFIGS, _arg("--directory", default=".", help="the workflow's working directory")),
    ),
    "describe": Tool(
        "storage:describe_command",
        "What a Parquet file of the pipeline holds: columns, units, meanings, provenance",
        (_arg("file", help="a Parquet file written by the pipeline"),),
    ),
    "analyse": Tool(
        "runs:analyse_command",
        "The aging analysis of any runs' two_time tables (t*, μ, crossover, Δ* scan, figure)",
        (
            _arg("tables", nargs="+", help="two_time tables (RUN.parquet ...), one ensemble"),
            _arg("--out", required=True, help="folder for the tables, summary and figure"),
            _arg("--delta-star", type=float, help="Δ* defining t* (parameter²; default: schema)"),
            _arg("--fit-tw", type=float, nargs=2, metavar=("MIN", "MAX"), help="t_w (steps)"),
            _arg("--min-fit-points", type=int),
            _arg("--min-fit-decades", type=float),
            _arg("--fit-window", choices=["asymptotic", "fixed"]),
            _arg("--n-boot", type=int, help="bootstrap replicates over runs"),
            _arg("--plot-tw", type=float, nargs="+", help="t_w (steps) drawn in the Δ panel"),
            _arg("--delta-star-scan", type=float, nargs=2, metavar=("MIN", "MAX")),
            _arg("--label", help="the model's name in the figure (default: the tables' arch)"),
            _arg("--set", action="append", metavar="KEY=VALUE", help="any other analysis key"),
        ),
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glassynets", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--log", help="write all output here; an error's line goes to the console too"
    )
    parser.add_argument(
        "--stop-with-parent", type=int, metavar="PID", help="stop once PID ($PPID) has gone"
    )
    parser.add_argument("--lineage", help="identity of the outputs (glassynets.lineage)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, stage in STAGES.items():
        p = sub.add_parser(name, help=stage.help, description=stage.help)
        p.add_argument("--settings", required=True, help="the job's settings, a JSON object")
        names = {"--in": stage.inputs, "--out": stage.outputs}
        for option, dest in (("--in", "inputs"), ("--out", "outputs")):
            p.add_argument(option, dest=dest, action="append", metavar="NAME=PATH",
                           help=f"names: {', '.join(names[option]) or 'none'}")  # fmt: skip
        p.add_argument("--threads", type=int, default=1, help="torch threads")
        p.add_argument("--checkpoint", help="resume file (kept only while the job is unfinished)")
        p.add_argument("--checkpoint-every-s", type=float, default=600.0)
    for name, tool in TOOLS.items():
        p = sub.add_parser(name, help=tool.help, description=tool.help)
        for flags, options in tool.arguments:
            p.add_argument(*flags, **options)
    return parser


def _run(args: argparse.Namespace) -> None:
    if args.command in TOOLS:
        module, _, function = TOOLS[args.command].target.partition(":")
        getattr(importlib.import_module(f"glassynets.{module}"), function)(args)
        return
    stage = STAGES[args.command]
    how = {"lineage": args.lineage, "threads": args.threads, "checkpoint": args.checkpoint}
    job = stage.job(args.command, args.settings, args.inputs, args.outputs,
                    checkpoint_every_s=args.checkpoint_every_s, **how)  # fmt: skip
    stage.run(job)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = jobs.redirect_output(args.log) if args.log else sys.stderr
    jobs.stop_on_sigterm()
    if args.stop_with_parent is not None:
        jobs.stop_with_parent(args.stop_with_parent)
    try:
        _run(args)
    except (ValueError, RuntimeError, OSError) as err:  # OSError: disk full, missing folder, ...
        jobs.report(f"glassynets {args.command}: error: {err}", console, args.log)
        return 1
    except Exception as err:  # a bug: its traceback goes to the log, one line to the console
        where = f"; traceback in {args.log}" if args.log else ""
        jobs.report(
            f"glassynets {args.command}: {type(err).__name__}: {err}{where}", console, args.log
        )
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
