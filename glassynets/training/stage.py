"""The workflow's train stage: one block of seeds of one cell, trained and written as three tables."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .. import storage, tensors
from ..jobs import Job
from ..nets import Architecture
from .loop import train_resumable
from .spec import TrainSpec, resolve_device


def train(job: Job) -> None:
    """Train one block of seeds of one cell and write its snapshots, metrics and two-time observables.

    Settings: glassynets.settings.train; cell: n_train (N, the first N rows of the training
    table), arch (hidden layers, e.g. "h5-5") and seeds ([first, last], inclusive). Inputs train,
    test (tables); outputs snapshots, metrics, two_time. The checkpoint is deleted once the
    outputs are written.
    """
    settings, cell = job.settings, job.cell
    torch.set_num_threads(job.threads)
    device = resolve_device(settings["device"])
    job.log(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}); one thread per job avoids oversubscription; "
        f"device {device}"
        + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else "")
        + (f" (asked: {settings['device']})" if settings["device"] != device else "")
    )
    train_file, test_file = job.input("train"), job.input("test")
    dtype = getattr(torch, settings["dtype"])
    x_train, y_train = tensors.dataset_tensors(settings, train_file, cell["n_train"], dtype)
    x_test, y_test = tensors.dataset_tensors(settings, test_file, None, dtype)
    storage.release_unused_memory()  # the data are tensors now
    arch = Architecture.from_name(cell["arch"], x_train.shape[1], settings["n_classes"])
    first, last = cell["seeds"]
    spec = TrainSpec.from_settings(settings, arch, tuple(range(first, last + 1)), device)
    n_train = len(y_train)
    job.log(
        f"cell {settings['experiment']}/N{n_train}/{arch.name}: P = {arch.n_params}, α = P/N = "
        f"{arch.n_params / n_train:.4g}, seeds {first}-{last}, {spec.steps} steps, {len(spec.snapshot_steps)} snapshots, "
        f"{len(spec.metric_steps)} metric points, two-time observables at {len(spec.waiting_times)} t_w × "
        f"{len(spec.lags)} lags from t = 1"
    )
    checkpoint = Path(job.checkpoint) if job.checkpoint else None
    result = train_resumable(
        spec, x_train, y_train, x_test, y_test, checkpoint, job.checkpoint_every_s, job.log
    )
    meta = {
        **settings,
        "arch": arch.name,
        "widths": list(arch.widths),
        "n_params": arch.n_params,
        "n_train": n_train,
        "alpha": arch.n_params / n_train,
        "device": device,
        "train_file": str(train_file),
        "test_file": str(test_file),
        "seeds": list(spec.seeds),
    }
    meta.update(storage.provenance([train_file, test_file], meta))
    outputs = [job.output(name) for name in ("snapshots", "metrics", "two_time")]
    storage.write_training(result, np.asarray(spec.seeds), *outputs, job.meta(meta))
    if checkpoint:
        checkpoint.unlink(missing_ok=True)
    job.log(f"wrote {outputs[0]}, {outputs[1]} and {outputs[2]}")
