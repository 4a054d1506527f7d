"""Cost of the online two-time observables (two_time.Recorder) against training, one thread.

    python bench/two_time_cost.py [--quick] [--repeats R] [--ljat-steps N] [--only CASE ...]

Two measurements per network shape, both with the paper's grid (10 waiting times and 20 lags per
decade from 1, two ε for the overlaps):

1. side by side: train_ensemble for the same steps with the recorder and without it (no snapshots,
   no metrics), alternating the two R times; the median ratio is the recorder's share of a run
   of that length (a short run overstates it: pairs are densest at small t_w + t);
2. the whole paper run, extrapolated: the recorder alone fed the θ of every step of its grid up to
   the paper's last step (its full cost, every pair), against the training time of that many steps
   at the rate measured in 1.

Shapes: the three LJAT19 networks (N = 1000, B = 100, E = 50 networks per job, 150,000 steps) and
the MNIST networks [784, 5, 5, 10] (300,000 steps) and [784, 17, 17, 17, 10] (10⁶ steps), N = 60000
random pixels k/255, B = 50, E = 50. Targets: ≤ 10% of training on LJAT19, ≤ 5% on MNIST.
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

from glassynets import two_time  # noqa: E402
from glassynets.nets import Architecture  # noqa: E402
from glassynets.training import TrainSpec, train_ensemble  # noqa: E402

EPS = (0.01, 0.1)
#: (name, widths, N, B, paper steps)
CASES = [
    ("ljat h10", [2, 10, 4], 1000, 100, 150_000),
    ("ljat h5-5", [2, 5, 5, 4], 1000, 100, 150_000),
    ("ljat h4-4-4", [2, 4, 4, 4, 4], 1000, 100, 150_000),
    ("mnist h5-5", [784, 5, 5, 10], 60_000, 50, 300_000),
    ("mnist h17-17-17", [784, 17, 17, 17, 10], 60_000, 50, 1_000_000),
]


def data(widths: list[int], n: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    if widths[0] == 784:
        x = torch.randint(0, 256, (n, 784), generator=g).float().div_(255)
    else:
        x = 1 + torch.rand(n, widths[0], generator=g)
    return x, torch.randint(0, widths[-1], (n,), generator=g)


def spec(widths: list[int], batch: int, steps: int, nets: int, record: bool) -> TrainSpec:
    tws, lags = two_time.grid(steps, 10, 20) if record else (np.zeros(0), np.zeros(0))
    return TrainSpec(
        arch=Architecture.from_widths(widths),
        lr=0.05,
        batch_size=batch,
        weight_decay=1e-4,
        steps=steps,
        seeds=tuple(range(nets)),
        snapshot_steps=[],
        metric_steps=[],
        waiting_times=tws,
        lags=lags,
        overlap_eps=EPS if record else (),
    )


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def recorder_alone(widths: list[int], nets: int, last_step: int) -> tuple[float, int]:
    """Seconds the recorder takes over a whole run of last_step steps (θ drifting randomly), and its pair count."""
    arch = Architecture.from_widths(widths)
    tws, lags = two_time.grid(last_step, 10, 20)
    rec = two_time.Recorder(tws, lags, last_step, EPS, nets, arch.n_params)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(nets, arch.n_params)).astype(np.float32)
    steps = sorted(rec.steps)
    start = time.perf_counter()
    for step in steps:
        theta += 1e-3  # stands for the training between two recorded steps
        rec.record(step, theta)
    return time.perf_counter() - start, int(rec.valid.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps in the side-by-side runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nets", type=int, default=50)
    parser.add_argument(
        "--ljat-steps",
        type=int,
        help="steps of the LJAT19 side-by-side runs (150000: the paper's length)",
    )
    parser.add_argument("--only", nargs="+", help="case names to run, e.g. 'ljat h5-5'")
    args = parser.parse_args()
    torch.set_num_threads(1)
    records = []
    print(
        f"{'case':18s} {'steps':>7s} {'train s':>8s} {'with rec s':>10s} {'ratio':>6s} | "
        f"{'paper steps':>11s} {'pairs':>6s} {'rec alone s':>11s} {'train est s':>11s} {'share':>6s}"
    )
    for name, widths, n, batch, paper_steps in CASES:
        if args.only and name not in args.only:
            continue
        steps = (
            (2_000 if args.quick else 10_000)
            if widths[0] != 784
            else (300 if args.quick else 1_500)
        )
        if args.ljat_steps and widths[0] != 784:
            steps = args.ljat_steps
        x, y = data(widths, n)
        xt, yt = x[:10], y[:10]
        plain, recorded = [], []
        for _ in range(args.repeats):  # interleaved, so that both see the same machine
            plain.append(
                timed(
                    lambda: train_ensemble(
                        spec(widths, batch, steps, args.nets, False),
                        x,
                        y,
                        xt,
                        yt,
                        log=lambda m: None,
                    )
                )
            )
            recorded.append(
                timed(
                    lambda: train_ensemble(
                        spec(widths, batch, steps, args.nets, True),
                        x,
                        y,
                        xt,
                        yt,
                        log=lambda m: None,
                    )
                )
            )
        t_plain, t_rec = statistics.median(plain), statistics.median(recorded)
        alone, pairs = recorder_alone(widths, args.nets, paper_steps)
        train_est = t_plain / steps * paper_steps
        row = {
            "case": name,
            "nets": args.nets,
            "steps": steps,
            "train_s": t_plain,
            "with_recorder_s": t_rec,
            "ratio": t_rec / t_plain,
            "paper_steps": paper_steps,
            "pairs": pairs,
            "recorder_alone_s": alone,
            "paper_train_estimate_s": train_est,
            "paper_share": alone / train_est,
        }
        records.append(row)
        print(
            f"{name:18s} {steps:7d} {t_plain:8.2f} {t_rec:10.2f} {t_rec / t_plain:6.3f} | "
            f"{paper_steps:11d} {pairs:6d} {alone:11.2f} {train_est:11.0f} {alone / train_est:6.2%}"
        )
    print(json.dumps({"records": records}))


if __name__ == "__main__":
    main()
