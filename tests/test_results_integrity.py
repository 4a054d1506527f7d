"""What the results say is what the config says, through the real snakemake command line on a
tiny LJAT19 config: a changed setting after a killed run, a corrupt data file, a second trainer
on a checkpoint, bad data at the door, and configs that cannot work."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import job_settings, lock_held_elsewhere, snakemake
from glassynets import settings, storage

TARGET = "ljat19"
CONFIG = {
    "checkpoint_every_s": 1,
    "ljat19": {"test_size": 500, "limits_size": 2000},
    "pspin": None,
    "experiments": {
        "ljat_arch": {
            "role": "architectures",  # drawn in Figs 1, 2 and scored: the files the tests check
            "dataset": "ljat19",
            "n_train": [200],
            "architectures": ["h5-5"],
            "steps": 1000,
            "seeds": 2,
            "seeds_per_job": 2,
            "analysis": {
                "delta_star": 1.0e-2,
                "fit_tw": [10, 1000],
                "plot_tw": [10, 100],
                "delta_star_scan": [3.0e-3, 3.0e-2],
                "scan_points": 3,
                "n_boot": 20,
            },
        }
    },
}
RUN = "results/runs/ljat_arch/N200/h5-5/seeds0-1"
TRAIN_SET = "resources/ljat19/train_N200.parquet"


def run_in(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    config = str(workdir / "config.yaml")
    return snakemake("--directory", str(workdir), "--configfile", config, *args, timeout=timeout)


def check_results(workdir: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "glassynets.cli", "check-results", "config.yaml"]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120)


def set_steps(workdir: Path, steps: int) -> None:
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["experiments"]["ljat_arch"]["steps"] = steps
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def trainer_of(pid: int, timeout_s: float = 120) -> int:
    """The PID of the `glassynets ... train` process that process ``pid`` started, once it runs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid and b"glassynets" in b" ".join(args) and b"train" in args:
                return int(entry.name)
        time.sleep(0.05)
    raise AssertionError(f"no trainer started by {pid} within {timeout_s} s")


def gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # a zombie of a dead parent, waiting for init to reap it
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished tiny run (train, aging, figures, scorecard), to copy for each sequence."""
    workdir = tmp_path_factory.mktemp("finished")
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    result = run_in(workdir, "--cores", "2", TARGET)
    assert result.returncode == 0, result.stderr[-3000:]
    assert check_results(workdir).returncode == 0
    return workdir


def copy_of(finished: Path, tmp_path: Path) -> Path:
    workdir = tmp_path / "work"
    shutil.copytree(finished, workdir, symlinks=True)  # mtimes and .snakemake metadata kept
    return workdir


def start(workdir: Path) -> subprocess.Popen:
    """`snakemake --cores 2 ljat19` in the background, as a user would start it."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(Path(__file__).parents[1] / "Snakefile"),
    ]
    return subprocess.Popen(
        [*command, "--directory", str(workdir), "--configfile", str(workdir / "config.yaml")]
        + ["--cores", "2", TARGET],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_changed_setting_after_a_killed_trainer_reruns_what_it_affects(finished, tmp_path):
    workdir = copy_of(finished, tmp_path)
    set_steps(workdir, 30000)
    run = start(workdir)
    os.kill(trainer_of(run.pid), signal.SIGKILL)
    assert run.wait(timeout=120) != 0
    assert not (workdir / RUN / "metrics.parquet").exists()  # the failed job's outputs are gone

    planned = run_in(workdir, "-n", TARGET)
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "Nothing to be done" not in planned.stdout + planned.stderr
    for job in ("train", "aging", "fig2", "scorecard_ljat19"):
        assert f"rule {job}:" in planned.stdout, planned.stdout[-3000:]
    stale = check_results(workdir)
    assert stale.returncode == 1
    assert "stale: results/tables/ljat_arch/N200/h5-5/mu_summary.parquet" in stale.stdout

    resumed = run_in(workdir, "--cores", "2", "--rerun-incomplete", TARGET)  # the README's resume
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    table = workdir / "results/tables/ljat_arch/N200/h5-5/metrics.parquet"
    assert storage.read_frame(table, "metrics")["step"].max() == 30000
    clean = check_results(workdir)
    assert clean.returncode == 0, clean.stdout
    assert "0 stale, 0 unreadable" in clean.stdout


def test_a_trainer_stops_when_its_snakemake_is_killed(finished, tmp_path):
    workdir = copy_of(finished, tmp_path)
    set_steps(workdir, 3_000_000)  # hours of training: it would outlive the test if not stopped
    run = start(workdir)
    trainer = trainer_of(run.pid)
    run.send_signal(signal.SIGKILL)  # as a user's kill -9 would
    run.wait()
    assert gone(trainer, timeout_s=30), f"trainer {trainer} still running after its snakemake died"
    log = (workdir / "results/logs/train/ljat_arch/N200/h5-5/seeds0-1.log").read_text()
    assert f"(PID {run.pid}) has gone: stopping" in log


def test_a_corrupt_data_file_stops_the_run_before_anything_is_deleted(finished, tmp_path):
    workdir = copy_of(finished, tmp_path)
    runs = digests(workdir / RUN)
    train_set = workdir / TRAIN_SET
    train_set.write_bytes(train_set.read_bytes()[:200])  # truncated, newer than the runs

    result = run_in(workdir, "--cores", "2", TARGET)
    assert result.returncode != 0
    assert f"results error: {TRAIN_SET} is not a readable Parquet file" in result.stderr
    advice = f"snakemake --cores all --forcerun {TRAIN_SET}"
    assert advice in result.stderr and "Nothing was run or deleted." in result.stderr
    assert digests(workdir / RUN) == runs  # the finished runs are still there, unchanged
    planned = run_in(workdir, "-n", TARGET)
    assert f"results warning: {TRAIN_SET} is not a readable Parquet file" in planned.stderr

    rebuilt = run_in(
        workdir, "--cores", "2", "--forcerun", TRAIN_SET, TARGET
    )  # the advice, as given
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert len(storage.read_frame(train_set, "ljat19")) == 200
    assert check_results(workdir).returncode == 0
    assert "Nothing to be done" in run_in(workdir, "-n", TARGET).stdout


def test_a_second_trainer_on_a_held_checkpoint_stops_naming_the_holder(finished, tmp_path):
    checkpoint = tmp_path / "seeds0-1.pt"
    with lock_held_elsewhere(checkpoint) as pid:
        cell = {"n_train": 200, "arch": "h5-5", "seeds": [0, 1]}
        job = settings.as_json(settings.with_cell(json.loads(job_settings(steps=1000)), **cell))
        command = [
            sys.executable, "-m", "glassynets.cli", "--log", str(tmp_path / "train.log"), "train",
            "--settings", job, "--in", f"train={TRAIN_SET}",
            "--in", "test=resources/ljat19/test.parquet", "--threads", "1",
            "--checkpoint", str(checkpoint), "--checkpoint-every-s", "1",
            "--out", f"snapshots={tmp_path / 's.parquet'}", "--out", f"metrics={tmp_path / 'm.parquet'}",
            "--out", f"two_time={tmp_path / 't.parquet'}",
        ]  # fmt: skip
        second = subprocess.run(command, cwd=finished, capture_output=True, text=True, timeout=120)
    assert second.returncode == 1
    assert f"in use by another job (PID {pid})" in second.stderr  # on the console
    assert f"(PID {pid})" in (tmp_path / "train.log").read_text()  # and in the log
    assert not (tmp_path / "m.parquet").exists()


def test_a_published_file_with_a_nan_stops_at_the_data_rule_naming_row_and_column(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "r12": rng.uniform(1, 1.8, 50),
            "r13": rng.uniform(1, 1.8, 50),
            "r23": rng.uniform(1, 1.8, 50),
        }
    )
    frame["label"] = rng.integers(0, 4, 50)
    frame.loc[6, "r13"] = np.nan
    table = tmp_path / "published.csv"
    frame.to_csv(table, index=False)
    digest = hashlib.sha256(table.read_bytes()).hexdigest()
    published = {
        "train": str(table),
        "train_sha256": digest,
        "test": str(table),
        "test_sha256": digest,
    }
    config = {**CONFIG, "ljat19": {"source": "published", "test_size": 50, "published": published}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_in(tmp_path, "--cores", "1", TRAIN_SET)
    assert result.returncode != 0
    # the job's own line, on the console (not only in its log), with the cause
    assert "row 7, column 'r13' holds nan, not a finite distance > 0" in result.stderr
    assert "lower lr" not in result.stderr
    assert not (tmp_path / TRAIN_SET).exists()


def test_configs_and_folders_that_cannot_work_stop_with_one_line(tmp_path):
    config = {
        **CONFIG,
        "experiments": {"ljat_arch": {**CONFIG["experiments"]["ljat_arch"], "steps": 1}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_in(tmp_path, "-n", TARGET)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert (
        "config error: 'experiments.ljat_arch.steps' gives 1 step(s): no waiting time"
        in result.stderr
    )

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    (tmp_path / "results/figures/fig2.pdf").mkdir(parents=True)
    result = run_in(tmp_path, "-n", TARGET)
    assert result.returncode != 0
    assert (
        "results error: results/figures/fig2.pdf is a folder where the workflow writes a file"
        in result.stderr
    )
