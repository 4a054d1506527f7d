"""Overhead of glassynets.AgingRecorder in a plain PyTorch loop, 1M parameters, one thread.

    python bench/recorder_overhead.py [--steps 2000] [--repeats 3] [--batch 32]

The model: nn.Sequential(Linear(784, 1024), ReLU, Linear(1024, 256), ReLU, Linear(256, 10)),
P = 1,068,810, torch.optim.SGD, cross-entropy on random inputs (B = --batch). Side by side in one
process, alternating R times (order swapped every repeat): the same loop without the recorder
(baseline) and with it (the workflow's grid: 10 waiting times and 20 lags per decade, two ε).
Every step is timed with perf_counter_ns around the same code in both loops (the baseline times an
empty call where the other calls observe). Reported, medians over the repeats:

- off-grid steps: the median step time of each loop, their ratio, and the median time of an
  observe() call that has nothing to do (the claim: a step off the grid costs nothing measurable);
- grid steps: how many, the median and total time observe() spends on them (flatten θ, check it
  is finite, keep θ(t_w), compare with the θ(t_w) whose lag lands there);
- the whole run: total time of each loop and their ratio; the θ(t_w) memory (W·P·4 bytes).
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # measure the checkout this script lives in

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from glassynets.recorder import AgingRecorder  # noqa: E402


def model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 10)
    )


def run(steps: int, batch: int, record: bool, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(4096, 784, generator=g), torch.randint(0, 10, (4096,), generator=g)
    rec = AgingRecorder(net.parameters(), steps=steps) if record else None
    observe = rec.observe if rec is not None else (lambda s: None)
    step_ns = np.empty(steps, dtype=np.int64)
    observe_ns = np.empty(steps, dtype=np.int64)
    clock = time.perf_counter_ns
    t_start = clock()
    for s in range(steps):
        t0 = clock()
        observe(s)
        t1 = clock()
        idx = torch.randint(0, 4096, (batch,), generator=g)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step_ns[s] = clock() - t0
        observe_ns[s] = t1 - t0
    observe(steps)
    total_s = (clock() - t_start) / 1e9
    grid = AgingRecorder([torch.zeros(1)], steps=steps).recorder.steps  # the grid only
    on_grid = np.array([s in grid for s in range(steps)])
    return {
        "total_s": total_s,
        "step_us_off_grid": float(np.median(step_ns[~on_grid])) / 1e3,
        "observe_ns_off_grid": float(np.median(observe_ns[~on_grid])),
        "grid_steps": int(on_grid.sum()),
        "observe_ms_on_grid_median": float(np.median(observe_ns[on_grid])) / 1e6,
        "observe_s_on_grid_total": float(observe_ns[on_grid].sum()) / 1e9,
        "memory_mib": rec.memory_bytes / 2**20 if rec is not None else 0.0,
        "n_params": sum(p.numel() for p in net.parameters()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    args = p.parse_args()
    torch.set_num_threads(1)
    results = {"baseline": [], "recorder": []}
    for r in range(args.repeats):
        for name in ("baseline", "recorder") if r % 2 == 0 else ("recorder", "baseline"):
            results[name].append(run(args.steps, args.batch, name == "recorder", seed=r))
            print(f"repeat {r}: {name} {results[name][-1]['total_s']:.1f} s", flush=True)
    med = {
        name: {
            k: (statistics.median_low if isinstance(rows[0][k], int) else statistics.median)(
                x[k] for x in rows
            )
            for k in rows[0]
        }
        for name, rows in results.items()
    }
    base, rec = med["baseline"], med["recorder"]
    print(
        f"\nP = {rec['n_params']:,}, {args.steps} steps, B = {args.batch}, one thread, "
        f"medians of {args.repeats} (interleaved)"
    )
    print(f"{'':34s} {'baseline':>12s} {'recorder':>12s} {'ratio':>8s}")
    print(
        f"{'step, off the grid (µs)':34s} {base['step_us_off_grid']:12.1f} "
        f"{rec['step_us_off_grid']:12.1f} {rec['step_us_off_grid'] / base['step_us_off_grid']:8.4f}"
    )
    print(
        f"{'observe() off the grid (ns)':34s} {base['observe_ns_off_grid']:12.0f} "
        f"{rec['observe_ns_off_grid']:12.0f}"
    )
    print(
        f"{'grid steps: observe() median (ms)':34s} {'':12s} "
        f"{rec['observe_ms_on_grid_median']:12.2f}   ({rec['grid_steps']} grid steps)"
    )
    print(
        f"{'grid steps: observe() total (s)':34s} {'':12s} {rec['observe_s_on_grid_total']:12.2f}"
    )
    print(
        f"{'whole run (s)':34s} {base['total_s']:12.1f} {rec['total_s']:12.1f} "
        f"{rec['total_s'] / base['total_s']:8.3f}"
    )
    print(f"{'θ(t_w) memory (MiB)':34s} {'':12s} {rec['memory_mib']:12.1f}")
    print(json.dumps({"steps": args.steps, "batch": args.batch, **{k: v for k, v in med.items()}}))


if __name__ == "__main__":
    main()
