"""The workflow through the real snakemake command line: a full smoke run of every rule and
figure (lint and dry runs: tests/test_dry_runs.py)."""

import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import SMOKE, figure_groups, results_up_to_date, snakemake

ROOT = Path(__file__).resolve().parents[1]
LJAT_FIGURES, MNIST_FIGURES, BOTH_FIGURES = figure_groups()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The LJAT19 half of the smoke config (offline everywhere; the images' half runs beside it,
    tests/test_workflow_images.py)."""
    workdir = tmp_path_factory.mktemp("smoke")
    configs = [str(SMOKE)]
    result = snakemake(
        "--cores", "2", "--configfile", *configs, "--directory", str(workdir), "ljat19", timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    target = "ljat19"
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
    names = {
        "data",
        "ljat_arch",
        "ljat_chain",
        "ljat_sizes",
        "ljat_transition",
        "pspin",
        "pspin_ck",
    }
    assert names | sweeps == set(card["experiment"])
    mu = card[card["quantity"].str.startswith("μ at")]
    # ljat_arch 3 + chain 3 + sizes 2 + the transition's 3 N + the p-spin's 2 T + 6 sweep cells,
    # and the CK curves at both T (n = ∞ and mapped to N = 32)
    assert len(mu) == 6 + 2 + 3 + 2 + 6 + 4
    aging = card[card["quantity"] == "aging"]
    assert len(aging) == 6 + 2 + 3 + 2 + 6
    # every cell, networks and glass, has its collapse and its long-lag rows
    for quantity in ("μ_collapse (minimising the spread)", "long-lag β of Δ ≈ D_β·t^β"):
        assert len(card[card["quantity"] == quantity]) == 6 + 2 + 3 + 2 + 6 + 4, quantity
    # each simulated T against CK at the same times: μ over its own window and the final energy
    against = card[card["quantity"].str.contains("against CK")]
    assert len(against) == 2 * 2 * 2
    assert set(against["note"].str.split(":").str[0]) <= {"matches", "differs", "undefined"}
    ck_energy = against[against["quantity"].str.startswith("energy")]["paper"]
    assert ck_energy.str.extract(r"^(-?[\d.]+)")[0].astype(float).between(-1.2, -0.3).all()
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
    # the long-lag rows replace the single late-time slope wherever the long-lag table exists
    assert not card["quantity"].str.startswith("late-time log–log slope").any()
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


def test_smoke_run_leaves_no_checkpoints_or_temporary_files(smoke_run):
    workdir, _, _ = smoke_run
    leftovers = [
        p for p in (workdir / "results").rglob("*") if p.name.startswith(".") or p.suffix == ".pt"
    ]
    leftovers += [p for p in (workdir / "resources").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_smoke_run_declares_every_file_it_writes(smoke_run):
    workdir, configs, target = smoke_run
    targets = [target]
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
    assert results_up_to_date(configs, workdir) >= 100


def test_report_builds_after_the_smoke_run(smoke_run):
    workdir, configs, target = smoke_run
    report = workdir / "report.zip"
    result = snakemake(
        "--configfile", *configs, "--directory", str(workdir), "--report", str(report), target
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert report.stat().st_size > 50_000
