# Validation, wildcard constraints and short input functions. What the workflow builds (cells,
# figures, targets) lives in glassynets.targets, resource models in glassynets.costs, and the
# settings each job receives in glassynets.settings: all pure functions of the config, unit-tested.

import re
import sys

from glassynets import config as config_checks
from glassynets import images, jobs, paths, settings
from glassynets.cells import CK_TABLES, METRICS_TABLES, TABLES
from glassynets.costs import Costs, ljat19_runtime_min, table_mem_mb, table_runtime_min
from glassynets.lineage import Lineage, misplaced_folders, unreadable
from glassynets.targets import Targets

try:
    config = config_checks.validate(config, workflow.source_path("../schemas/config.schema.yaml"))
except config_checks.ConfigError as err:
    sys.exit(f"config error: {err}")

TARGETS = Targets(config)
LINEAGE = Lineage(config)
COSTS = Costs(config)
LJAT = config["ljat19"]
PUBLISHED = LJAT["source"] == "published"
PSPIN = config["pspin"]


wildcard_constraints:
    experiment=r"[A-Za-z][A-Za-z0-9_]*",
    n=r"\d+",
    arch=r"h\d+(-\d+)*",
    first=r"\d+",
    last=r"\d+",
    image_set="|".join(images.IMAGE_SETS),
    image_split="|".join(images.SPLIT_SIZES),
    image_file="|".join(re.escape(name) for name in images.FILES.values()),
    temperature=r"\d+(\.\d+)?",


# Files on disk that would mislead Snakemake, checked before anything runs (see inputs_readable).
if workflow.is_main_process:
    problems = misplaced_folders(LINEAGE)
    if problems:
        sys.exit(
            "\n".join(f"results error: {p}" for p in problems) + "\nNothing was run or deleted."
        )
    for problem in unreadable(LINEAGE.ids):
        print(f"results warning: {problem}", file=sys.stderr)


# Every rule's command starts "exec glassynets --log {log} --stop-with-parent $PPID --lineage
# {params.lineage}": no shell left between Snakemake and Python, output to the job's log with an
# error's one line on the console, stopped with a killed snakemake, and the identity of its outputs
# stored in them (docs/provenance.md).


# --- input functions


def train_inputs(wildcards):
    return TARGETS.data_files(wildcards.experiment, wildcards.n)


def block_files(kind):
    """Input function: files ``kind`` of every seed block of the wildcards' cell."""
    return lambda w: TARGETS.block_files(w.experiment, w.n, w.arch, kind)


def hessian_inputs(wildcards):
    return {"snapshots": block_files("snapshots")(wildcards), **train_inputs(wildcards)}


def image_train_split(wildcards):
    split = config[wildcards.image_set]["train_split"]
    return paths.IMAGES_SPLIT.format(image_set=wildcards.image_set, image_split=split)


def published_file(split):
    """The verified copy of a published LJAT19 file, when the config asks for them."""
    return [paths.LJAT19_PUBLISHED.format(split=split)] if PUBLISHED else []


# --- settings and options handed to jobs (tracked by Snakemake as params)


def lineage(output):
    """Params: the identity of the job's file ``output`` (a template of its wildcards), which
    changes with any setting upstream (glassynets.lineage), so that a changed setting reruns the
    jobs it affects even when the files between are gone."""
    return lambda wildcards: LINEAGE.of(output.format(**dict(wildcards.items())))


def train_settings(wildcards):
    cell = dict(
        n_train=int(wildcards.n),
        arch=wildcards.arch,
        seeds=[int(wildcards.first), int(wildcards.last)],
    )
    return settings.as_json(
        settings.with_cell(settings.train(config, wildcards.experiment), **cell)
    )


def aging_settings(wildcards):
    analysis = config["experiments"][wildcards.experiment]["analysis"]
    return settings.as_json(settings.aging(analysis))


def hessian_settings(wildcards):
    return settings.as_json(settings.hessian(config, wildcards.experiment))


def pspin_settings(wildcards):
    cell = {"n": int(wildcards.n), "temperature": float(wildcards.temperature)}
    return settings.as_json(settings.with_cell(settings.pspin(config), **cell))


def ck_settings(wildcards):
    size = wildcards.size  # "inf" (n = ∞) or the N the solution is mapped to
    cell = {"n": size if size == "inf" else int(size), "temperature": float(wildcards.temperature)}
    return settings.as_json(settings.with_cell(settings.ck(config), **cell))


def in_options(*names):
    """Params: the job's inputs ``names`` as stage options (--in NAME=PATH for each file)."""
    return lambda wildcards, input: jobs.in_options({name: getattr(input, name) for name in names})


def ljat19_settings(split, seed, n=None):
    """Params: an LJAT19 table job's settings (n None: the wildcard N)."""
    return lambda w: settings.as_json(
        settings.ljat19_dataset(config, split, seed, int(w.n) if n is None else n)
    )


def published_input(split):
    """The verified published LJAT19 file as a job's input option, when the config uses them."""
    return jobs.in_options({"published": published_file(split)})


def inputs_readable(jobs):
    """onstart: stop before any job starts (and before Snakemake deletes any output) if a job would
    read a file that is unreadable and not rebuilt first."""
    jobs = list(jobs)
    rebuilt = {f for job in jobs for f in job.output}
    problems = unreadable(sorted({f for job in jobs for f in job.input} - rebuilt))
    if problems:
        sys.exit(
            "\n".join(f"results error: {p}" for p in problems) + "\nNothing was run or deleted."
        )


def completion_message():
    return (
        "\nDone. Figures in results/figures/ (one data set's versions in results/figures/<dataset>/), "
        "scorecards in results/scorecard*.md."
    )
