"""Throughput of the stacked ensemble trainer vs a plain per-network PyTorch loop, one thread.

    python bench/train_throughput.py [--quick] [--mnist]

For each LJAT19 architecture (100 networks, N = 1000 random 2-D points, 4 classes, B = 100) it
times glassynets.training.train_ensemble (no snapshots or metrics: the SGD loop, data order
included) and the way most users write it: nn.Sequential(Linear, Tanh, ...) + torch.optim.SGD
(weight_decay = 2λ, the gradient of λ‖θ‖²) + CrossEntropyLoss, one network at a time, timed on a
few networks and scaled. Each timing is repeated and the median reported, in network-steps per
second (one SGD step of one network). Prints a table, then one JSON line {"records": [...]}.
--mnist adds [784, 5, 5, 10] on N = 10000 random inputs, B = 50, independent and shared order.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from torch import nn

from glassynets.nets import Architecture
from glassynets.training import TrainSpec, train_ensemble

LR, LAM = 0.05, 1e-4


def make_data(n: int, d: int, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)


def time_ours(arch: Architecture, x, y, batch: int, steps: int, nets: int, order: str) -> float:
    """Seconds for `steps` SGD steps of `nets` networks (one train_ensemble call)."""
    none = np.zeros(0, dtype=np.int64)
    spec = TrainSpec(arch, LR, batch, LAM, steps, tuple(range(nets)), none, none, data_order=order)
    t = time.perf_counter()
    train_ensemble(spec, x, y, x[:1], y[:1], log=lambda m: None)
    return time.perf_counter() - t


def time_naive(arch: Architecture, x, y, batch: int, steps: int, nets: int) -> float:
    """Seconds for `steps` steps of each of `nets` networks, trained one after the other."""
    t = time.perf_counter()
    for seed in range(nets):
        torch.manual_seed(seed)
        mods: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(arch.widths[:-1], arch.widths[1:])):
            lin = nn.Linear(a, b)
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
            mods += [lin] if i == len(arch.widths) - 2 else [lin, nn.Tanh()]
        model = nn.Sequential(*mods)
        opt = torch.optim.SGD(model.parameters(), lr=LR, weight_decay=2 * LAM)
        loss_fn = nn.CrossEntropyLoss()
        per_epoch, perm = len(x) // batch, None
        for s in range(steps):
            j = s % per_epoch
            if j == 0:
                perm = torch.randperm(len(x))
            idx = perm[j * batch : (j + 1) * batch]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    return time.perf_counter() - t


def median_rate(fn, work: int, repeats: int) -> float:
    fn()  # warm-up
    return work / statistics.median(fn() for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats (~30 s)")
    ap.add_argument("--mnist", action="store_true", help="add the MNIST-shaped [784,5,5,10] cases")
    args = ap.parse_args()
    torch.set_num_threads(1)
    repeats = 3 if args.quick else 5
    steps, naive_steps, naive_nets = (500, 200, 2) if args.quick else (3000, 500, 3)

    cases = [("h10", 2, (10,), 4, 1000, 100, "independent"), ("h5-5", 2, (5, 5), 4, 1000, 100, "independent"),
             ("h4-4-4", 2, (4, 4, 4), 4, 1000, 100, "independent")]
    if args.mnist:
        cases += [("mnist-h5-5", 784, (5, 5), 10, 10000, 50, "independent"),
                  ("mnist-h5-5", 784, (5, 5), 10, 10000, 50, "shared")]
    records = []
    print(f"{'arch':12s} {'order':12s} {'ours net-steps/s':>17s} {'naive net-steps/s':>18s} {'speedup':>8s}")
    for name, d, hidden, c, n, batch, order in cases:
        arch, (x, y) = Architecture(d, hidden, c), make_data(n, d, c)
        s = steps // 5 if d > 100 and order == "independent" else steps // 3 if d > 100 else steps
        ours = median_rate(lambda: time_ours(arch, x, y, batch, s, 100, order), s * 100, repeats)
        naive = median_rate(lambda: time_naive(arch, x, y, batch, naive_steps, naive_nets), naive_steps * naive_nets, repeats)
        records.append({"arch": name, "order": order, "net_steps_per_s": round(ours), "naive_net_steps_per_s": round(naive),
                        "speedup": round(ours / naive, 1)})
        print(f"{name:12s} {order:12s} {ours:17,.0f} {naive:18,.0f} {ours / naive:7.1f}x", flush=True)
    print(json.dumps({"records": records}))


if __name__ == "__main__":
    main()
