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
# fmt: off
STAGES: dict[str, Stage] = {
    "ljat19-dataset": Stage("datasets:ljat19_table", ("published?",), ("table",),
        "An LJAT19 table: regenerated from the physics, or the first n rows of a verified file"),
    "ljat19-fetch": Stage("datasets:ljat19_fetch", (), ("file",),
        "Copy or download a published LJAT19 file; kept only if its sha256 matches"),
    "ljat19-limits": Stage("datasets:ljat19_limits", ("sample",), ("limits",),
        "Bayes accuracy ceiling and conditional-entropy floor of LJAT19's label"),
    "images-fetch": Stage("datasets:images_fetch", (), ("file",),
        "One official file of an image data set, from a local folder or downloaded; verified"),
    "images-convert": Stage("datasets:images_convert", ("images", "labels"), ("table",),
        "Check one split's two IDX files and store it as an images table"),
    "images-subset": Stage("datasets:images_subset", ("split",), ("table",),
        "A deterministic training subset of N images of a converted split"),
    "train": Stage("training.stage:train", ("train", "test"), ("snapshots", "metrics", "two_time"),
        "Train one block of seeds of one cell: snapshots, metrics, two-time observables"),
    "aging": Stage("aging:aging_tables", ("two_time*", "snapshots*", "metrics*"), ("folder",),
        "A cell's aging tables: Δ, D, Q_ε, t*(t_w), μ with its uncertainty, Δ* scan, late times"),
    "hessian": Stage("hessian:spectra", ("snapshots*", "train", "test"), ("eigenvalues", "summary"),
        "Hessian spectra of the full-batch training loss at chosen snapshot steps"),
    "pspin": Stage("pspin:simulate_cell", (), ("snapshots", "two_time", "energy"),
        "Langevin dynamics of the spherical p-spin after a quench (--checkpoint: a folder)"),
    "ck": Stage("ck:solve_cell", (), ("two_time", "energy"),
        "The p-spin's exact n = ∞ dynamics (CK equations) on a simulated cell's two-time grid"),
    "figure": Stage("figures:figure", ("cells*", "glass*", "limits?"), ("pdf",),
        "One figure of the registry (glassynets.figures) from cell table folders"),
    "scorecard": Stage("scorecard.stage:scorecard", ("limits?", "cells*", "glass*"), ("md", "csv"),
        "The paper-vs-reproduction scorecard (Markdown and CSV)"),
    "ljat19-calibrate": Stage("calibration:calibrate", ("arch*", "chain*", "limits?", "mu_summary*"),
        ("calibration",), "Score LJAT19 training against the paper's facts (docs/ljat19.md)"),
}
# fmt: on


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
    how = ("lineage", "threads", "checkpoint", "checkpoint_every_s")
    job = stage.job(args.command, args.settings, args.inputs, args.outputs,
                    **{key: getattr(args, key) for key in how})  # fmt: skip
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
