"""The workflow through the real snakemake command line: lint, dry runs, and a full smoke run."""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomllib
import yaml

from conftest import FASHION_FILES, MNIST_FILES, SCHEMA, snakemake
from glassynets import config, storage
from glassynets.figures import FIGURES
from glassynets.targets import Targets

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "tests/config/smoke.yaml"
# The figures of each data set, read from the registry through the paper config's experiments.
_PAPER = Targets(config.check_files([ROOT / "config.yaml"], SCHEMA))
LJAT_FIGURES = tuple(n for n in FIGURES if _PAPER.figure_datasets(n) == ["ljat19"])
MNIST_FIGURES = tuple(n for n in FIGURES if _PAPER.figure_datasets(n) == ["mnist"])
BOTH_FIGURES = tuple(n for n in FIGURES if _PAPER.figure_datasets(n) == ["ljat19", "mnist"])


def job_counts(output: str) -> dict[str, int]:
    table = output.split("Job stats:")[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_lint_is_clean():
    result = snakemake("--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dry_run_of_the_paper_config_plans_every_cell():
    result = snakemake("-n", "-F", "--cores", "2")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    # LJAT19: 6 architectures × 100 seeds in blocks of 50, 6 N × 3 architectures × 10 seeds,
    # 8 N of the transition in one block each; MNIST: 3 architectures × 50 seeds in one block,
    # 6 widths × 100 seeds in blocks of 50, 6 N of the transition, 4 toy widths × 4 seeds in
    # blocks of 2; Fashion-MNIST as MNIST's arch and alpha; one aging job per cell; Hessians for
    # ljat_arch (3 cells), ljat_sizes (18), mnist_arch h5-5 (1); the p-spin at 3 temperatures.
    # The sweeps: 21 LJAT19 variants of one cell in 2 blocks each, 3 Fashion-MNIST ones in 1.
    assert counts["train"] == 12 + 18 + 8 + 3 + 12 + 6 + 8 + 3 + 12 + 21 * 2 + 3
    assert counts["aging"] == 6 + 18 + 8 + 3 + 6 + 6 + 4 + 3 + 6 + 21 + 3
    assert counts["hessian"] == 3 + 18 + 1 and counts["pspin"] == counts["aging_pspin"] == 3
    assert all(counts[f] == 1 for f in LJAT_FIGURES + MNIST_FIGURES + BOTH_FIGURES)
    assert not any(
        f"{f}_ljat19" in counts for f in BOTH_FIGURES
    )  # the LJAT19-only versions belong to `ljat19`
    assert all(
        counts[f"{f}_fashion_mnist"] == 1 for f in MNIST_FIGURES
    )  # Fashion-MNIST's own Figs 4-6
    assert all(counts[f"{f}_fashion_mnist"] == 1 for f in ("figN1", "figN2", "figN4", "figC1"))
    assert "figN3_fashion_mnist" not in counts  # no Langevin sweep on Fashion-MNIST
    assert counts["scorecard"] == counts["scorecard_ljat19"] == counts["scorecard_mnist"] == 1
    assert counts["scorecard_fashion_mnist"] == 1
    assert (
        counts["images_fetch"] == 8
        and counts["images_convert"] == 4
        and counts["images_train_set"] == 6 + 1
    )


def test_dry_run_of_the_mnist_target_plans_only_mnist():
    result = snakemake("-n", "-F", "--cores", "2", "mnist")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert (
        counts["train"] == 15 + 6 + 8
        and counts["aging"] == 9 + 6 + 4
        and counts["scorecard_mnist"] == 1
    )
    assert counts["hessian"] == 1
    assert all(counts[f"{f}_mnist"] == 1 for f in BOTH_FIGURES)
    assert not {
        "ljat19_train_set",
        "fig1",
        "fig7",
        "figB4",
        "pspin",
        "scorecard",
        "fig4_fashion_mnist",
    } & set(counts)


def test_dry_run_of_the_fashion_mnist_target_plans_only_fashion_mnist():
    result = snakemake("-n", "-F", "--cores", "2", "fashion_mnist")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert (
        counts["train"] == 3 + 12 + 3
        and counts["aging"] == 3 + 6 + 3
        and counts["scorecard_fashion_mnist"] == 1
    )
    assert all(counts[f"{f}_fashion_mnist"] == 1 for f in MNIST_FIGURES)
    assert counts["images_fetch"] == 4 and "hessian" not in counts and "fig4" not in counts


def test_dry_run_of_the_ljat19_target_is_offline_and_has_the_ljat19_half_of_mixed_figures():
    result = snakemake("-n", "-F", "--cores", "2", "ljat19")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert all(counts[f] == 1 for f in LJAT_FIGURES) and all(
        counts[f"{f}_ljat19"] == 1 for f in BOTH_FIGURES
    )
    assert counts["pspin"] == 3 and not {"images_fetch", "images_convert", "fig4"} & set(counts)


def training_gpus(environment: dict[str, str]) -> set[tuple[str, str]]:
    """(data set, GPUs asked for) of every training job of fig5 and fig2, planned under environment."""
    result = snakemake("-n", "-F", "--cores", "2", "-p", "fig5", "fig2", env=environment)
    assert result.returncode == 0, result.stderr
    jobs = [block for block in result.stdout.split("\nrule ") if block.startswith("train:")]
    return {
        ("mnist" if "mnist_arch" in j else "ljat19", re.search(r"gpu=(\d+)", j)[1]) for j in jobs
    }


def test_mnist_training_jobs_ask_for_a_gpu_and_ljat19_jobs_do_not():
    environment = {k: v for k, v in os.environ.items() if k != "GLASSYNETS_GPUS"}
    assert training_gpus(environment) == {("mnist", "1"), ("ljat19", "0")}
    assert training_gpus({**environment, "GLASSYNETS_GPUS": "0"}) == {
        ("mnist", "0"),
        ("ljat19", "0"),
    }


@pytest.mark.parametrize("target", ["results/figures/fig2.pdf", "fig2"])
def test_dry_run_of_a_single_figure(target):
    result = snakemake("-n", "-F", "--cores", "2", target)
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert counts["fig2"] == 1 and "fig1" not in counts and "scorecard" not in counts


@pytest.mark.parametrize(
    "target, train_jobs", [([], 127), (["fig2"], 6), (["fig6"], 12), (["fig7"], 3), (["figB4"], 2)]
)
def test_dry_run_with_the_slurm_profile(target, train_jobs):
    pytest.importorskip(
        "snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]' to check the profile"
    )
    result = snakemake("-n", "-F", "--profile", "slurm", *target)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout)["train"] == train_jobs


def test_dry_run_with_the_published_ljat19_files(tmp_path):
    table = tmp_path / "ljat.csv"
    table.write_text("r12,r13,r23,label\n1.1,1.2,1.3,0\n")
    digest = hashlib.sha256(table.read_bytes()).hexdigest()
    published = tmp_path / "published.yaml"
    published.write_text(
        f"ljat19:\n  source: published\n  published: {{train: {table}, train_sha256: {digest}, "
        f"test: {table}, test_sha256: {digest}}}\n"
    )
    result = snakemake("-n", "-F", "--cores", "2", "ljat19", "--configfile", str(published))
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout)["ljat19_fetch_published"] == 2


def test_published_ljat19_files_run_through_the_data_rules(tmp_path):
    """A small file in the published layout (CSV, columns r12, r13, r23, label, in any order)
    goes through fetch + verify, the prefix rule and the limits, as a user's files would."""
    rng = np.random.default_rng(5)
    n = 1500
    frame = pd.DataFrame(
        {
            "label": rng.integers(0, 4, n),
            "r23": rng.uniform(1.0, 1.8, n),
            "r12": rng.uniform(1.0, 1.8, n),
            "r13": rng.uniform(1.0, 1.8, n),
        }
    )
    table = tmp_path / "published.csv"
    frame.to_csv(table, index=False)
    digest = hashlib.sha256(table.read_bytes()).hexdigest()
    config = {
        "ljat19": {
            "source": "published",
            "test_size": 1000,
            "published": {
                "train": str(table),
                "train_sha256": digest,
                "test": str(table),
                "test_sha256": digest,
            },
        },
        "experiments": {
            "e": {"dataset": "ljat19", "n_train": [100], "architectures": ["h3"], "steps": 10}
        },
        "pspin": None,
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    targets = [
        "resources/ljat19/train_N100.parquet",
        "resources/ljat19/test.parquet",
        "results/tables/ljat19_limits.json",
    ]
    result = snakemake(
        "--directory", str(tmp_path), "--cores", "1", *targets,
        "--configfile", str(tmp_path / "config.yaml"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    train = storage.read_frame(tmp_path / targets[0], "ljat19")
    assert np.array_equal(train[["r12", "r13", "r23"]], frame[["r12", "r13", "r23"]][:100])
    assert np.array_equal(train["label"], frame["label"][:100])
    assert storage.metadata(tmp_path / targets[0])["source"] == "published"
    assert len(storage.read_frame(tmp_path / targets[1], "ljat19")) == 1000
    limits = yaml.safe_load((tmp_path / targets[2]).read_text())
    # With published files the limits use the whole published test file.
    assert limits["n"] == n and 0.25 <= limits["accuracy_ceiling"] < 1


def test_invalid_config_stops_with_one_line_naming_the_key(tmp_path):
    result = snakemake("-n", "--config", "dtype=float16", cwd=ROOT)
    assert result.returncode != 0
    assert (
        "config error: 'dtype' = 'float16' is not allowed; choose one of ['float32', 'float64']"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_conda_env_lists_the_package_dependencies():
    env = yaml.safe_load((ROOT / "envs/glassynets.yaml").read_text())
    conda_names = {re.split(r"[<>=]", d)[0] for d in env["dependencies"] if isinstance(d, str)}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = {re.split(r"[<>=]", d)[0] for d in pyproject["project"]["dependencies"]}
    names = {"pytorch" if n == "torch" else n for n in names}
    assert names <= conda_names, f"missing from envs/glassynets.yaml: {names - conda_names}"


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    command = re.search(r"<!-- test-command -->\n```bash\n(.+?)\n```", readme, re.S)[1].strip()
    assert command in ci


def test_offline_without_mnist_files_says_which_files_are_missing(tmp_path):
    """No files anywhere and no reachable mirror: one message naming the files and where to put them."""
    offline = tmp_path / "offline.yaml"
    offline.write_text(
        f"mnist:\n  source_dir: {tmp_path / 'nowhere'}\n  mirrors: [{(tmp_path / 'no-mirror').as_uri()}/]\n"
    )
    result = snakemake(
        "--cores",
        "1",
        "--configfile",
        str(SMOKE),
        str(offline),
        "--directory",
        str(tmp_path),
        "resources/mnist/t10k.parquet",
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert (
        "t10k-images-idx3-ubyte.gz" in output
        and "resources/mnist/raw" in output
        and "source_dir" in output
    )
    assert "Traceback" not in output
    assert not (tmp_path / "resources/mnist/raw").exists() or not any(
        (tmp_path / "resources/mnist/raw").iterdir()
    )


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The LJAT19 half of the smoke config (offline everywhere), then the MNIST and Fashion-MNIST
    halves and the combined scorecard where the real files exist (target `all`, and `mnist` for
    the MNIST-only versions of the mixed figures)."""
    workdir = tmp_path_factory.mktemp("smoke")
    configs = [str(SMOKE)]
    result = snakemake(
        "--cores", "2", "--configfile", *configs, "--directory", str(workdir), "ljat19", timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    target = "ljat19"
    if MNIST_FILES.is_dir() and FASHION_FILES.is_dir():
        local = workdir / "image_files.yaml"
        local.write_text(
            f"mnist:\n  source_dir: {MNIST_FILES}\nfashion_mnist:\n  source_dir: {FASHION_FILES}\n"
        )
        configs.append(str(local))
        result = snakemake(
            "--cores",
            "2",
            "--configfile",
            *configs,
            "--directory",
            str(workdir),
            "all",
            "mnist",
            timeout=900,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
        target = "all"
    return workdir, configs, target


def test_smoke_run_produces_every_ljat19_figure_and_its_scorecard(smoke_run):
    workdir, _, _ = smoke_run
    for path in [*LJAT_FIGURES, *(f"ljat19/{name}" for name in BOTH_FIGURES)]:
        for ext in ("pdf", "png"):
            assert (workdir / f"results/figures/{path}.{ext}").stat().st_size > 10_000, path
    card = pd.read_csv(workdir / "results/scorecard_ljat19.csv")
    sweeps = {
        f"ljat_{name}"
        for name in (
            "batch_B10",
            "batch_B100",
            "lr_lr05",
            "lr_lr1_B200",
            "langevin_T0",
            "langevin_T0x1",
            "persistent_tau1",
            "persistent_tau10",
        )
    }
    assert {"data", "ljat_arch", "ljat_chain", "ljat_sizes", "ljat_transition", "pspin"} | (
        sweeps
    ) == set(card["experiment"])
    mu = card[card["quantity"].str.startswith("μ at")]
    # ljat_arch 3 + chain 3 + sizes 2 + the transition's 3 N + the p-spin's 2 T + 8 sweep cells
    assert len(mu) == 6 + 2 + 3 + 2 + 8
    aging = card[card["quantity"] == "aging"]
    assert len(aging) == 6 + 2 + 3 + 2 + 8
    # every cell, networks and glass, has its collapse and its long-lag rows
    for quantity in ("μ_collapse (minimising the spread)", "long-lag β of Δ ≈ D_β·t^β"):
        assert len(card[card["quantity"] == quantity]) == 6 + 2 + 3 + 2 + 8, quantity
    temperatures = card[card["quantity"].str.startswith("T_SGD")].set_index("experiment")
    assert set(temperatures.index) == sweeps
    t_sgd = temperatures["reproduced"].astype(float)
    assert (t_sgd.drop(["ljat_langevin_T0", "ljat_langevin_T0x1", "ljat_lr_lr1_B200"]) > 1e-7).all()
    assert (t_sgd[["ljat_langevin_T0", "ljat_langevin_T0x1", "ljat_lr_lr1_B200"]] < 1e-12).all()
    assert set(aging["reproduced"]) <= {
        "subaging",
        "simple aging",
        "superaging",
        "none",
        "unclear",
        "undefined",
    }
    # a μ is a number with its interval, or 'undefined' with the reason; never a number without one
    for _, row in mu.iterrows():
        assert (row["reproduced"] == "undefined") == (not isinstance(row["uncertainty"], str)), (
            row.to_dict()
        )
    crossover = card[card["quantity"] == "crossover in t*(t_w), log10 t_w"]
    assert len(crossover) == 6 + 2 + 3 + 8  # networks only: the glass rows have no crossover row
    slopes = card[card["quantity"] == "late-time log–log slope of Δ in t"]["reproduced"].astype(
        float
    )
    assert len(slopes) == 6 + 2 + 3 + 8 and np.isfinite(slopes).all()
    assert (
        len(
            card[
                (card["experiment"] == "ljat_transition")
                & card["quantity"].str.startswith("α at the transition")
            ]
        )
        == 1
    )
    glass = card[card["experiment"] == "pspin"].set_index(["cell", "quantity"])["reproduced"]
    energies = glass.xs("final energy per spin", level="quantity").astype(float)
    assert (
        len(energies) == 2 and energies.between(-1.2, -0.3).all()
    )  # relaxed from e ≈ 0 at the quench
    negative = card[card["quantity"].str.startswith("fraction of negative Hessian eigenvalues")]
    # start and end for ljat_arch's 3 cells; only the end for ljat_sizes (spectra at the end only)
    assert len(negative) == 2 * 3 + 2 and negative["reproduced"].astype(float).between(0, 1).all()
    correlations = card[card["quantity"].str.contains("correlation of Hessian trace/N")]
    assert len(correlations) == 2 and correlations["reproduced"].astype(float).between(-1, 1).all()
    text = (workdir / "results/scorecard_ljat19.md").read_text()
    assert text.startswith("# Scorecard") and "## Headline" in text and "## Every cell" in text
    for table in text.split("\n\n"):  # every row of every Markdown table has the header's columns
        rows = [line for line in table.splitlines() if line.startswith("|")]
        cells = [len(re.split(r"(?<!\\)\|", row)) for row in rows]
        assert all(n == cells[0] for n in cells), table[:300]
    claims = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| μ ")]
    assert "| μ independent of lr and B (ljat19)" in claims
    assert "| μ independent of the persistence τ (ljat19)" in claims
    headline = text.split("## Headline")[1].split("## Every cell")[0]
    assert (
        15 <= headline.count("\n| ") - 1 <= 30
    )  # one row per claim, a table a reader takes in at a glance


def test_smoke_run_on_the_real_mnist_test_files_produces_figures_4_to_6(smoke_run):
    workdir, _, target = smoke_run
    if target != "all":
        pytest.skip(
            f"{MNIST_FILES} or {FASHION_FILES} is absent (a user's clone has no ../shared): MNIST half not run"
        )
    for path in [*MNIST_FIGURES, *BOTH_FIGURES, *(f"mnist/{name}" for name in BOTH_FIGURES)]:
        for ext in ("pdf", "png"):
            assert (workdir / f"results/figures/{path}.{ext}").stat().st_size > 10_000, path
    card = pd.read_csv(workdir / "results/scorecard.csv")
    assert {
        "data",
        "ljat_arch",
        "ljat_chain",
        "ljat_sizes",
        "ljat_transition",
        "mnist_arch",
        "mnist_alpha",
        "mnist_transition",
        "mnist_toy",
        "fashion_arch",
        "fashion_alpha",
        "pspin",
    } == set(card["experiment"])
    mnist_card = pd.read_csv(workdir / "results/scorecard_mnist.csv")
    assert set(mnist_card["experiment"]) == {
        "mnist_arch",
        "mnist_alpha",
        "mnist_transition",
        "mnist_toy",
    }
    assert len(mnist_card[mnist_card["quantity"].str.startswith("μ at")]) == 6 + 2 + 2
    verdicts = mnist_card[mnist_card["quantity"] == "underparametrized criterion"]
    assert len(verdicts) == 6 + 2 + 2 and set(verdicts["reproduced"]) <= {"yes", "no"}
    paper_cells = mnist_card[mnist_card["experiment"].isin(["mnist_arch", "mnist_alpha"])]
    alphas = paper_cells[paper_cells["quantity"] == "α = P/N"]["reproduced"].astype(float)
    assert alphas.between(0.39, 0.91).all()  # P = 3985 ... 9019 over N = 10,000 images
    assert len(mnist_card[mnist_card["quantity"] == "mean μ across cells"]) == 4
    toy = mnist_card[
        (mnist_card["experiment"] == "mnist_toy")
        & (mnist_card["quantity"] == "final train loss (MSE)")
    ]
    assert (
        len(toy) == 2 and toy["reproduced"].astype(float).between(0, 0.1).all()
    )  # MSE per output, sigmoid units
    # the training data are the real t10k images: 10,000 of them, stratified counts = the split's
    meta = storage.metadata(workdir / "resources/mnist/train_N10000.parquet")
    assert meta["n"] == 10000 and meta["source"] == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]


def test_smoke_run_on_the_real_fashion_mnist_images_produces_its_own_figures_and_scorecard(
    smoke_run,
):
    workdir, _, target = smoke_run
    if target != "all":
        pytest.skip(
            f"{FASHION_FILES} is absent (a user's clone has no ../shared): Fashion-MNIST half not run"
        )
    for name in MNIST_FIGURES:
        for ext in ("pdf", "png"):
            assert (
                workdir / f"results/figures/fashion_mnist/{name}.{ext}"
            ).stat().st_size > 10_000, name
    card = pd.read_csv(workdir / "results/scorecard_fashion_mnist.csv")
    assert set(card["experiment"]) == {"fashion_arch", "fashion_alpha"}
    assert len(card[card["quantity"].str.startswith("μ at")]) == 2 + 2
    # no paper value: MNIST's beside it, labelled as such
    mu_rows = card[card["quantity"] == "mean μ across cells"]
    assert len(mu_rows) == 2 and mu_rows["paper"].str.startswith("no paper value (MNIST: ").all()
    headline = (
        (workdir / "results/scorecard_fashion_mnist.md").read_text().split("## Every cell")[0]
    )
    assert "Fashion-MNIST μ, h5" in headline and "no paper value (MNIST: 0.709 ± 0.017)" in headline
    # trained on 2,000 of the 60,000 real training images, stratified: 200 per class
    meta = storage.metadata(workdir / "resources/fashion_mnist/train_N2000.parquet")
    assert meta["n"] == 2000 and meta["dataset"] == "fashion_mnist"
    _, labels = storage.read_images(workdir / "resources/fashion_mnist/train_N2000.parquet")
    assert np.bincount(labels).tolist() == [200] * 10


def test_smoke_run_leaves_no_checkpoints_or_temporary_files(smoke_run):
    workdir, _, _ = smoke_run
    leftovers = [
        p for p in (workdir / "results").rglob("*") if p.name.startswith(".") or p.suffix == ".pt"
    ]
    leftovers += [p for p in (workdir / "resources").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_smoke_run_declares_every_file_it_writes(smoke_run):
    workdir, configs, target = smoke_run
    targets = ["ljat19", "all", "mnist"] if target == "all" else ["ljat19"]
    result = snakemake(
        "--list-untracked", "--configfile", *configs, "--directory", str(workdir), *targets
    )
    assert result.returncode == 0, result.stderr[-2000:]
    ours = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.startswith(("results/", "resources/"))
        and not line.startswith(("results/checkpoints", "results/README"))
        and line != "resources/README.md"
        and "/.snakemake" not in line
        and not line.endswith("mnist_files.yaml")
    ]
    assert ours == []


def test_smoke_run_is_up_to_date_afterwards(smoke_run, tmp_path):
    workdir, configs, target = smoke_run
    result = snakemake("-n", "--configfile", *configs, "--directory", str(workdir), target)
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr
    # where MNIST files come from is not a rerun trigger: the bytes are md5-checked
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(f"mnist:\n  source_dir: {tmp_path}\n  mirrors: [file:///nowhere/]\n")
    result = snakemake(
        "-n", "--configfile", *configs, str(elsewhere), "--directory", str(workdir), target
    )
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr


def test_every_file_of_the_smoke_run_carries_the_lineage_of_the_config(smoke_run):
    workdir, configs, target = smoke_run
    command = [sys.executable, "-m", "glassynets.cli", "check-results", *configs]
    result = subprocess.run(
        [*command, "--directory", str(workdir)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    made = int(re.search(r"check-results: (\d+) of (\d+) files up to date", result.stdout)[1])
    assert made >= 100 and "0 stale, 0 unreadable" in result.stdout


def test_report_builds_after_the_smoke_run(smoke_run):
    workdir, configs, target = smoke_run
    report = workdir / "report.zip"
    result = snakemake(
        "--configfile", *configs, "--directory", str(workdir), "--report", str(report), target
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert report.stat().st_size > 50_000


def test_figure_groups_of_the_registry():
    assert set(LJAT_FIGURES) == {"fig1", "fig2", "fig3", "figA2", "figA3", "figB4"} | {
        "figN1",
        "figN2",
        "figN3",
        "figN4",
    }
    assert set(MNIST_FIGURES) == {"fig4", "fig5", "fig6"}
    assert set(BOTH_FIGURES) == {"fig7", "figA1", "figB1", "figB2", "figB3", "figC1", "figC2"}
