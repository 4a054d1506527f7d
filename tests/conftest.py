"""Shared test setup."""

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The trainer and the Hessian code are meant for one thread per process; more threads on 2
    busy cores stall badly."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# Real data beside the project's own checkout (a user's clone has no ../shared: tests skip there).
SHARED = Path(__file__).resolve().parents[1].parent / "shared/data"
MNIST_FILES = SHARED / "mnist"  # the t10k files and the training labels
FASHION_FILES = SHARED / "fashion-mnist"  # all four files
ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"


def snakemake(
    *args: str, cwd: Path = ROOT, timeout: int = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """The real snakemake command line on the project's Snakefile."""
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def job_settings(kind: str = "train", dataset: str = "ljat19", **experiment) -> str:
    """A job's --settings as the workflow builds them: one experiment "t" with the schema's
    defaults for every key not given (the schema is the only definition of a default)."""
    from glassynets import config, settings

    cell = {"dataset": dataset, "n_train": [60000], "architectures": ["h1"]}
    cfg = config.validate({"experiments": {"t": {**cell, **experiment}}}, SCHEMA)
    built = {"train": settings.train, "hessian": settings.hessian}[kind](cfg, "t")
    return settings.as_json(built)


def aging_settings(**analysis) -> str:
    """An aging job's --settings: the schema's analysis defaults for every key not given."""
    from glassynets import config, settings

    cell = {"dataset": "ljat19", "n_train": [60000], "architectures": ["h1"], "analysis": analysis}
    cfg = config.validate({"experiments": {"t": cell}}, SCHEMA)
    return settings.as_json(settings.aging(cfg["experiments"]["t"]["analysis"]))


def pspin_settings(**pspin) -> str:
    """A p-spin job's --settings: the schema's defaults for every key of the pspin section not given."""
    from glassynets import config, settings

    cell = {"dataset": "ljat19", "n_train": [60000], "architectures": ["h1"]}
    cfg = config.validate({"experiments": {"t": cell}, "pspin": pspin}, SCHEMA)
    return settings.as_json(settings.pspin(cfg))


@contextlib.contextmanager
def lock_held_elsewhere(path):
    """Another process holds storage.exclusive_lock(path) for the block; yields its PID."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from glassynets import storage\n"
         f"with storage.exclusive_lock({str(path)!r}):\n"
         "    print('held', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


SMOKE = ROOT / "tests/config/smoke.yaml"


def figure_groups() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The figures of LJAT19 only, MNIST only and both, read from the registry through the paper
    config's experiments."""
    from glassynets import config
    from glassynets.figures import FIGURES
    from glassynets.targets import Targets

    paper = Targets(config.check_files([ROOT / "config.yaml"], SCHEMA))
    return tuple(
        tuple(n for n in FIGURES if paper.figure_datasets(n) == want)
        for want in (["ljat19"], ["mnist"], ["ljat19", "mnist"])
    )


def results_up_to_date(configs: list[str], workdir: Path) -> int:
    """`glassynets check-results` on a workdir: asserts it passes with nothing stale or
    unreadable; returns the number of files up to date."""
    import re

    command = [sys.executable, "-m", "glassynets.cli", "check-results", *configs]
    result = subprocess.run(
        [*command, "--directory", str(workdir)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "0 stale, 0 unreadable" in result.stdout
    return int(re.search(r"check-results: (\d+) of (\d+) files up to date", result.stdout)[1])


def job_counts(output: str) -> dict[str, int]:
    """Jobs per rule in a snakemake dry run's "Job stats" table."""
    import re

    table = output.split("Job stats:")[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


#: The two halves of the smoke run, the longest modules: collected first, so that under xdist
#: (one file per worker) each starts on its own worker at once and the short files fill in after.
FIRST_MODULES = ("test_workflow.py", "test_workflow_images.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name not in FIRST_MODULES)  # stable: order kept within
