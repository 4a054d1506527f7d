"""The workflow through the real snakemake command line: lint, dry runs, and a full smoke run."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "tests/config/smoke.yaml"
FIGURES = ("fig1", "fig2", "fig3", "figA3")


def snakemake(*args: str, cwd: Path = ROOT, timeout: int = 900) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


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
    # 6 architectures × 100 seeds in blocks of 50, one aging job per cell, every figure.
    assert counts["train"] == 12 and counts["aging"] == 6
    assert all(counts[f] == 1 for f in FIGURES) and counts["scorecard"] == 1


@pytest.mark.parametrize("target", ["results/figures/fig2.pdf", "fig2"])
def test_dry_run_of_a_single_figure(target):
    result = snakemake("-n", "-F", "--cores", "2", target)
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert counts["fig2"] == 1 and "fig1" not in counts and "scorecard" not in counts


@pytest.mark.parametrize("target, train_jobs", [([], 12), (["fig2"], 6)])
def test_dry_run_with_the_slurm_profile(target, train_jobs):
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]' to check the profile")
    result = snakemake("-n", "-F", "--profile", "slurm", *target)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout)["train"] == train_jobs


def test_invalid_config_stops_with_one_line_naming_the_key(tmp_path):
    result = snakemake("-n", "--config", "dtype=float16", cwd=ROOT)
    assert result.returncode != 0
    assert "config error: 'dtype' = 'float16' is not allowed; choose one of ['float32', 'float64']" in result.stderr
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


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("smoke")
    result = snakemake("--cores", "2", "--configfile", str(SMOKE), "--directory", str(workdir), "all", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return workdir, result


def test_smoke_run_produces_every_figure_and_the_scorecard(smoke_run):
    workdir, _ = smoke_run
    for name in FIGURES:
        for ext in ("pdf", "png"):
            path = workdir / f"results/figures/{name}.{ext}"
            assert path.stat().st_size > 10_000, path
    card = pd.read_csv(workdir / "results/scorecard.csv")
    assert {"data", "ljat_arch", "ljat_chain"} <= set(card["experiment"])
    mu = card[card["quantity"].str.startswith("μ at")]
    assert len(mu) == 6
    assert (workdir / "results/scorecard.md").read_text().startswith("# Scorecard")


def test_smoke_run_leaves_no_checkpoints_or_temporary_files(smoke_run):
    workdir, _ = smoke_run
    leftovers = [p for p in (workdir / "results").rglob("*") if p.name.startswith(".") or p.suffix == ".pt"]
    assert leftovers == []


def test_smoke_run_is_up_to_date_afterwards(smoke_run):
    workdir, _ = smoke_run
    result = snakemake("-n", "--configfile", str(SMOKE), "--directory", str(workdir), "all")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr


def test_report_builds_after_the_smoke_run(smoke_run):
    workdir, _ = smoke_run
    report = workdir / "report.zip"
    result = snakemake("--configfile", str(SMOKE), "--directory", str(workdir), "--report", str(report))
    assert result.returncode == 0, result.stderr[-3000:]
    assert report.stat().st_size > 50_000
