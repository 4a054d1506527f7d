"""Data sets as tensors, and verified copies of files the user provides or the workflow fetches.

LJAT19 tables (schema ``ljat19`` in :mod:`glassynets.storage`) become features x [n, d] (the
chosen starting distances, σ units, float) and labels y [n] (int64, 0..3); MNIST image tables
(schema ``images``) become pixels x [n, 784] (preprocessed) and labels y [n] (int64, 0..9).
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import storage
from .storage import sha256sum


class DataError(ValueError):
    """A data file is missing, corrupt, or not what the configuration says it is."""


def fetch_verified(source: str, sha256: str, dest: str | os.PathLike, timeout_s: float = 60) -> Path:
    """Copy a local file or download a URL to ``dest``, accepting it only if its sha256 matches.

    The bytes land under a temporary name and are renamed only after the check, so ``dest``
    never holds an unverified or partial file.
    """
    def fetch_and_check(tmp: Path) -> None:
        if "://" in source:
            try:
                with urllib.request.urlopen(source, timeout=timeout_s) as response, open(tmp, "wb") as out:
                    shutil.copyfileobj(response, out)
            except OSError as err:
                raise DataError(f"could not download {source}: {err}; download it by hand and give its local path") from err
        else:
            if not Path(source).is_file():
                raise DataError(f"{source}: no such file; check the path in the config")
            shutil.copyfile(source, tmp)
        got = sha256sum(tmp)
        if got != sha256.lower():
            raise DataError(f"{source}: sha256 is {got}, the config expects {sha256}; the file is corrupt or a different version")

    return storage.replace_atomically(dest, fetch_and_check)


def read_ljat19_published(path: str | os.PathLike) -> pd.DataFrame:
    """Read a published-format LJAT19 file (CSV or Parquet with columns r12, r13, r23, label)."""
    path = Path(path)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = {"r12", "r13", "r23", "label"} - set(frame.columns)
    if missing:
        raise DataError(f"{path}: missing columns {sorted(missing)}; expected r12, r13, r23, label")
    labels = frame["label"].to_numpy()
    if not np.isin(labels, [0, 1, 2, 3]).all():
        raise DataError(f"{path}: column 'label' must hold 0..3 (triangle, chains centred on atoms 1, 2, 3)")
    return pd.DataFrame(
        {"r12": frame["r12"].astype(float), "r13": frame["r13"].astype(float), "r23": frame["r23"].astype(float),
         "label": labels.astype(np.int8), "final_energy": np.nan}
    )


def mnist_tensors(
    path: str | os.PathLike, preprocess: str = "unit", limit: int | None = None, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels [n, 784] (preprocessed, see :func:`glassynets.mnist.preprocess`) and labels [n] of an
    MNIST images table; the first ``limit`` rows if given."""
    from . import mnist

    pixels, labels = storage.read_images(path)
    if limit is not None:
        if limit > len(labels):
            raise DataError(f"{path}: holds {len(labels)} images, {limit} requested")
        pixels, labels = pixels[:limit], labels[:limit]
    return mnist.preprocess(pixels, preprocess, dtype), torch.from_numpy(labels.astype(np.int64))


def ljat19_tensors(
    path: str | os.PathLike, features: list[str], limit: int | None = None, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features [n, d] and labels [n] of an LJAT19 table; the first ``limit`` rows if given."""
    frame = storage.read_frame(path, "ljat19")
    if limit is not None:
        if limit > len(frame):
            raise DataError(f"{path}: holds {len(frame)} samples, {limit} requested")
        frame = frame.iloc[:limit]
    if (frame["label"] < 0).any():
        raise DataError(f"{path}: contains samples whose minimisation failed (label −1); regenerate it")
    x = torch.tensor(frame[features].to_numpy(), dtype=dtype)
    y = torch.tensor(frame["label"].to_numpy(), dtype=torch.int64)
    return x, y
