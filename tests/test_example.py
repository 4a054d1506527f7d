"""The worked example (examples/fashion_cnn): a reduced run on the real Fashion-MNIST files."""

import subprocess
import sys

import pytest

from conftest import FASHION_FILES, ROOT
from glassynets import storage


@pytest.mark.skipif(
    not (FASHION_FILES / "train-images-idx3-ubyte.gz").exists(),
    reason=f"no Fashion-MNIST files in {FASHION_FILES} (a clone without ../shared/data)",
)
def test_fashion_cnn_example_reduced(tmp_path):
    """3 seeds × 400 steps on 500 images, one process: the recorder's tables, then the
    `glassynets analyse` command and its figure."""
    out = tmp_path / "out"
    command = [
        sys.executable,
        str(ROOT / "examples/fashion_cnn/run.py"),
        *("--steps", "400", "--seeds", "3", "--n-train", "500", "--jobs", "1"),
        *("--n-boot", "20", "--data", str(FASHION_FILES), "--out", str(out)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "glassynets analyse" in done.stdout and "aging class:" in done.stdout
    runs = sorted((out / "runs").glob("seed*.parquet"))
    assert len(runs) == 3
    meta = storage.metadata(runs[0])
    assert meta["n_params"] == 5994 and meta["steps"] == 400 and meta["dataset"] == "Fashion-MNIST"
    summary = (out / "aging" / "summary.txt").read_text()
    assert "cnn 8c5-16c5-fc10: 3 runs of 400 steps, P = 5,994" in summary
    assert (out / "aging" / "aging.png").stat().st_size > 10_000
