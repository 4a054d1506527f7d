import math
import sys
from pathlib import Path

from glassynets import config as config_checks
from glassynets.cells import seed_blocks
from glassynets.nets import Architecture
from glassynets.schedule import log_steps

try:
    config = config_checks.validate(
        config, workflow.source_path("../schemas/config.schema.yaml")
    )
except config_checks.ConfigError as err:
    sys.exit(f"config error: {err}")


wildcard_constraints:
    experiment=r"[A-Za-z][A-Za-z0-9_]*",
    n=r"\d+",
    arch=r"h\d+(-\d+)*",
    first=r"\d+",
    last=r"\d+",


# Figures of the paper: which experiment each one draws, and its report caption.
FIGURE_EXPERIMENTS = {
    "fig1": "ljat_arch",
    "fig2": "ljat_arch",
    "fig3": "ljat_chain",
    "figA3": "ljat_arch",
}
N_CLASSES = {"ljat19": 4}
N_FEATURES = {"ljat19": len(config["ljat19"]["features"])}


def experiment(name):
    return config["experiments"][name]


def cell_dirs(name):
    """Table folders of every (N, architecture) cell of an experiment."""
    exp = experiment(name)
    return [
        f"results/tables/{name}/N{n}/{arch}"
        for n in exp["n_train"]
        for arch in exp["architectures"]
    ]


def figure_cells(name):
    """Cells a figure draws: its experiment's first N, every architecture."""
    exp = experiment(FIGURE_EXPERIMENTS[name])
    return [
        f"results/tables/{FIGURE_EXPERIMENTS[name]}/N{exp['n_train'][0]}/{arch}"
        for arch in exp["architectures"]
    ]


def cell_table_files(dirs):
    return [
        f"{d}/{table}.parquet"
        for d in dirs
        for table in ("metrics", "msd", "tstar", "mu")
    ]


def figures():
    """Paper figures whose experiment is configured."""
    return [
        name for name, exp in FIGURE_EXPERIMENTS.items() if exp in config["experiments"]
    ]


def ljat19_targets():
    return [
        f"results/figures/{name}.{ext}" for name in figures() for ext in ("pdf", "png")
    ] + ["results/scorecard.md", "results/scorecard.csv"]


def all_targets():
    return ljat19_targets()


def block_files(wildcards, kind):
    """Snapshot or metrics files of every seed block of one cell."""
    exp = experiment(wildcards.experiment)
    return [
        f"results/runs/{wildcards.experiment}/N{wildcards.n}/{wildcards.arch}/seeds{lo}-{hi}/{kind}.parquet"
        for lo, hi in seed_blocks(exp["seeds"], exp["seeds_per_job"])
    ]


def block_snapshots(wildcards):
    return block_files(wildcards, "snapshots")


def block_metrics(wildcards):
    return block_files(wildcards, "metrics")


def train_job(wildcards):
    """Sizes of one training job: architecture, networks, steps, snapshots."""
    exp = experiment(wildcards.experiment)
    arch = Architecture.from_name(
        wildcards.arch, N_FEATURES[exp["dataset"]], N_CLASSES[exp["dataset"]]
    )
    n_nets = int(wildcards.last) - int(wildcards.first) + 1
    n_snapshots = len(log_steps(exp["steps"], config["snapshots_per_decade"]))
    return exp, arch, n_nets, n_snapshots


def train_mem_mb(wildcards):
    """Snapshots [S, E, P] held in memory, twice for the Parquet write, plus torch's baseline."""
    _, arch, n_nets, n_snapshots = train_job(wildcards)
    bytes_per = 8 if config["dtype"] == "float64" else 4
    return 1000 + math.ceil(
        3 * n_snapshots * n_nets * arch.n_params * bytes_per / 2**20
    )


def train_runtime_min(wildcards):
    """Wall-clock limit: ~6·P·B flop per network-step at a conservative 5 GFLOP/s, ×3 for safety."""
    exp, arch, n_nets, _ = train_job(wildcards)
    seconds = n_nets * exp["steps"] * 6 * arch.n_params * exp["batch_size"] / 5e9
    return 5 + math.ceil(3 * seconds / 60)


def completion_message():
    lines = [
        "",
        "Done. Figures in results/figures/, scorecard in results/scorecard.md.",
    ]
    return "\n".join(lines)


LJAT = config["ljat19"]


PUBLISHED = LJAT["source"] == "published"


def published_file(split):
    """The verified copy of a published LJAT19 file, when the config asks for them."""
    return [f"resources/ljat19/published/{split}.verified"] if PUBLISHED else []


def dataset_source(split, seed):
    """CLI options saying where an LJAT19 table comes from: a published file, or the generator."""
    if PUBLISHED:
        return f"--from-file resources/ljat19/published/{split}.verified"
    return f"--seed {seed} --low {LJAT['start_low']} --high {LJAT['start_high']}"


def published_source(wildcards):
    return LJAT["published"][wildcards.split]


def published_sha256(wildcards):
    return LJAT["published"][f"{wildcards.split}_sha256"]


def train_inputs(wildcards):
    return {
        "train": f"resources/ljat19/train_N{wildcards.n}.parquet",
        "test": "resources/ljat19/test.parquet",
    }


def train_options(wildcards):
    """Every hyperparameter of a training job as CLI options (Snakemake tracks the shell text)."""
    exp = experiment(wildcards.experiment)
    return (
        f"--features {' '.join(config['ljat19']['features'])} --n-out {N_CLASSES[exp['dataset']]} "
        f"--activation {exp['activation']} --lr {exp['lr']} --batch-size {exp['batch_size']} "
        f"--weight-decay {exp['weight_decay']} --steps {exp['steps']} "
        f"--snapshots-per-decade {config['snapshots_per_decade']} --metrics-per-decade {config['metrics_per_decade']} "
        f"--dtype {config['dtype']} --data-order {config['data_order']}"
    )


def aging_options(wildcards):
    analysis = experiment(wildcards.experiment)["analysis"]
    return (
        f"--delta-star {analysis['delta_star']} --fit-tw {analysis['fit_tw'][0]} {analysis['fit_tw'][1]} "
        f"--delta-star-scan {analysis['delta_star_scan'][0]} {analysis['delta_star_scan'][1]} "
        f"--scan-points {analysis['scan_points']} --n-boot {analysis['n_boot']}"
    )


def scorecard_cells():
    return " ".join(
        f"{name}={d}" for name in config["experiments"] for d in cell_dirs(name)
    )


def scorecard_inputs(wildcards):
    dirs = [d for name in config["experiments"] for d in cell_dirs(name)]
    return ["results/tables/ljat19_limits.json"] + cell_table_files(dirs)
