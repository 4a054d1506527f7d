"""Where the workflow keeps every file: the one definition of each path template.

The rules (workflow/rules/*.smk) use these templates as they are, their ``{...}`` being Snakemake
wildcards; :mod:`glassynets.targets` and :mod:`glassynets.lineage` fill them in (``str.format``).
A template names a folder where a job writes several tables into it (``<folder>/<table>.parquet``).
"""

from __future__ import annotations

# --- data: LJAT19 (regenerated or published) and the image data sets
LJAT19_PUBLISHED = "resources/ljat19/published/{split}.verified"  # a published file, verified
LJAT19_TRAIN = "resources/ljat19/train_N{n}.parquet"  # training sets: prefixes of one stream
LJAT19_TEST = "resources/ljat19/test.parquet"
LJAT19_LIMITS_SAMPLE = "resources/ljat19/limits_sample.parquet"  # for the Bayes limits
LJAT19_LIMITS = "results/tables/ljat19_limits.json"
IMAGES_RAW = "resources/{image_set}/raw/{image_file}"  # an official .gz file, verified
IMAGES_SPLIT = "resources/{image_set}/{image_split}.parquet"  # train or t10k, converted
IMAGES_TRAIN = "resources/{image_set}/train_N{n}.parquet"  # a training subset

# --- networks: one training job per seed block, one table folder per (N, architecture) cell
RUN_BLOCK = "results/runs/{experiment}/N{n}/{arch}/seeds{first}-{last}"  # folder
CHECKPOINT = "results/checkpoints/{experiment}/N{n}/{arch}/seeds{first}-{last}.pt"  # not an output
CELL = "results/tables/{experiment}/N{n}/{arch}"  # folder

# --- the p-spin glass: simulated cells, and the exact CK curves (size: inf or an N)
PSPIN_RUN = "results/runs/pspin/N{n}/T{temperature}"  # folder
PSPIN_CELL = "results/tables/pspin/N{n}/T{temperature}"  # folder
PSPIN_CHECKPOINT = "results/checkpoints/pspin/N{n}/T{temperature}"  # folder; not an output
CK_RUN = "results/runs/pspin_ck/N{size}/T{temperature}"  # folder
CK_CELL = "results/tables/pspin_ck/N{size}/T{temperature}"  # folder

# --- reports: figures (the papers' data sets; one data set's own versions) and scorecards
FIGURE = "results/figures/{name}"  # .pdf and .png
DATASET_FIGURE = "results/figures/{dataset}/{name}"  # .pdf and .png
SCORECARD = "results/scorecard{suffix}"  # .md and .csv; suffix: "" or "_<dataset>"


def table(folder: str, name: str) -> str:
    """The Parquet table ``name`` in a folder template or path."""
    return f"{folder}/{name}.parquet"


def tables(folder: str, names) -> list[str]:
    """The Parquet tables ``names`` in a folder template or path."""
    return [table(folder, name) for name in names]


def runs_of(cell: str) -> str:
    """The run folder of a p-spin or CK cell's table folder (results/tables/... -> results/runs/...)."""
    return cell.replace("results/tables/", "results/runs/", 1)
