"""Command line of the pipeline: one subcommand per workflow step (``glassynets <step> --help``).

Snakemake rules call these; every hyperparameter arrives as an option so that the rule's shell
command (which Snakemake tracks) changes whenever a setting does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _json_object(option: str, text: str) -> dict:
    """The value of a JSON option (--settings, --sweeps): a JSON object, else a ValueError naming it."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{option}: not a JSON object ({err}): give the settings themselves, e.g. "
            """'{"lr": 0.05, ...}' as the workflow's rules do, not a file name"""
        ) from None
    if not isinstance(value, dict):
        raise ValueError(f"{option}: expected a JSON object {{...}}, got {text[:60]!r}")
    return value


def _settings(args: argparse.Namespace) -> dict:
    """The job's --settings, a JSON object (as glassynets.settings builds it)."""
    return _json_object("--settings", args.settings)


def _json_option(option: str):
    """An argparse type: a JSON object, with _json_object's one-line error."""

    def parse(text: str) -> dict:
        try:
            return _json_object(option, text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def _meta(args: argparse.Namespace, meta: dict) -> dict:
    """``meta`` with this job's lineage (glassynets.lineage), when the workflow gave one."""
    from . import lineage

    return {**meta, lineage.KEY: args.lineage} if args.lineage else meta


def _seed_range(text: str) -> tuple[int, ...]:
    first, _, last = text.partition("-")
    return tuple(range(int(first), int(last or first) + 1))


# --- LJAT19 data -------------------------------------------------------------------------------


def cmd_ljat19_calibrate(args: argparse.Namespace) -> None:
    """Score regenerated LJAT19 data against the paper's facts (docs/ljat19.md, calibration)."""
    from . import calibration, storage

    def by_depth(paths: list[str] | None) -> dict:
        return {d + 1: storage.read_frame(p, "metrics") for d, p in enumerate(paths or [])}

    measured = calibration.dynamics_facts(by_depth(args.arch), by_depth(args.chain))
    if args.limits:
        limits = json.loads(Path(args.limits).read_text())
        measured["bayes_ceiling"] = limits["accuracy_ceiling"]
        measured["entropy_floor"] = limits["entropy_floor_nats"]
    if args.mu_summary:
        # crossover: start of the asymptotic regime of t*(t_w) (the scorecard's); hinge: the
        # break of a two-segment fit, shown beside it
        fits = [storage.read_frame(p, "mu_summary").iloc[0] for p in args.mu_summary]
        for depth, fit in enumerate(fits, start=1):
            measured[f"crossover_{depth}"] = float(fit["crossover_log10_tw"])
            measured[f"hinge_{depth}"] = float(fit["hinge_log10_tw"])
        measured["crossover"] = float(np.nanmean([f["crossover_log10_tw"] for f in fits]))
    total, deviations = calibration.score(measured)
    result = {"score": total, "deviations": deviations, "measured": measured}
    _log(f"LJAT19 calibration score {total:.3g}: {deviations}")
    storage.atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")


# --- image data sets (MNIST, Fashion-MNIST) ---------------------------------------------------


# --- training -----------------------------------------------------------------------------------


def _holding(path: str | None):
    """The exclusive lock of a job's checkpoint (storage.exclusive_lock); nothing without one."""
    from . import storage

    return storage.exclusive_lock(path) if path else contextlib.nullcontext()


def cmd_train(args: argparse.Namespace) -> None:
    """Train one block of seeds of one cell and write its snapshots, metrics and two-time observables."""
    with _holding(args.checkpoint):  # from before the data are read until the checkpoint is gone
        _train(args)


def _train(args: argparse.Namespace) -> None:
    import torch

    from . import storage, tensors, training
    from .nets import Architecture

    settings = _settings(args)
    torch.set_num_threads(args.threads)
    device = training.resolve_device(settings["device"])
    _log(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}); one thread per job avoids oversubscription; "
        f"device {device}"
        + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else "")
        + (f" (asked: {settings['device']})" if settings["device"] != device else "")
    )
    dtype = getattr(torch, settings["dtype"])
    x_train, y_train = tensors.dataset_tensors(settings, args.train, args.n_train, dtype)
    x_test, y_test = tensors.dataset_tensors(settings, args.test, None, dtype)
    storage.release_unused_memory()  # the data are tensors now
    arch = Architecture.from_name(args.arch, x_train.shape[1], settings["n_classes"])
    spec = training.TrainSpec.from_settings(settings, arch, _seed_range(args.seeds), device)
    n_train = len(y_train)
    _log(
        f"cell {settings['experiment']}/N{n_train}/{arch.name}: P = {arch.n_params}, α = P/N = "
        f"{arch.n_params / n_train:.4g}, seeds {args.seeds}, {spec.steps} steps, {len(spec.snapshot_steps)} snapshots, "
        f"{len(spec.metric_steps)} metric points, two-time observables at {len(spec.waiting_times)} t_w × "
        f"{len(spec.lags)} lags from t = 1"
    )
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    result = training.train_resumable(
        spec, x_train, y_train, x_test, y_test, checkpoint, args.checkpoint_every_s, _log
    )
    meta = {
        **settings,
        "arch": arch.name,
        "widths": list(arch.widths),
        "n_params": arch.n_params,
        "n_train": n_train,
        "alpha": arch.n_params / n_train,
        "device": device,
        "train_file": str(args.train),
        "test_file": str(args.test),
        "seeds": list(spec.seeds),
    }
    meta.update(storage.provenance([args.train, args.test], meta))
    meta = _meta(args, meta)
    storage.write_training(
        result,
        np.asarray(spec.seeds),
        args.out_snapshots,
        args.out_metrics,
        args.out_two_time,
        meta,
    )
    if checkpoint:
        checkpoint.unlink(missing_ok=True)
    _log(f"wrote {args.out_snapshots}, {args.out_metrics} and {args.out_two_time}")


# --- aging analysis -----------------------------------------------------------------------------


def cmd_analyse(args: argparse.Namespace) -> None:
    """The aging analysis of any runs' two_time tables (glassynets.AgingRecorder's, or the
    workflow's): t*(t_w), μ with its total interval, crossover, residuals, aging class, the Δ*
    scan and the Fig 2-style figure; every option not given is the config schema's default."""
    from . import runs

    options = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set n_boot=200")
        options[key.strip()] = _yaml_value(value)
    options.update(
        fit_tw=args.fit_tw,
        min_fit_points=args.min_fit_points,
        min_fit_decades=args.min_fit_decades,
        n_boot=args.n_boot,
        plot_tw=args.plot_tw,
        delta_star_scan=args.delta_star_scan,
        fit_window=args.fit_window,
    )
    result = runs.analyse(
        args.tables, args.out, args.delta_star, label=args.label, log=_log, **options
    )
    print(result.text())
    _log(f"wrote the tables, summary.txt and {result.figure} (and its .png) into {args.out}")


def _yaml_value(text: str):
    import yaml

    return yaml.safe_load(text)


# --- figures and scorecard ----------------------------------------------------------------------


def cmd_figure(args: argparse.Namespace) -> None:
    """Draw one figure of the paper from cell table folders."""
    from . import cells, plots

    tables = [cells.load(folder) for folder in args.cells + args.glass_cells]
    limits = json.loads(Path(args.limits).read_text()) if args.limits else None
    plots.draw(
        args.name,
        tables,
        args.out,
        plot_tw=args.plot_tw,
        glass_plot_tw=args.glass_plot_tw,
        accuracy_max=args.underparametrized_accuracy,
        limits=limits,
        sweeps=args.sweeps,
        lineage=args.lineage,
    )
    _log(f"wrote {args.out} and its .png")


def cmd_scorecard(args: argparse.Namespace) -> None:
    """Write the paper-vs-reproduction scorecard (Markdown and CSV)."""
    from . import cells, scorecard

    limits = json.loads(Path(args.limits).read_text()) if args.limits else None
    groups = {}
    for spec in args.cells or []:
        experiment, _, folder = spec.partition("=")
        groups.setdefault(experiment, []).append(cells.load(folder))
    table = scorecard.build(
        limits,
        groups,
        loss_within=args.loss_within,
        grad_rms_after=args.grad_rms_after,
        alpha_max=args.underparametrized[0],
        accuracy_max=args.underparametrized[1],
        tti_mu=args.tti_mu,
        glasses=[cells.load(folder) for folder in args.glass_cells],
        sweeps=args.sweeps,
    )
    glasses = [cells.load(folder) for folder in args.glass_cells]
    top = scorecard.headline(
        limits,
        groups,
        grad_rms_after=args.grad_rms_after,
        tti_mu=args.tti_mu,
        accuracy_max=args.underparametrized[1],
        glasses=glasses,
        sweeps=args.sweeps,
    )
    scorecard.write(table, args.out_md, args.out_csv, top, lineage=args.lineage)
    _log(f"wrote {args.out_md} and {args.out_csv} ({len(table)} rows)")


def cmd_check_config(args: argparse.Namespace) -> None:
    """Check config files as snakemake --configfile would merge them (later ones override earlier
    ones): YAML syntax with file and line, then the schema; prints the experiments found."""
    from . import config

    checked = config.check_files(args.files, config.SCHEMA)
    _log(f"{', '.join(args.files)}: valid; experiments {', '.join(checked['experiments'])}")


def cmd_check_results(args: argparse.Namespace) -> None:
    """Check every file the config's workflow makes against the config in force (its lineage): one
    line per stale file; exit code 1 if any is stale or unreadable."""
    from . import config, lineage

    findings = lineage.check(
        lineage.Lineage(config.check_files(args.files, config.SCHEMA)), Path(args.directory)
    )
    counts = {state: 0 for state in ("up-to-date", "stale", "unreadable", "missing")}
    for finding in findings:
        counts[finding.state] += 1
        if finding.state in ("stale", "unreadable"):
            print(f"{finding.state}: {finding.path}: {finding.detail}")
    print(
        f"check-results: {counts['up-to-date']} of {len(findings)} files up to date with "
        f"{', '.join(args.files)}; {counts['stale']} stale, {counts['unreadable']} unreadable, "
        f"{counts['missing']} not made yet"
    )
    if counts["stale"] or counts["unreadable"]:
        raise ResultsError(
            "results do not match the config: `snakemake --cores all` reruns what they came from "
            "(a file read as unreadable: add --forcerun FILE)"
        )


class ResultsError(RuntimeError):
    """Results on disk that the config in force would not make."""


def cmd_describe(args: argparse.Namespace) -> None:
    """Print what a Parquet file of the pipeline holds: its table kind, rows, every column's type,
    unit and meaning, and its provenance."""
    import pyarrow.parquet as pq

    from . import storage

    try:
        schema, rows = pq.read_schema(args.file), pq.ParquetFile(args.file).metadata.num_rows
    except Exception as err:  # pyarrow raises several kinds for a file that is not Parquet
        raise ValueError(f"{args.file}: not a readable Parquet file ({err})") from err
    kinds = [k for k, s in storage.SCHEMAS.items() if schema.names[: len(s.names)] == s.names]
    print(f"{args.file}: {'/'.join(kinds) or 'unknown'} table, {rows} rows")
    for field in schema:
        doc = (field.metadata or {}).get(b"description", b"").decode() or storage.COLUMN_DOCS.get(
            field.name, ""
        )
        print(f"  {field.name:20s} {str(field.type):28s} {doc}")
    print(json.dumps(storage.metadata(args.file), indent=2, ensure_ascii=False))


# --- the stage contract (glassynets.jobs) ---------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """A workflow stage: its function and the names of its inputs and outputs ("name?": optional,
    "name*": any number of files, in order)."""

    target: str  # "module:function", the function taking a glassynets.jobs.Job
    help: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


#: Every workflow stage; each reads its settings from --settings and its files from --in/--out.
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


def _pairs(option: str, items: list[str] | None) -> dict[str, list[str]]:
    """NAME=PATH items of a repeated option, by name, in the order given."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{option} {item!r}: expected NAME=PATH, e.g. {option} train=PATH")
        out.setdefault(name, []).append(path)
    return out


def _check_names(stage: str, option: str, given: dict[str, list[str]], declared) -> None:
    """Every name given is declared, and every required name is given once (many: "name*")."""
    names = {d.rstrip("?*"): d[-1] if d[-1] in "?*" else "" for d in declared}
    for name, paths in given.items():
        if name not in names:
            raise ValueError(
                f"{stage}: unknown {option} {name}=...; it takes {', '.join(names) or 'none'}"
            )
        if len(paths) > 1 and names[name] != "*":
            raise ValueError(f"{stage}: {option} {name}=... given {len(paths)} times, once wanted")
    for name, kind in names.items():
        if kind == "" and name not in given:
            raise ValueError(f"{stage}: {option} {name}=PATH is required")


def run_stage(args: argparse.Namespace) -> None:
    """Build the job of a stage from its command line and run the stage's function."""
    import importlib

    from .jobs import Job

    stage = STAGES[args.command]
    inputs, outputs = _pairs("--in", args.inputs), _pairs("--out", args.outputs)
    _check_names(args.command, "--in", inputs, stage.inputs)
    _check_names(args.command, "--out", outputs, stage.outputs)
    module, _, function = stage.target.partition(":")
    settings = _json_object("--settings", args.settings)
    job = Job(
        settings=settings,
        cell=settings.pop("cell", {}),
        inputs=inputs,
        outputs={name: paths[0] for name, paths in outputs.items()},
        lineage=args.lineage,
        threads=args.threads,
        checkpoint=args.checkpoint,
        checkpoint_every_s=args.checkpoint_every_s,
    )
    with _holding(job.checkpoint):  # from before the inputs are read until the checkpoint is gone
        getattr(importlib.import_module(f"glassynets.{module}"), function)(job)


def _add_stages(sub) -> None:
    for name, stage in STAGES.items():
        p = sub.add_parser(name, help=stage.help, description=stage.help)
        p.add_argument("--settings", required=True, help="the job's settings, a JSON object")
        p.add_argument(
            "--in",
            dest="inputs",
            action="append",
            metavar="NAME=PATH",
            help=f"an input file; names: {', '.join(stage.inputs) or 'none'}",
        )
        p.add_argument(
            "--out",
            dest="outputs",
            action="append",
            metavar="NAME=PATH",
            help=f"an output file; names: {', '.join(stage.outputs) or 'none'}",
        )
        p.add_argument("--threads", type=int, default=1, help="torch threads")
        p.add_argument("--checkpoint", help="resume file (kept only while the job is unfinished)")
        p.add_argument("--checkpoint-every-s", type=float, default=600.0)
        p.set_defaults(func=run_stage)


# --- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from .figures import FIGURES

    parser = argparse.ArgumentParser(prog="glassynets", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--log",
        help="write all output to this file; an error's one line goes to the console as well",
    )
    parser.add_argument(
        "--stop-with-parent",
        type=int,
        metavar="PID",
        help="stop once process PID (the snakemake that started this job: $PPID) is no longer "
        "this one's parent",
    )
    parser.add_argument(
        "--lineage", help="identity of the outputs (glassynets.lineage), stored in each of them"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_stages(sub)

    p = sub.add_parser("ljat19-calibrate", help=cmd_ljat19_calibrate.__doc__)
    p.add_argument("--arch", nargs="+", help="metrics tables of the 1-, 2-, 3-layer ljat_arch nets")
    p.add_argument("--chain", nargs="*", help="metrics tables of h1, h1-1, h1-1-1 (ljat_chain)")
    p.add_argument("--limits", help="ljat19-limits JSON (Bayes ceiling, entropy floor)")
    p.add_argument("--mu-summary", nargs="*", help="mu_summary tables of the ljat_arch cells")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_ljat19_calibrate)

    p = sub.add_parser("train", help=cmd_train.__doc__)
    p.add_argument(
        "--settings", required=True, help="JSON: the job's settings (glassynets.settings.train)"
    )
    p.add_argument("--train", required=True, help="training table")
    p.add_argument("--test", required=True, help="test table")
    p.add_argument(
        "--n-train", type=int, required=True, help="N: the first N rows of the training table"
    )
    p.add_argument("--arch", required=True, help="hidden layers, e.g. h5-5")
    p.add_argument("--seeds", required=True, help="inclusive range, e.g. 0-49")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument(
        "--checkpoint", help="resume file (not a workflow output); deleted after success"
    )
    p.add_argument("--checkpoint-every-s", type=float, required=True)
    p.add_argument("--out-snapshots", required=True)
    p.add_argument("--out-metrics", required=True)
    p.add_argument("--out-two-time", required=True)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("analyse", help=cmd_analyse.__doc__.splitlines()[0])
    p.add_argument("tables", nargs="+", help="two_time tables (RUN.parquet ...), one ensemble")
    p.add_argument("--out", required=True, help="folder for the tables, summary and figure")
    p.add_argument("--delta-star", type=float, help="Δ* defining t* (parameter²; default: schema)")
    p.add_argument("--fit-tw", type=float, nargs=2, metavar=("MIN", "MAX"), help="t_w (steps)")
    p.add_argument("--min-fit-points", type=int)
    p.add_argument("--min-fit-decades", type=float)
    p.add_argument("--fit-window", choices=["asymptotic", "fixed"])
    p.add_argument("--n-boot", type=int, help="bootstrap replicates over runs")
    p.add_argument("--plot-tw", type=float, nargs="+", help="t_w (steps) drawn in the Δ panel")
    p.add_argument("--delta-star-scan", type=float, nargs=2, metavar=("MIN", "MAX"))
    p.add_argument("--label", help="the model's name in the figure (default: the tables' arch)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="any other key of the schema's analysis section (YAML value), e.g. max_residual_dex=0.08",
    )
    p.set_defaults(func=cmd_analyse)

    p = sub.add_parser("figure", help=cmd_figure.__doc__)
    p.add_argument("name", choices=FIGURES, help="a figure of the registry (glassynets.figures)")
    p.add_argument("--cells", nargs="*", default=[], help="network cell table folders")
    p.add_argument("--glass-cells", nargs="*", default=[], help="p-spin cell table folders")
    p.add_argument(
        "--plot-tw", type=float, nargs="+", required=True, help="t_w (steps) drawn for networks"
    )
    p.add_argument(
        "--glass-plot-tw",
        type=float,
        nargs="*",
        default=[],
        help="t_w (time units) drawn for p-spin cells",
    )
    p.add_argument(
        "--underparametrized-accuracy",
        type=float,
        required=True,
        help="a cell is underparametrized when its final train accuracy is below this",
    )
    p.add_argument(
        "--limits",
        help="LJAT19 limits JSON: entropy floor and Bayes ceiling drawn as reference lines",
    )
    p.add_argument(
        "--sweeps",
        type=_json_option("--sweeps"),
        default={"members": {}},
        help="JSON: the sweeps drawn (members: experiment -> axis, family, variant; temperature_after)",
    )
    p.add_argument("--out", required=True, help="PDF path; a PNG is written beside it")
    p.set_defaults(func=cmd_figure)

    p = sub.add_parser("scorecard", help=cmd_scorecard.__doc__)
    p.add_argument("--limits", help="LJAT19 limits JSON (when LJAT19 cells are scored)")
    p.add_argument(
        "--cells", nargs="*", default=[], help="EXPERIMENT=FOLDER for every network cell"
    )
    p.add_argument("--glass-cells", nargs="*", default=[], help="table folders of p-spin cells")
    p.add_argument(
        "--sweeps",
        type=_json_option("--sweeps"),
        default={"members": {}},
        help="JSON: the sweeps scored (members: experiment -> axis, family, variant; temperature_after)",
    )
    p.add_argument(
        "--tti-mu",
        type=float,
        required=True,
        help="t* grows with t_w when μ's 95%% interval is above this, not when it is below",
    )
    p.add_argument("--loss-within", type=float, required=True)
    p.add_argument("--grad-rms-after", type=float, required=True)
    p.add_argument(
        "--underparametrized",
        type=float,
        nargs=2,
        required=True,
        metavar=("ALPHA_MAX", "ACCURACY_MAX"),
        help="criterion of the underparametrized phase: α <= ALPHA_MAX and train accuracy < ACCURACY_MAX",
    )
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-csv", required=True)
    p.set_defaults(func=cmd_scorecard)

    p = sub.add_parser("check-config", help=cmd_check_config.__doc__.splitlines()[0])
    p.add_argument(
        "files", nargs="+", help="config.yaml, then any --configfile files in the order given"
    )
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("check-results", help=cmd_check_results.__doc__.splitlines()[0])
    p.add_argument(
        "files",
        nargs="*",
        default=["config.yaml"],
        help="config.yaml, then any --configfile files in the order given (default: config.yaml)",
    )
    p.add_argument(
        "--directory", default=".", help="the workflow's working directory (snakemake --directory)"
    )
    p.set_defaults(func=cmd_check_results)

    p = sub.add_parser("describe", help=cmd_describe.__doc__.splitlines()[0])
    p.add_argument("file", help="a Parquet file written by the pipeline")
    p.set_defaults(func=cmd_describe)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = _redirect_output(args.log) if args.log else sys.stderr
    # SIGTERM (Snakemake stopping its jobs, scancel, _stop_with_parent) unwinds like an error, so that
    # locks and temporary files are cleaned up; checkpoints are written atomically.
    signal.signal(signal.SIGTERM, _terminated)
    if args.stop_with_parent is not None:
        _stop_with_parent(args.stop_with_parent)
    try:
        args.func(args)
    except (
        ValueError,
        RuntimeError,
        OSError,
    ) as err:  # OSError: disk full, read-only, missing folder (names the path)
        _report(f"glassynets {args.command}: error: {err}", console, args.log)
        return 1
    except Exception as err:  # a bug: its traceback goes to the log, one line to the console
        where = f"; traceback in {args.log}" if args.log else ""
        _report(f"glassynets {args.command}: {type(err).__name__}: {err}{where}", console, args.log)
        raise
    return 0


def _redirect_output(log: str):
    """Send everything this process writes (Python's and libraries' stdout and stderr) to ``log``;
    returns the console's stderr, for the one line an error leaves there."""
    console = os.fdopen(os.dup(2), "w")
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return console


def _report(line: str, console, log: str | None) -> None:
    """An error's line in the log and, under the workflow, on the console too."""
    print(line, file=sys.stderr, flush=True)
    if log:
        print(f"{line} (log: {log})", file=console, flush=True)


def _terminated(signum: int, frame) -> None:
    _log("stopped by SIGTERM")
    sys.exit(128 + signum)


#: Seconds between two looks at whether the process that started this one is still there.
PARENT_POLL_S = 2.0


def _stop_with_parent(parent: int) -> None:
    """Stop this process (SIGTERM) once ``parent`` is no longer its parent: a job left behind by a
    killed snakemake would otherwise go on writing its checkpoint and log beside the next run's.
    (The PID comes from the shell that exec'd this process, so a parent that died even before
    this process started is noticed too.)"""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        _log(f"the process that started this job (PID {parent}) has gone: stopping")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
