import math
import re
import sys
from pathlib import Path

from glassynets import config as config_checks
from glassynets import images, two_time
from glassynets.cells import GLASS_TABLES, HESSIAN_TABLES, METRICS_TABLES, TABLES, seed_blocks
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
    image_set="|".join(images.IMAGE_SETS),
    image_split="|".join(images.SPLIT_SIZES),
    image_file="|".join(re.escape(name) for name in images.FILES.values()),
    temperature=r"\d+(\.\d+)?",


# Figures: the experiments each one draws, those configured (captions:
# workflow/report/<figure>.rst). A figure is drawn when at least one of them is configured.
FIGURE_EXPERIMENTS = {
    "fig1": ["ljat_arch"],
    "fig2": ["ljat_arch"],
    "fig3": ["ljat_chain"],
    "figA3": ["ljat_arch"],
    "fig4": ["mnist_arch", "fashion_arch"],
    "fig5": ["mnist_arch", "fashion_arch"],
    "fig6": ["mnist_alpha", "fashion_alpha"],
    "fig7": ["ljat_arch", "mnist_arch"],
    "figA1": ["ljat_arch", "mnist_arch"],
    "figA2": ["ljat_sizes"],
    "figB1": ["ljat_transition", "mnist_transition"],
    "figB2": ["ljat_transition", "mnist_transition", "mnist_toy"],
    "figB3": ["ljat_transition", "mnist_toy"],
    "figB4": ["ljat_arch"],
}
# Figures that draw every (N, architecture) cell of their experiments; the others draw the first N.
ALL_CELL_FIGURES = {"fig6", "figA2", "figB1", "figB2", "figB3"}
# Figures of Hessian spectra (their experiments need a `hessian` section), and the figures that
# draw only the 2-hidden-layer network of each experiment.
HESSIAN_FIGURES = {"fig7", "figA1", "figA2"}
TWO_LAYER_FIGURES = {"fig7", "figA1", "figB4"}
# Figures that also draw the p-spin glass cells (and need them).
GLASS_FIGURES = {"figB4"}
# Figures of loss and accuracy that draw the LJAT19 entropy floor and Bayes ceiling.
LIMITS_FIGURES = {"fig1", "fig3"}
LIMITS_FILE = "results/tables/ljat19_limits.json"
# The papers' data sets: results/figures/<name> draws these; the others (Fashion-MNIST) get their
# own results/figures/<dataset>/<name>.
PAPER_DATASETS = ("ljat19", "mnist")
N_CLASSES = {"ljat19": 4, **{name: 10 for name in images.IMAGE_SETS}}
N_FEATURES = {"ljat19": len(config["ljat19"]["features"]), **{name: images.PIXELS for name in images.IMAGE_SETS}}
DATASETS = sorted({exp["dataset"] for exp in config["experiments"].values()})
PSPIN = config["pspin"]


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


def glass_dirs():
    """Table folders of every (N, T) cell of the p-spin glass (none without a `pspin` section)."""
    if PSPIN is None:
        return []
    return [f"results/tables/pspin/N{n}/T{t:g}" for n in PSPIN["n"] for t in PSPIN["temperatures"]]


def figure_experiments(name, dataset=None):
    """The configured experiments a figure draws (with a `hessian` section for Hessian figures):
    of one data set if given, else those of the papers' data sets."""
    return [
        exp
        for exp in FIGURE_EXPERIMENTS[name]
        if exp in config["experiments"]
        and (name not in HESSIAN_FIGURES or experiment(exp).get("hessian") is not None)
        and experiment(exp)["dataset"] in ((dataset,) if dataset else PAPER_DATASETS)
    ]


def figure_datasets(name, dataset=None):
    """Data sets of the experiments a figure draws (every configured one if dataset is "all")."""
    if dataset == "all":
        return sorted({experiment(e)["dataset"] for e in FIGURE_EXPERIMENTS[name] if e in config["experiments"]})
    return sorted({experiment(e)["dataset"] for e in figure_experiments(name, dataset)})


def figure_cells(name, dataset=None):
    """Network cells a figure draws: every architecture at each experiment's first N (at every N
    for ALL_CELL_FIGURES; the 2-hidden-layer architectures for TWO_LAYER_FIGURES)."""
    cells = []
    for exp_name in figure_experiments(name, dataset):
        first_n = experiment(exp_name)["n_train"][0]
        candidates = hessian_cells(exp_name) if name in HESSIAN_FIGURES else cell_dirs(exp_name)
        cells += [
            d
            for d in candidates
            if (name in ALL_CELL_FIGURES or f"/N{first_n}/" in d)
            and (name not in TWO_LAYER_FIGURES or Path(d).name.count("-") == 1)
        ]
    return cells


def figure_glass_cells(name):
    return glass_dirs() if name in GLASS_FIGURES else []


def drawable(name, dataset=None):
    """A figure is drawn when it has network cells (and glass cells, if it draws the glass)."""
    return bool(figure_cells(name, dataset)) and (name not in GLASS_FIGURES or bool(glass_dirs()))


def figure_variants():
    """(figure, data set) of every figure rule: (name, None) draws its configured experiments of
    the papers' data sets into results/figures/<name>; (name, dataset) draws one data set's
    experiments into results/figures/<dataset>/<name>, for every data set the main figure does
    not draw alone (the LJAT19 half of a mixed figure, Fashion-MNIST's version of Fig 6)."""
    variants = [(name, None) for name in FIGURE_EXPERIMENTS if drawable(name)]
    for name in FIGURE_EXPERIMENTS:
        variants += [
            (name, d)
            for d in figure_datasets(name, "all")
            if figure_datasets(name) != [d] and drawable(name, d)
        ]
    return variants


def figure_path(name, dataset=None):
    return f"results/figures/{name}" if dataset is None else f"results/figures/{dataset}/{name}"


def figure_limits(name, dataset=None):
    """The LJAT19 limits file a figure draws, if any."""
    if name in LIMITS_FIGURES and "ljat19" in [experiment(e)["dataset"] for e in figure_experiments(name, dataset)]:
        return [LIMITS_FILE]
    return []


def figure_inputs(name, dataset=None):
    files = cell_table_files(figure_cells(name, dataset)) + glass_table_files(figure_glass_cells(name))
    files += figure_limits(name, dataset)
    if name in HESSIAN_FIGURES:
        files += [f"{d}/{t}.parquet" for d in figure_cells(name, dataset) for t in HESSIAN_TABLES]
    return files


def cell_table_files(dirs):
    return [f"{d}/{table}.parquet" for d in dirs for table in (*TABLES, *METRICS_TABLES)]


def glass_table_files(dirs):
    return [f"{d}/{table}.parquet" for d in dirs for table in (*TABLES, *GLASS_TABLES)]


def figure_params(name, dataset=None):
    """The figure command's options: its cells, the t_w drawn and the accuracy criterion."""
    first = experiment(figure_experiments(name, dataset)[0])
    options = (
        f"--cells {' '.join(figure_cells(name, dataset))} "
        f"--plot-tw {' '.join(str(t) for t in first['analysis']['plot_tw'])} "
        f"--underparametrized-accuracy {config['scorecard']['underparametrized_accuracy']}"
        + "".join(f" --limits {f}" for f in figure_limits(name, dataset))
    )
    if figure_glass_cells(name):
        options += (
            f" --glass-cells {' '.join(figure_glass_cells(name))} "
            f"--glass-plot-tw {' '.join(str(t) for t in PSPIN['analysis']['plot_tw'])}"
        )
    return options


def figures(dataset=None):
    """Figure files (without extension) of the default target (the papers' figures and every
    other data set's own), or of one data set's target (its figures, and its versions of the
    mixed ones)."""
    return [
        figure_path(name, variant)
        for name, variant in figure_variants()
        if dataset is None and variant not in PAPER_DATASETS
        or dataset is not None
        and (variant == dataset or variant is None and figure_datasets(name) == [dataset])
    ]


def scorecard_name(dataset=None):
    """results/scorecard.md covers every experiment; results/scorecard_<dataset>.md one data set."""
    return "results/scorecard" + (f"_{dataset}" if dataset else "")


def targets(dataset=None):
    """Figures (PDF and PNG) and scorecards: of one data set, or of everything (the combined
    scorecard and each data set's)."""
    if dataset is not None and dataset not in DATASETS:
        return []
    scopes = [dataset] if dataset else [None, *DATASETS]
    return [f"{path}.{ext}" for path in figures(dataset) for ext in ("pdf", "png")] + [
        f"{scorecard_name(scope)}.{ext}" for scope in scopes for ext in ("md", "csv")
    ]


def block_files(wildcards, kind):
    """Snapshot or metrics files of every seed block of one cell."""
    exp = experiment(wildcards.experiment)
    return [
        f"results/runs/{wildcards.experiment}/N{wildcards.n}/{wildcards.arch}/seeds{lo}-{hi}/{kind}.parquet"
        for lo, hi in seed_blocks(exp["seeds"], exp["seeds_per_job"])
    ]


def block_snapshots(wildcards):
    return block_files(wildcards, "snapshots")


def block_two_time(wildcards):
    return block_files(wildcards, "two_time")


def block_metrics(wildcards):
    return block_files(wildcards, "metrics")


def per_decade(exp, kind):
    """Snapshots (kind "snapshots"), metric points ("metrics"), waiting times ("waiting_times") or
    lags ("lags") per decade of steps of an experiment: its own value, else the top-level one."""
    return exp.get(f"{kind}_per_decade", config[f"{kind}_per_decade"])


def two_time_options(settings, defaults):
    """The grid of the online two-time observables as CLI options."""
    eps = settings.get("overlap_eps", defaults["overlap_eps"])
    return (
        f"--waiting-times-per-decade {settings.get('waiting_times_per_decade', defaults['waiting_times_per_decade'])} "
        f"--lags-per-decade {settings.get('lags_per_decade', defaults['lags_per_decade'])} "
        f"--overlap-eps {' '.join(f'{e:g}' for e in eps)}"
    )


def experiment_device(exp):
    return exp.get("device", config["device"])


def train_gpus(wildcards):
    """1 when the experiment trains on cuda or auto: a cluster job then asks for a GPU; 0 for
    every job with GLASSYNETS_GPUS=0 (a cluster without GPUs: auto trains on CPUs). A local run
    ignores it unless given --resources gpu=<n>."""
    from glassynets.cluster import gpus_wanted

    return int(gpus_wanted() and experiment_device(experiment(wildcards.experiment)) in ("cuda", "auto"))


def train_job(wildcards):
    """Sizes of one training job: architecture, networks, steps, snapshots, data points."""
    exp = experiment(wildcards.experiment)
    arch = Architecture.from_name(
        wildcards.arch, N_FEATURES[exp["dataset"]], N_CLASSES[exp["dataset"]]
    )
    n_nets = max(2, int(wildcards.last) - int(wildcards.first) + 1)  # a lone network trains beside a copy
    n_snapshots = len(log_steps(exp["steps"], per_decade(exp, "snapshots")))
    n_test = LJAT["test_size"] if exp["dataset"] == "ljat19" else images.SPLIT_SIZES["t10k"]
    return exp, arch, n_nets, n_snapshots, int(wildcards.n) + n_test


def train_mem_mb(wildcards):
    """Snapshots [S, E, P] held in memory, twice for the Parquet write; θ(t_w) of every waiting
    time [W, E, P] and the two-time results [W, L, E, 2 + K] (float64, twice for the write); the
    data [n, d + 1] with the bias column, in the file's and the trainer's copies; plus torch's
    baseline."""
    exp, arch, n_nets, n_snapshots, n_points = train_job(wildcards)
    bytes_per = 8 if config["dtype"] == "float64" else 4
    W, L, K = two_time_size(exp["steps"], exp, config)
    snapshots = 3 * n_snapshots * n_nets * arch.n_params * bytes_per
    recorder = W * n_nets * arch.n_params * bytes_per + 3 * W * L * n_nets * (2 + K) * 8
    data = 3 * n_points * (arch.n_in + 1) * bytes_per
    return 1000 + math.ceil((snapshots + recorder + data) / 2**20)


# Throughput model of the CPU trainer, fitted to bench/train_throughput.py and full-batch metric
# timings on the 2-core dev machine (one thread): a network-step costs its FLOPs (≈ 4·B·P) at
# 10 GFLOP/s plus 9 µs of per-network overhead (LJAT19 measured 10.6 µs per net-step, MNIST
# [784,5,5,10] 85 µs, [784,17,17,17,10] 132 µs), and a metric point costs ≈ 6·P FLOPs per
# network and data point (train with gradient, test without) at 10 GFLOP/s (measured 21-43).
TRAIN_FLOPS = 10e9
NET_STEP_OVERHEAD_S = 9e-6
RUNTIME_SAFETY = 2


def train_runtime_min(wildcards):
    """Wall-clock limit of a training job from the throughput model above, ×RUNTIME_SAFETY."""
    exp, arch, n_nets, _, n_points = train_job(wildcards)
    per_net_step = 4 * exp["batch_size"] * arch.n_params / TRAIN_FLOPS + NET_STEP_OVERHEAD_S
    n_metrics = len(log_steps(exp["steps"], per_decade(exp, "metrics")))
    per_metric = 6 * arch.n_params * n_points / TRAIN_FLOPS
    seconds = n_nets * (exp["steps"] * per_net_step + n_metrics * per_metric)
    return 5 + math.ceil(RUNTIME_SAFETY * seconds / 60)


def two_time_size(steps, settings, defaults):
    """Waiting times W, lags L and overlaps K of a run's two-time grid."""
    waiting_times, lags = two_time.grid(
        steps,
        settings.get("waiting_times_per_decade", defaults["waiting_times_per_decade"]),
        settings.get("lags_per_decade", defaults["lags_per_decade"]),
    )
    return len(waiting_times), len(lags), len(settings.get("overlap_eps", defaults["overlap_eps"]))


def cell_size(wildcards):
    """Snapshots S, runs E (all seed blocks), parameters P, the two-time grid (W, L, K) and the
    bootstrap replicates of one cell."""
    exp = experiment(wildcards.experiment)
    arch = Architecture.from_name(
        wildcards.arch, N_FEATURES[exp["dataset"]], N_CLASSES[exp["dataset"]]
    )
    n_snapshots = len(log_steps(exp["steps"], per_decade(exp, "snapshots")))
    return (
        n_snapshots,
        exp["seeds"],
        arch.n_params,
        *two_time_size(exp["steps"], exp, config),
        exp["analysis"]["n_boot"],
    )


# Measured on the 2-core dev machine: an aging job spends ≈ 5-10 ms per bootstrap replicate
# (t* of the resampled mean, the regime search, the refit) and ≈ 5 ns per snapshot value in the
# histograms; the constants leave room for slower nodes and the Parquet writes.
AGING_S_PER_REPLICATE = 0.03
AGING_NS_PER_SNAPSHOT_VALUE = 20


def aging_memory_mb(S, E, P, W, L, K, n_boot, bytes_per):
    """The snapshots [S, E, P] (as read, plus the concatenated copy) for the histograms; the
    two-time rows of every run [E, W, L, 2 + K] in float64 (as read, concatenated, made dense);
    the bootstrap's resampled means and their t* [n_boot, W, L]."""
    held = 2 * S * E * P * bytes_per + 4 * E * W * L * (2 + K) * 8 + 3 * n_boot * W * L * 8
    return 1000 + math.ceil(held / 2**20)


def aging_minutes(S, E, P, W, L, K, n_boot):
    seconds = n_boot * AGING_S_PER_REPLICATE + S * E * P * AGING_NS_PER_SNAPSHOT_VALUE * 1e-9
    return 10 + math.ceil(seconds / 60)


def aging_mem_mb(wildcards):
    return aging_memory_mb(*cell_size(wildcards), 8 if config["dtype"] == "float64" else 4)


def aging_runtime_min(wildcards):
    return aging_minutes(*cell_size(wildcards))


def completion_message():
    return "\nDone. Figures in results/figures/ (one data set's versions in results/figures/<dataset>/), " \
        "scorecards in results/scorecard*.md."


LJAT = config["ljat19"]


PUBLISHED = LJAT["source"] == "published"


# Measured: 200,000 LJAT19 gradient-flow minimisations took 72 s on one core.
LJAT19_S_PER_SAMPLE = 0.36e-3


def ljat19_runtime_min(n_samples):
    """Wall-clock limit of generating n LJAT19 samples, ×3 for slower nodes."""
    return 5 + math.ceil(3 * n_samples * LJAT19_S_PER_SAMPLE / 60)


def ljat19_train_runtime_min(wildcards):
    return ljat19_runtime_min(int(wildcards.n))


# Measured on the loaded 2-core dev machine: converting the 10,000 t10k images (7.8 MB of pixels)
# took 9 s and drawing a subset from them 7 s, nearly all of it Python and torch start-up.
TABLE_MB_PER_S = 2


def table_runtime_min(n_rows, row_bytes):
    """Wall-clock limit of a data job over a table of n rows: start-up plus the rows at the
    measured rate, ×3 for slower nodes."""
    return 5 + math.ceil(3 * n_rows * row_bytes / 2**20 / TABLE_MB_PER_S / 60)


def table_mem_mb(n_rows, row_bytes):
    """A data job holding a table of n rows a few times over (file, arrays, copies)."""
    return 1000 + math.ceil(4 * n_rows * row_bytes / 2**20)


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


def image_fetch_options(image_set):
    """Where an image data set's files come from. Deliberately kept out of params: the bytes are
    verified, so changing the folder or the mirrors must not refetch the files and retrain."""
    settings = config[image_set]
    source = f"--source-dir {settings['source_dir']}" if settings["source_dir"] else ""
    mirrors = f"--mirrors {' '.join(settings['mirrors'])}" if settings["mirrors"] is not None else ""
    return f"--dataset {image_set} {source} {mirrors}"


def train_inputs(wildcards):
    dataset = experiment(wildcards.experiment)["dataset"]
    test = "test" if dataset == "ljat19" else "t10k"
    return {"train": f"resources/{dataset}/train_N{wildcards.n}.parquet", "test": f"resources/{dataset}/{test}.parquet"}


def dataset_options(dataset):
    if dataset == "ljat19":
        return f"--features {' '.join(config['ljat19']['features'])}"
    return f"--preprocess {config[dataset]['preprocess']}"


def train_options(wildcards):
    """Every hyperparameter of a training job as CLI options (Snakemake tracks the shell text)."""
    exp = experiment(wildcards.experiment)
    return (
        f"--dataset {exp['dataset']} {dataset_options(exp['dataset'])} --n-out {N_CLASSES[exp['dataset']]} "
        f"--device {experiment_device(exp)} --activation {exp['activation']} --loss {exp['loss']} --output {exp['output']} "
        f"--init {exp['init']} --lr {exp['lr']} --momentum {exp['momentum']} --batch-size {exp['batch_size']} "
        f"--weight-decay {exp['weight_decay']} --steps {exp['steps']} "
        f"--snapshots-per-decade {per_decade(exp, 'snapshots')} --metrics-per-decade {per_decade(exp, 'metrics')} "
        f"--dtype {config['dtype']} --data-order {config['data_order']} {two_time_options(exp, config)}"
    )


def analysis_options(analysis, step=1.0):
    """The aging command's options from an `analysis` section; t_w values are given to it in
    steps, so those of the p-spin (in time units) are divided by its time step ``step``."""
    fit_tw = [t / step for t in analysis["fit_tw"]]
    return (
        f"--delta-star {analysis['delta_star']} --delta-star-unit {analysis['delta_star_unit']} "
        f"--fit-tw {fit_tw[0]:g} {fit_tw[1]:g} --fit-window {analysis['fit_window']} "
        f"--point-residual-dex {analysis['point_residual_dex']} "
        f"--window-shift-dex {analysis['window_shift_dex']} --min-fit-points {analysis['min_fit_points']} "
        f"--min-fit-decades {analysis['min_fit_decades']} --max-residual-dex {analysis['max_residual_dex']} "
        f"--delta-star-scan {analysis['delta_star_scan'][0]} {analysis['delta_star_scan'][1]} "
        f"--scan-points {analysis['scan_points']} --n-boot {analysis['n_boot']} "
        f"--diffusive-tolerance {analysis['diffusive_tolerance']} --hist-bins {analysis['hist_bins']}"
        + (f" --late-tw {analysis['late_tw'] / step:g}" if analysis["late_tw"] is not None else "")
    )


def aging_options(wildcards):
    return analysis_options(experiment(wildcards.experiment)["analysis"])


def scorecard_experiments(dataset=None):
    return [
        name
        for name, exp in config["experiments"].items()
        if dataset in (None, exp["dataset"])
    ]


def scorecard_cells(dataset=None):
    return " ".join(
        f"{name}={d}" for name in scorecard_experiments(dataset) for d in cell_dirs(name)
    )


def scorecard_limits(dataset=None):
    """The LJAT19 data limits, when the scorecard covers an LJAT19 experiment."""
    wanted = any(
        experiment(name)["dataset"] == "ljat19" for name in scorecard_experiments(dataset)
    )
    return [LIMITS_FILE] if wanted else []


def scorecard_glass(dataset=None):
    """p-spin cells of a scorecard: in the combined one and in the LJAT19 one (the offline half,
    whose Fig B4 sets the glass beside the LJAT19 networks)."""
    return glass_dirs() if dataset in (None, "ljat19") else []


def scorecard_inputs(dataset=None):
    names = scorecard_experiments(dataset)
    dirs = [d for name in names for d in cell_dirs(name)]
    return (scorecard_limits(dataset) + cell_table_files(dirs) + hessian_files(names)
            + glass_table_files(scorecard_glass(dataset)))


# --- Hessian spectra

def hessian_cells(name):
    """Cells of an experiment that get Hessian spectra (none without a `hessian` section)."""
    h = experiment(name).get("hessian")
    if h is None:  # absent or null
        return []
    archs = h["architectures"]
    return [d for d in cell_dirs(name) if archs is None or Path(d).name in archs]


def hessian_files(names):
    """Hessian tables of every cell of those experiments that gets spectra."""
    return [
        f"{d}/{t}.parquet" for name in names for d in hessian_cells(name) for t in HESSIAN_TABLES
    ]


def hessian_inputs(wildcards):
    return {"snapshots": block_snapshots(wildcards), **train_inputs(wildcards)}


def hessian_options(wildcards):
    exp = experiment(wildcards.experiment)
    h = exp["hessian"]
    return (
        f"--dataset {exp['dataset']} {dataset_options(exp['dataset'])} "
        f"--steps {' '.join(str(s) for s in h['steps'])} --seeds {h['seeds']} "
        f"--max-exact-params {h['max_exact_params']} --n-probes {h['n_probes']} --lanczos-steps {h['lanczos_steps']}"
    )


def hessian_size(wildcards):
    """Hessians in the job, P, N, and whether they are exact."""
    exp = experiment(wildcards.experiment)
    h = exp["hessian"]
    P = cell_size(wildcards)[2]
    return min(h["seeds"], exp["seeds"]) * len(h["steps"]), P, int(wildcards.n), P <= h["max_exact_params"]


def hessian_mem_mb(wildcards):
    """Three dense P×P float64 matrices (H, its blocks, eigvalsh's work) plus the data in float64
    and the cell's snapshots; measured 0.35 GB peak for P = 4015 at N = 10,000."""
    _, P, n, exact = hessian_size(wildcards)
    S, E = cell_size(wildcards)[:2]
    held = (3 * P * P * 8 if exact else 0) + 3 * n * 785 * 8 + 2 * S * E * P * 4
    return 1000 + math.ceil(held / 2**20)


def hessian_runtime_min(wildcards):
    """Measured: the exact Hessian of [784,5,5,10] costs ≈ 1 s per 1000 points, eigvalsh 4-7 s
    at P = 4015; modelled as (N·P² + P³) / 10¹⁰ s per Hessian, ×2."""
    n_hessians, P, n, exact = hessian_size(wildcards)
    per = (n * P * P + P**3) / 1e10 if exact else 1.0
    return 5 + math.ceil(2 * n_hessians * per / 60)


# --- the p-spin glass

# Measured on the 2-core dev machine (docs/pspin.md), one thread: a Langevin step of R replicas
# costs about this many ns per term of the n³·R contraction (n = 128-256, R = 16).
PSPIN_NS_PER_TERM = {"float32": 0.06, "float64": 0.15}


def pspin_steps():
    return round(PSPIN["time"] / PSPIN["dt"])


def pspin_options(wildcards):
    """Every setting of a p-spin job except N and T (Snakemake tracks the shell text)."""
    return (
        f"--samples {PSPIN['samples']} --replicas {PSPIN['replicas']} --dt {PSPIN['dt']} --steps {pspin_steps()} "
        f"--snapshots-per-decade {PSPIN['snapshots_per_decade']} --seed {PSPIN['seed']} --dtype {PSPIN['dtype']} "
        f"{two_time_options(PSPIN, PSPIN)}"
    )


def pspin_size(wildcards):
    """Snapshots S, runs E, spins n, the two-time grid (W, L, K) and the bootstrap replicates of
    one p-spin cell."""
    S = len(log_steps(pspin_steps(), PSPIN["snapshots_per_decade"]))
    return (
        S,
        PSPIN["samples"] * PSPIN["replicas"],
        int(wildcards.n),
        *two_time_size(pspin_steps(), PSPIN, PSPIN),
        PSPIN["analysis"]["n_boot"],
    )


def pspin_mem_mb(wildcards):
    """The spins at every snapshot (twice for the write) and the coupling tensor n³ (the float64
    draw and its copies)."""
    S, E, n, W, _, _, _ = pspin_size(wildcards)
    return 1000 + math.ceil((2 * S * E * n * 8 + W * E * n * 8 + 2 * n**3 * 8) / 2**20)


def pspin_runtime_min(wildcards):
    """From the measured cost per contraction term, ×2."""
    _, E, n, *_ = pspin_size(wildcards)
    seconds = 2 * pspin_steps() * n**3 * E * PSPIN_NS_PER_TERM[PSPIN["dtype"]] * 1e-9
    return 5 + math.ceil(seconds / 60)


def pspin_aging_mem_mb(wildcards):
    return aging_memory_mb(*pspin_size(wildcards), 8)


def pspin_aging_runtime_min(wildcards):
    return aging_minutes(*pspin_size(wildcards))


def pspin_aging_options(wildcards):
    return analysis_options(PSPIN["analysis"], PSPIN["dt"])
