"""The data stages of the workflow: LJAT19 tables (regenerated from the physics or read from the
verified published file) and their Bayes limits; the image data sets' files fetched and verified,
their splits converted to tables and the training subsets drawn. Each reads a job
(:class:`glassynets.jobs.Job`) and writes its tables (:mod:`glassynets.storage`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import data, images, ljat19, storage
from .jobs import Job


def ljat19_table(job: Job) -> None:
    """Write an LJAT19 table: regenerated from the physics, or the first n rows of the verified
    published file (settings: glassynets.settings.ljat19_dataset)."""
    chosen = dict(job.settings)
    n, source = chosen.pop("n"), chosen.pop("source")
    published = job.input("published") if source == "published" else None
    if published:
        frame = data.read_ljat19_published(published)
        if n > len(frame):
            raise data.DataError(f"{published}: holds {len(frame)} samples, {n} requested")
        frame = frame.iloc[:n] if n > 0 else frame
        meta = {"source": "published", "file": str(published)}
    else:
        start, seed = time.perf_counter(), chosen.pop("seed")
        geometry = ljat19.StartGeometry(**chosen)
        frame, failed = regenerate(n, seed, geometry)
        meta = {
            "source": "regenerated",
            "seed": seed,
            "failed_skipped": failed,
            **ljat19.generator_params(geometry),
        }
        job.log(
            f"LJAT19: {n} samples in {time.perf_counter() - start:.1f} s; "
            f"{failed} starts whose minimisation failed were skipped"
        )
    data.check_ljat19(frame, published or "the regenerated samples")
    counts = np.bincount(frame["label"].to_numpy(), minlength=4)
    job.log(f"label counts (triangle, chain centred on 1, 2, 3): {counts.tolist()}")
    columns = {c: frame[c].to_numpy() for c in storage.SCHEMAS["ljat19"].names}
    storage.write(job.output("table"), "ljat19", columns, job.meta({**meta, "n": len(frame)}))


def regenerate(n: int, seed: int, geometry: ljat19.StartGeometry) -> tuple[pd.DataFrame, int]:
    """The first n samples of the stream whose minimisation succeeded, and the number skipped.

    Skipping keeps the prefix property (the N = 100 set is the start of the N = 1000 set);
    failures are rare (see docs/ljat19.md), and more than 1% stops with an error.
    """
    margin = max(16, n // 100)
    frame = ljat19.generate(n + margin, seed, geometry=geometry)
    kept = np.flatnonzero(frame["label"].to_numpy() >= 0)
    if len(kept) < n:
        raise data.DataError(
            f"{n + margin - len(kept)} of {n + margin} LJAT19 minimisations failed (seed {seed}); "
            f"check ljat19.start ({geometry.params()})"
        )
    return frame.iloc[kept[:n]].reset_index(drop=True), int(kept[n - 1] + 1 - n)


def ljat19_fetch(job: Job) -> None:
    """Copy or download a published LJAT19 file and keep it only if its sha256 matches."""
    source = job.settings["source"]
    data.fetch_verified(
        job.output("file"),
        [source],
        data.sha256_check(job.settings["sha256"]),
        what=f"LJAT19 file {source}",
        hint="Check ljat19.published in the config, or download the file by hand and give its path.",
        retries=1,
        log=job.log,
    )
    job.log(f"verified {source} -> {job.output('file')}")


def ljat19_limits(job: Job) -> None:
    """Bayes accuracy ceiling and conditional-entropy floor of the label given the input features."""
    sample, features = job.input("sample"), job.settings["features"]
    frame = storage.read_frame(sample, "ljat19")
    frame = frame[frame["label"] >= 0]
    limits = ljat19.bayes_limits(frame[features].to_numpy(), frame["label"].to_numpy())
    limits = job.meta({**limits, "features": features, "sample": str(sample)})
    job.log(f"LJAT19 limits from {len(frame)} samples: {limits}")
    storage.atomic_write_text(job.output("limits"), json.dumps(limits, indent=2) + "\n")


def images_fetch(job: Job) -> None:
    """Copy one official file of an image data set from a local folder, or download it; verified."""
    out = Path(job.output("file"))
    chosen = job.settings
    images.fetch(
        chosen["dataset"],
        out.name,
        out.parent,
        source_dir=chosen["source_dir"],
        mirrors=chosen["mirrors"],
        log=job.log,
    )


def images_convert(job: Job) -> None:
    """Check one split's two IDX files (checksums, magic numbers, sizes) and store it as an images table."""
    dataset, files = job.settings["dataset"], (job.input("images"), job.input("labels"))
    for path in files:
        if not Path(path).is_file():
            raise data.DataError(
                f"{path}: no such file; the workflow fetches it (snakemake --cores 1 {path}), "
                "or give the path of the official file"
            )
        if (problem := images.verify(dataset, path)) is not None:
            raise data.DataError(f"{path}: {problem}; delete it and run again to fetch it")
    pixels, labels = images.read_split(*files)
    counts = np.bincount(labels, minlength=10).tolist()
    job.log(f"{files[0]}: {len(labels)} images, label counts {counts}")
    meta = {"dataset": dataset, "source": [Path(p).name for p in files]}
    storage.write_images(job.output("table"), labels, pixels, job.meta(meta))


def images_subset(job: Job) -> None:
    """Draw a deterministic training subset of N images from a converted split."""
    split, chosen = job.input("split"), job.settings
    n, subset, seed = chosen["n"], chosen["subset"], chosen["subset_seed"]
    pixels, labels = storage.read_images(split)
    idx = images.subset_indices(labels, n, seed, stratified=subset == "stratified")
    meta = {
        **storage.metadata(split),
        "split_file": str(split),
        "n": n,
        "subset": subset,
        "subset_seed": seed,
    }
    counts = np.bincount(labels[idx], minlength=10).tolist()
    job.log(f"{n} of {len(labels)} images ({subset}, seed {seed}); label counts {counts}")
    storage.write_images(job.output("table"), labels[idx], pixels[idx], job.meta(meta))
