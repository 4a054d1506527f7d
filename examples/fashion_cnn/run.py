"""Aging of a small CNN on Fashion-MNIST: glassynets.AgingRecorder in a plain PyTorch loop.

    python examples/fashion_cnn/run.py                 # 8 seeds, the sizes of the README (minutes)
    python examples/fashion_cnn/run.py --steps 2000 --seeds 4 --jobs 1   # smaller

Each seed trains the same CNN (two 5×5 convolutions and a linear layer, plain torch.nn) with
torch.optim.SGD on a stratified subset of the Fashion-MNIST training images, the recorder attached
(θ recorded before each update), and writes OUT/runs/seed<k>.parquet. Then `glassynets analyse`
runs on those tables and writes OUT/aging/ (tables, summary.txt, aging.pdf and .png).

Data: the four official files in --data (default: ../shared/data/fashion-mnist beside the
checkout, if there), each checked against its official md5/sha256; otherwise they are fetched,
verified, into examples/fashion_cnn/data/ (glassynets.images.fetch).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import glassynets
from glassynets import images

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1].parent / "shared/data/fashion-mnist"
ARCH = "cnn 8c5-16c5-fc10"


def make_model() -> nn.Module:
    """Two convolutions and a linear layer: P = 5,994."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 5),  # 28 -> 24
        nn.ReLU(),
        nn.MaxPool2d(2),  # -> 12
        nn.Conv2d(8, 16, 5),  # -> 8
        nn.ReLU(),
        nn.MaxPool2d(2),  # -> 4
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )


def data_folder(folder: Path | None) -> Path:
    """A folder holding the two training files, each verified as the official one."""
    names = images.split_files(["train"])
    if folder is None and not SHARED.is_dir():
        for name in names:  # looked for in Debian's dataset-fashion-mnist folder, else downloaded
            images.fetch("fashion_mnist", name, HERE / "data")
        return HERE / "data"
    folder = SHARED if folder is None else Path(folder)
    for name in names:
        why = images.verify("fashion_mnist", folder / name)
        if why is not None:
            raise SystemExit(f"{folder / name}: not the official Fashion-MNIST file: {why}")
    return folder


def load(folder: Path, n_train: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A stratified subset of n_train training images, x [n, 1, 28, 28] in [0, 1], y [n]."""
    pixels, labels = images.read_split(*(folder / n for n in images.split_files(["train"])))
    keep = images.subset_indices(labels, n_train, seed=0)
    x = images.preprocess(pixels[keep], "unit", "fashion_mnist").view(-1, 1, 28, 28)
    return x, torch.from_numpy(labels[keep].astype(np.int64))


def train(seed: int, args: argparse.Namespace) -> str:
    torch.set_num_threads(1)
    x, y = load(args.data, args.n_train)
    torch.manual_seed(seed)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, weight_decay=2 * args.l2)
    recorder = glassynets.AgingRecorder(model.parameters(), steps=args.steps)
    order = torch.Generator().manual_seed(1000 + seed)
    per_epoch = len(y) // args.batch_size
    t0 = time.perf_counter()
    for step in range(args.steps):
        recorder.observe(step)  # θ before this step's update
        epoch_step = step % per_epoch
        if epoch_step == 0:
            perm = torch.randperm(len(y), generator=order)
        idx = perm[epoch_step * args.batch_size : (epoch_step + 1) * args.batch_size]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    recorder.observe(args.steps)  # θ after the last update
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        logits = torch.cat([model(x[i : i + 1000]) for i in range(0, len(y), 1000)])
        train_loss = float(F.cross_entropy(logits, y))
        train_acc = float((logits.argmax(1) == y).float().mean())
    recorder.to_parquet(
        args.out / "runs" / f"seed{seed}.parquet",
        run=seed,
        arch=ARCH,
        dataset="Fashion-MNIST",
        n_train=args.n_train,
        lr=args.lr,
        batch_size=args.batch_size,
        l2=args.l2,
    )
    return (
        f"seed {seed}: {args.steps} steps in {seconds:.0f} s, final train loss {train_loss:.3f}, "
        f"accuracy {train_acc:.3f}; {recorder}"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5_000)
    p.add_argument("--n-train", type=int, default=5_000)
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--l2", type=float, default=1e-4, help="λ of λ‖θ‖² (SGD weight_decay = 2λ)")
    p.add_argument("--delta-star", type=float, default=1e-3)
    p.add_argument("--n-boot", type=int, default=None, help="default: the schema's (1000)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    p.add_argument("--data", type=Path, default=None, help="folder of the four official files")
    p.add_argument("--out", type=Path, default=HERE / "out")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    args.data = data_folder(args.data)
    seeds = list(range(args.seeds))
    for old in (args.out / "runs").glob("seed*.parquet"):
        old.unlink()  # a fresh ensemble (the recorder refuses to write a run twice)
    if args.jobs > 1:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            lines = pool.starmap(train, [(seed, args) for seed in seeds])
    else:
        lines = [train(seed, args) for seed in seeds]
    print("\n".join(lines), flush=True)
    tables = [str(args.out / "runs" / f"seed{seed}.parquet") for seed in seeds]
    command = [
        *tables,
        "--delta-star",
        str(args.delta_star),
        "--plot-tw",
        "10",
        "100",
        "1000",
        "--out",
        str(args.out / "aging"),
    ]
    if args.n_boot is not None:
        command += ["--n-boot", str(args.n_boot)]
    print("glassynets analyse " + " ".join(command), flush=True)
    done = subprocess.run([sys.executable, "-m", "glassynets.cli", "analyse", *command])
    if done.returncode:
        raise SystemExit(done.returncode)
    print(f"total {time.perf_counter() - t0:.0f} s (training and analysis)")


if __name__ == "__main__":
    main()
