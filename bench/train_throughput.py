"""Throughput of the stacked ensemble trainer vs a plain per-network PyTorch loop and the sgemm peak, one thread.

    python bench/train_throughput.py [--quick] [--alpha] [--ref GIT_REF] [--ceiling]

First it measures the machine's single-thread float32 sgemm peak (median time of torch.mm on
square matrices of 1024-2048, best size). Then, for each case, it times
glassynets.training.train_ensemble (100 networks per call, no snapshots or metrics: the SGD loop,
data order included) and the way most users write it: nn.Sequential(Linear, Tanh, ...) +
torch.optim.SGD (weight_decay = 2λ, the gradient of λ‖θ‖²) + CrossEntropyLoss, one network at a
time, timed on a few networks and scaled. Cases:

- LJAT19 architectures on N = 1000 random 2-D points, 4 classes, B = 100, independent order;
- MNIST-shaped [784, 5, 5, 10] on N = 60000 random pixel values k/255 (the real training set size;
  a smaller N flatters the cache), B = 50, independent and shared order;
- with --alpha, also the wider α-sweep network [784, 17, 17, 17, 10], both orders.

Each timing is repeated and the median reported, in network-steps per second (one SGD step of
one network), on the wall clock and per CPU-second of this (single) thread: on a busy machine the
two differ by the time the process waits for a core. The arithmetic rate (see flops_per_net_step)
and its fraction of the sgemm peak use CPU time for both, so that waiting does not count.
--ref GIT_REF also times the trainer as it was at GIT_REF (the package extracted from git and
imported as glassynets_ref) on the MNIST cases, interleaved with the current code, for
before/after numbers taken in one run. --ceiling also times, interleaved with the shared-order
cases, a loop of only their layer-0 products (the gather of the shared minibatch, one mm forward
and one addmm_ update on [E·h, d+1]): the rate the step would reach if everything else were free.
Prints a table, then one JSON line {"sgemm_peak_gflops": ..., "records": [...]}.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # measure the checkout this script lives in, not an installed copy

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import glassynets.training  # noqa: E402
from glassynets.nets import Architecture  # noqa: E402

LR, LAM = 0.05, 1e-4
NETS = 100


def flops_per_net_step(arch: Architecture, batch: int) -> int:
    """Multiply-adds (2 FLOPs each) of one SGD step of one network, counted from the architecture.

    With layer l mapping in_l inputs (+1 for the bias column) to out_l outputs:
        forward             2·B·Σ_l out_l·(in_l + 1)
        weight gradients    2·B·Σ_l out_l·(in_l + 1)
        input gradients     2·B·Σ_{l≥1} out_l·in_l      (layer 0 needs none)
    Elementwise work (tanh, softmax, the fused decay) is not counted.
    E.g. [784, 5, 5, 10], B = 50: 401,500 + 401,500 + 7,500 = 810,500 FLOPs.
    """
    shapes = arch.layer_shapes  # [(out, in + 1)]
    fwd = 2 * batch * sum(o * i for o, i in shapes)
    bwd_in = 2 * batch * sum(o * (i - 1) for o, i in shapes[1:])
    return 2 * fwd + bwd_in


def clocks() -> tuple[float, float]:
    """(wall, CPU time of this thread) in seconds."""
    return time.perf_counter(), time.thread_time()


def since(t0: tuple[float, float]) -> tuple[float, float]:
    t1 = clocks()
    return t1[0] - t0[0], t1[1] - t0[1]


def sgemm_peak_gflops(repeats: int) -> float:
    """Single-thread float32 matrix-product rate per CPU-second: best over sizes (1024, 1536, 2048)
    of the median over repeats."""
    best = 0.0
    for n in (1024, 1536, 2048):
        a, b, c = torch.rand(n, n), torch.rand(n, n), torch.empty(n, n)
        torch.mm(a, b, out=c)
        times = []
        for _ in range(repeats):
            t0 = clocks()
            torch.mm(a, b, out=c)
            times.append(since(t0)[1])
        best = max(best, 2 * n**3 / statistics.median(times) / 1e9)
    return best


def load_ref(ref: str):
    """The glassynets package as of git REF (extracted with git archive and imported as
    glassynets_ref, so that its modules import each other at that REF); returns its training module."""
    folder = Path(tempfile.mkdtemp())
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "glassynets"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "glassynets").rename(folder / "glassynets_ref")
    spec = importlib.util.spec_from_file_location(
        "glassynets_ref",
        folder / "glassynets_ref/__init__.py",
        submodule_search_locations=[str(folder / "glassynets_ref")],
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules["glassynets_ref"] = package
    spec.loader.exec_module(package)
    return importlib.import_module("glassynets_ref.training")


def make_data(n: int, d: int, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random inputs and labels: for d > 100 pixel values k/255 with k uniform in 0..255 (what
    MNIST's unit preprocessing gives, so the trainer gathers them as bytes), else normal."""
    g = torch.Generator().manual_seed(0)
    x = (
        torch.randint(0, 256, (n, d), generator=g).float().div_(255)
        if d > 100
        else torch.randn(n, d, generator=g)
    )
    return x, torch.randint(0, c, (n,), generator=g)


def time_ours(
    mod, arch: Architecture, x, y, batch: int, steps: int, order: str
) -> tuple[float, float]:
    """(wall, CPU) seconds for `steps` SGD steps of NETS networks (one train_ensemble call of module mod)."""
    none = np.zeros(0, dtype=np.int64)
    spec = mod.TrainSpec(
        arch, LR, batch, LAM, steps, tuple(range(NETS)), none, none, data_order=order
    )
    t0 = clocks()
    mod.train_ensemble(spec, x, y, x[:1], y[:1], log=lambda m: None)
    return since(t0)


def timed_steps(mod, arch: Architecture, x, y, batch: int, steps: int, order: str):
    """A function timing `steps` SGD steps of train_ensemble in mod, less the fixed cost of a
    0-step call (median of 3: data copy, initialisation; 0.15 s on MNIST shapes, 30% of a quick
    run). The first chunk of data order (one randperm per network) stays in: it recurs every epoch."""
    setup = [
        statistics.median(t)
        for t in zip(*(time_ours(mod, arch, x, y, batch, 0, order) for _ in range(3)))
    ]
    return lambda: tuple(
        t - t0 for t, t0 in zip(time_ours(mod, arch, x, y, batch, steps, order), setup)
    )


def time_naive(arch: Architecture, x, y, batch: int, steps: int, nets: int) -> tuple[float, float]:
    """(wall, CPU) seconds for `steps` steps of each of `nets` networks, trained one after the other."""
    t0 = clocks()
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
    return since(t0)


def time_layer0_products(
    arch: Architecture, x_aug: torch.Tensor, batch: int, steps: int
) -> tuple[float, float]:
    """(wall, CPU) seconds for `steps` iterations of the shared-order step's two layer-0 products
    alone, on the trainer's shapes: gather B rows of x_aug = [x, 1] ([N, d+1]), Z = W x0ᵀ
    ([E·h, B]), W += α Z x0."""
    g = torch.Generator().manual_seed(1)
    w = torch.randn(NETS * arch.hidden[0], arch.n_in + 1, generator=g) * 0.03
    z = torch.empty(len(w), batch)
    idx = torch.randint(0, len(x_aug), (steps, batch), generator=g)
    t0 = clocks()
    for s in range(steps):
        x0 = x_aug.index_select(0, idx[s])
        torch.mm(w, x0.T, out=z)
        w.addmm_(z, x0, beta=1.0 - 2 * LR * LAM, alpha=-1e-6)  # tiny step: w stays finite
    return since(t0)


def median_rates(fns: dict, work: int, repeats: int) -> dict:
    """{name: (work / median wall seconds, work / median CPU seconds)} of each fn returning
    (wall, CPU) seconds; the repeats are interleaved so that load changes hit all fns alike."""
    for fn in fns.values():
        fn()  # warm-up
    times: dict = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(fn())
    return {
        k: tuple(work / statistics.median(t[i] for t in v) for i in (0, 1))
        for k, v in times.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats (< 1 min)")
    ap.add_argument(
        "--alpha", action="store_true", help="add the α-sweep network [784,17,17,17,10]"
    )
    ap.add_argument(
        "--ref", metavar="GIT_REF", help="also time the trainer at GIT_REF on the MNIST cases"
    )
    ap.add_argument(
        "--ceiling",
        action="store_true",
        help="also time the shared-order cases' layer-0 products alone (their rate if the rest were free)",
    )
    ap.add_argument(
        "--mnist", action="store_true", help=argparse.SUPPRESS
    )  # old flag: MNIST is now always on
    args = ap.parse_args()
    torch.set_num_threads(1)
    repeats = 3 if args.quick else 5
    # steps per timed call: fixed for LJAT19; for wide inputs a fixed arithmetic work per network
    # (400 independent-order or 1000 shared-order steps of [784, 5, 5, 10], B = 50; quick: 1/6)
    ljat_steps = 500 if args.quick else 2000
    wide_work = {
        k: v * 810_500 // (6 if args.quick else 1)
        for k, v in (("independent", 400), ("shared", 1000))
    }
    naive_steps, naive_nets = (200, 2) if args.quick else (500, 3)
    ref = load_ref(args.ref) if args.ref else None

    peak = sgemm_peak_gflops(repeats=5 if args.quick else 9)
    print(f"sgemm peak (one thread, float32, torch.mm, per CPU-s): {peak:.1f} GFLOP/s")
    cases = [
        ("h10", 2, (10,), 4, 1000, 100, "independent"),
        ("h5-5", 2, (5, 5), 4, 1000, 100, "independent"),
        ("h4-4-4", 2, (4, 4, 4), 4, 1000, 100, "independent"),
        ("mnist-h5-5", 784, (5, 5), 10, 60000, 50, "independent"),
        ("mnist-h5-5", 784, (5, 5), 10, 60000, 50, "shared"),
    ]
    if args.alpha:
        cases += [
            ("mnist-h17x3", 784, (17, 17, 17), 10, 60000, 50, "independent"),
            ("mnist-h17x3", 784, (17, 17, 17), 10, 60000, 50, "shared"),
        ]
    records, data, naive_cache = [], {}, {}
    ref_cols = f" {'ref wall':>9s} {'ref CPU':>9s}" if ref else ""
    print(
        f"{'arch':12s} {'order':12s} {'wall':>9s} {'CPU':>9s}{ref_cols} {'naive CPU':>9s} {'speedup':>8s} "
        f"{'kFLOP/step':>10s} {'GFLOP/s':>8s} {'% peak':>7s}   (net-steps/s; speedup, GFLOP/s per CPU-s)"
    )
    for name, d, hidden, c, n, batch, order in cases:
        arch = Architecture(d, hidden, c)
        if (n, d, c) not in data:
            data = {
                (n, d, c): make_data(n, d, c)
            }  # keep one data set at a time (N = 60000: 188 MB)
        x, y = data[(n, d, c)]
        s = ljat_steps if d <= 100 else max(20, wide_work[order] // flops_per_net_step(arch, batch))
        mods = {
            "ours": glassynets.training,
            **({"ref": ref} if ref is not None and d > 100 else {}),
        }
        fns = {k: timed_steps(m, arch, x, y, batch, s, order) for k, m in mods.items()}
        if args.ceiling and order == "shared":
            x_aug = torch.cat(
                [x, torch.ones(len(x), 1)], dim=1
            )  # once per case, not per repeat (188 MB)
            fns["layer-0 products"] = lambda: time_layer0_products(arch, x_aug, batch, s)
        rates = median_rates(fns, s * NETS, repeats)
        key = (name, n, batch)
        if key not in naive_cache:  # the plain loop does not depend on the ensemble's data order
            naive_cache[key] = median_rates(
                {"naive": lambda: time_naive(arch, x, y, batch, naive_steps, naive_nets)},
                naive_steps * naive_nets,
                repeats,
            )["naive"]
        (wall, cpu), naive = rates["ours"], naive_cache[key][1]
        flops = flops_per_net_step(arch, batch)
        gflops = cpu * flops / 1e9
        rec = {
            "arch": name,
            "widths": list(arch.widths),
            "n": n,
            "batch": batch,
            "order": order,
            "net_steps_per_s": round(wall),
            "net_steps_per_cpu_s": round(cpu),
            "naive_net_steps_per_cpu_s": round(naive),
            "speedup": round(cpu / naive, 1),
            "flops_per_net_step": flops,
            "gflops": round(gflops, 2),
            "pct_of_sgemm_peak": round(100 * gflops / peak, 1),
        }
        ref_cells = f" {'':9s} {'':9s}" if ref else ""
        if "ref" in rates:
            rec["ref"], rec["ref_net_steps_per_s"], rec["ref_net_steps_per_cpu_s"] = (
                args.ref,
                *map(round, rates["ref"]),
            )
            ref_cells = f" {rates['ref'][0]:9,.0f} {rates['ref'][1]:9,.0f}"
        records.append(rec)
        print(
            f"{name:12s} {order:12s} {wall:9,.0f} {cpu:9,.0f}{ref_cells} {naive:9,.0f} {cpu / naive:7.1f}x "
            f"{flops / 1e3:10,.1f} {gflops:8.2f} {100 * gflops / peak:6.1f}%",
            flush=True,
        )
        if "layer-0 products" in rates:
            step_us = {k: 1e6 * NETS / rates[k][1] for k in ("ours", "layer-0 products")}
            allowed_us = 1e6 * NETS * flops / (0.6 * peak * 1e9)
            rec["layer0_only_pct_of_sgemm_peak"] = round(
                100 * rates["layer-0 products"][1] * flops / 1e9 / peak, 1
            )
            rec["rest_of_step_us"] = round(step_us["ours"] - step_us["layer-0 products"])
            print(
                f"{'':25s}layer-0 products alone: {rec['layer0_only_pct_of_sgemm_peak']}% of peak "
                f"({step_us['layer-0 products']:,.0f} us per step of {NETS} nets); the rest of the step takes "
                f"{rec['rest_of_step_us']:,} us, and 60% of peak leaves it "
                f"{allowed_us - step_us['layer-0 products']:,.0f} us",
                flush=True,
            )
    print(json.dumps({"sgemm_peak_gflops": round(peak, 1), "records": records}))


if __name__ == "__main__":
    main()
