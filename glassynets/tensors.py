"""Data tables as tensors: what a training or Hessian job computes on.

LJAT19 tables (schema ``ljat19`` in :mod:`glassynets.storage`) become features x [n, d] (the
chosen starting distances, σ units, float) and labels y [n] (int64, 0..3); image tables (schema
``images``) become pixels x [n, 784] (preprocessed) and labels y [n] (int64, 0..9).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from . import images, storage
from .data import DataError


def dataset_tensors(
    settings: dict[str, Any], path: str | os.PathLike, limit: int | None, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features [n, d] and labels [n] of a data table, as a job's settings say (data set, features
    or preprocessing: glassynets.settings.dataset_settings); the first ``limit`` rows if given."""
    if settings["dataset"] == "ljat19":
        return ljat19_tensors(path, settings["features"], limit=limit, dtype=dtype)
    return image_tensors(
        path, settings["dataset"], settings["preprocess"], limit=limit, dtype=dtype
    )


def image_tensors(
    path: str | os.PathLike,
    dataset: str,
    preprocess: str = "unit",
    limit: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels [n, 784] (preprocessed, see :func:`glassynets.images.preprocess`) and labels [n] of an
    images table of ``dataset`` (mnist, fashion_mnist); the first ``limit`` rows if given."""
    pixels, labels = storage.read_images(path)
    if limit is not None:
        if limit > len(labels):
            raise DataError(f"{path}: holds {len(labels)} images, {limit} requested")
        pixels, labels = pixels[:limit], labels[:limit]
    return images.preprocess(pixels, preprocess, dataset, dtype), torch.from_numpy(
        labels.astype(np.int64)
    )


def ljat19_tensors(
    path: str | os.PathLike,
    features: list[str],
    limit: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features [n, d] and labels [n] of an LJAT19 table; the first ``limit`` rows if given."""
    frame = storage.read_frame(path, "ljat19")
    if limit is not None:
        if limit > len(frame):
            raise DataError(f"{path}: holds {len(frame)} samples, {limit} requested")
        frame = frame.iloc[:limit]
    if (frame["label"] < 0).any():
        raise DataError(
            f"{path}: contains samples whose minimisation failed (label −1); regenerate it"
        )
    x = torch.tensor(frame[features].to_numpy(), dtype=dtype)
    y = torch.tensor(frame["label"].to_numpy(), dtype=torch.int64)
    return x, y
