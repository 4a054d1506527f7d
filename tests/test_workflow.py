"""The workflow through the real snakemake command line: a full smoke run of every rule and
figure (lint and dry runs: tests/test_dry_runs.py)."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import FASHION_FILES, MNIST_FILES, SMOKE, figure_groups, snakemake
from glassynets import storage

ROOT = Path(__file__).resolve().parents[1]
LJAT_FIGURES, MNIST_FIGURES, BOTH_FIGURES = figure_groups()


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


#: The sweep variants of the smoke config (tests/config/smoke.yaml).
SMOKE_SWEEPS = {
    *(
        f"ljat_{name}"
        for name in (
            "batch_B10",
            "batch_B100",
            "lr_lr1_B200",
            "langevin_T0",
            "langevin_T0x1",
            "persistent_tau10",
        )
    ),
    "fashion_batch_B10",
}


def test_smoke_run_produces_every_ljat19_figure_and_its_scorecard(smoke_run):
    workdir, _, _ = smoke_run
    for path in [*LJAT_FIGURES, *(f"ljat19/{name}" for name in BOTH_FIGURES)]:
        for ext in ("pdf", "png"):
            assert (workdir / f"results/figures/{path}.{ext}").stat().st_size > 10_000, path
    card = pd.read_csv(workdir / "results/scorecard_ljat19.csv")
    sweeps = {name for name in SMOKE_SWEEPS if name.startswith("ljat_")}
    assert {"data", "ljat_arch", "ljat_chain", "ljat_sizes", "ljat_transition", "pspin"} | (
        sweeps
    ) == set(card["experiment"])
    mu = card[card["quantity"].str.startswith("μ at")]
    # ljat_arch 3 + chain 3 + sizes 2 + the transition's 3 N + the p-spin's 2 T + 6 sweep cells
    assert len(mu) == 6 + 2 + 3 + 2 + 6
    aging = card[card["quantity"] == "aging"]
    assert len(aging) == 6 + 2 + 3 + 2 + 6
    # every cell, networks and glass, has its collapse and its long-lag rows
    for quantity in ("μ_collapse (minimising the spread)", "long-lag β of Δ ≈ D_β·t^β"):
        assert len(card[card["quantity"] == quantity]) == 6 + 2 + 3 + 2 + 6, quantity
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
    assert len(crossover) == 6 + 2 + 3 + 6  # networks only: the glass rows have no crossover row
    slopes = card[card["quantity"] == "late-time log–log slope of Δ in t"]["reproduced"].astype(
        float
    )
    assert len(slopes) == 6 + 2 + 3 + 6 and np.isfinite(slopes).all()
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
    } | SMOKE_SWEEPS == set(card["experiment"])
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
    for name in (*MNIST_FIGURES, "figC1", "figC2", "figN1", "figN2", "figN4"):
        for ext in ("pdf", "png"):
            assert (
                workdir / f"results/figures/fashion_mnist/{name}.{ext}"
            ).stat().st_size > 10_000, name
    card = pd.read_csv(workdir / "results/scorecard_fashion_mnist.csv")
    sweep = {"fashion_batch_B10"}
    assert set(card["experiment"]) == {"fashion_arch", "fashion_alpha"} | sweep
    assert len(card[card["quantity"].str.startswith("μ at")]) == 2 + 2 + 1
    # no paper value: MNIST's beside it, labelled as such
    mu_rows = card[card["quantity"] == "mean μ across cells"]
    assert len(mu_rows) == 3 and mu_rows["paper"].str.startswith("no paper value (MNIST: ").all()
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
