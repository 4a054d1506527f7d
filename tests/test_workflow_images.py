"""The images' half of the smoke run: MNIST (the real t10k files) and Fashion-MNIST (the real
images) through every rule and figure, with the combined scorecard, in a workdir of its own, so
that it runs beside the LJAT19 half (tests/test_workflow.py) on another worker."""

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import FASHION_FILES, MNIST_FILES, SMOKE, figure_groups, results_up_to_date, snakemake
from glassynets import storage

LJAT_FIGURES, MNIST_FIGURES, BOTH_FIGURES = figure_groups()
IMAGE_SETS = ("mnist", "fashion_mnist")


@pytest.fixture(scope="module")
def image_smoke_run(tmp_path_factory):
    """The smoke config's image experiments alone (no LJAT19, no p-spin), targets `all` and
    `mnist`; skipped where ../shared has no image files (a user's clone)."""
    if not (MNIST_FILES.is_dir() and FASHION_FILES.is_dir()):
        pytest.skip(f"{MNIST_FILES} or {FASHION_FILES} is absent (a user's clone has no ../shared)")
    workdir = tmp_path_factory.mktemp("smoke_images")
    smoke = yaml.safe_load(SMOKE.read_text())
    smoke["experiments"] = {
        name: exp for name, exp in smoke["experiments"].items() if exp["dataset"] in IMAGE_SETS
    }
    smoke["pspin"] = None
    smoke["mnist"]["source_dir"] = str(MNIST_FILES)
    smoke["fashion_mnist"]["source_dir"] = str(FASHION_FILES)
    config = workdir / "images.yaml"
    config.write_text(yaml.safe_dump(smoke, sort_keys=False))
    configs = [str(config)]
    result = snakemake(
        "--cores", "2", "--configfile", *configs, "--directory", str(workdir), "all", "mnist",
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return workdir, configs


def test_smoke_run_on_the_real_mnist_test_files_produces_figures_4_to_6(image_smoke_run):
    workdir, _ = image_smoke_run
    for path in [*MNIST_FIGURES, *BOTH_FIGURES]:
        for ext in ("pdf", "png"):
            assert (workdir / f"results/figures/{path}.{ext}").stat().st_size > 10_000, path
    card = pd.read_csv(workdir / "results/scorecard.csv")
    assert {
        "mnist_arch",
        "mnist_alpha",
        "mnist_transition",
        "mnist_toy",
        "fashion_arch",
        "fashion_alpha",
        "fashion_batch_B10",
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
    image_smoke_run,
):
    workdir, _ = image_smoke_run
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
    mu_rows = mu_rows[mu_rows["experiment"].isin(["fashion_arch", "fashion_alpha"])]
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


def test_image_smoke_run_is_up_to_date_and_carries_the_lineage_of_its_config(image_smoke_run):
    workdir, configs = image_smoke_run
    result = snakemake("-n", "--configfile", *configs, "--directory", str(workdir), "all")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr
    assert results_up_to_date(configs, workdir) >= 50
