"""The workflow through the real snakemake command line: lint, dry runs, the data rules, the
config checks (the smoke run is tests/test_workflow.py, so that the two run on two workers)."""

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomllib
import yaml

from conftest import SMOKE, figure_groups, job_counts, snakemake
from glassynets import storage

ROOT = Path(__file__).resolve().parents[1]
LJAT_FIGURES, MNIST_FIGURES, BOTH_FIGURES = figure_groups()


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


def test_figure_groups_of_the_registry():
    assert set(LJAT_FIGURES) == {"fig1", "fig2", "fig3", "figA2", "figA3", "figB4"} | {
        "figN1",
        "figN2",
        "figN3",
        "figN4",
    }
    assert set(MNIST_FIGURES) == {"fig4", "fig5", "fig6"}
    assert set(BOTH_FIGURES) == {"fig7", "figA1", "figB1", "figB2", "figB3", "figC1", "figC2"}
