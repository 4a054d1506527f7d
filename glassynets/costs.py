"""Memory (MB) and wall-time (minutes) limits of every job kind, from what the job holds and does.

A scheduler (SLURM) kills a job that outgrows its request, and a local run uses them to pack jobs
onto cores, so each model is the measured cost on the 2-core dev machine times a safety factor.
Methods take a job's wildcards (any object with the rule's wildcard names as attributes).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import settings as job_settings
from .cluster import gpus_wanted
from .dynamics import ALL_POINTS, LANGEVIN, batch_points
from .images import PIXELS, SPLIT_SIZES
from .nets import Architecture
from .schedule import log_steps
from .two_time import grid

# Throughput model of the CPU trainer (one thread), fitted to whole training jobs at N = 60,000 on
# the 2-core dev machine (docs/fashion_mnist.md: fashion_alpha widths 7-17, fashion_arch) and to
# bench/train_throughput.py. A network-step costs its FLOPs (≈ 4·B·P) plus streaming its minibatch
# (B·(d + 1) input values, gathered from random rows) plus a fixed per-network overhead; a metric
# point costs ≈ 6·P FLOPs per network and data point (train with gradient, test without) plus one
# pass over the data (n·(d + 1) values). Measured: 1.06 ns per gathered value, 0.72 ns per value of
# a full pass, 46-118 GFLOP/s at the margin for P = 4,000-14,000 (parameters in cache), 17 GFLOP/s
# all included for the toy model's P = 7.95·10⁶ (0.38 s per step of 2 networks), LJAT19 10.6 µs
# per network-step in all.
TRAIN_FLOPS_IN_CACHE = 40e9
TRAIN_FLOPS_OUT_OF_CACHE = 10e9
CACHE_BYTES = 1 << 20  # a network's parameters up to this size stay in the core's cache
DATA_VALUE_S = 1.1e-9
NET_STEP_OVERHEAD_S = 9e-6
RUNTIME_SAFETY = 2
# The other dynamics (dynamics.py): a step of full_batch, langevin or persistent runs on all N
# points (batch_points), one step's overhead for all of them; langevin draws P normal values a
# network-step, persistent N uniform ones: measured 2.4-2.6 ns per value (torch.randn, torch.rand,
# one thread). Measured on LJAT19 [2,5,5,4], N = 1000, B = 100, E = 50 (µs per network-step):
# minibatch 5.2, with_replacement 5.1, minibatch_langevin 6.1, full_batch 26.3, langevin 27.5,
# persistent 37.2: a step on all N points costs 5x one of B = N/10, not 10x, since the overhead is
# paid once. For such small layers the per-point cost is the elementwise work per unit (tanh, its
# derivative, the softmax), not the FLOPs of the products: UNIT_POINT_S per unit and point, fitted
# to full_batch (26.3 µs = 1000 points × 14 units × 1.9 ns), which the FLOP term alone puts at 7 µs.
# Whole jobs of the LJAT19 sweeps (issue 24, tests/test_targets.py) check the sum.
DRAW_VALUE_S = 3e-9
UNIT_POINT_S = 2e-9
# An aging job spends ≈ 5-10 ms per bootstrap replicate (t* of the resampled mean, the regime
# search, the refit) and ≈ 5 ns per snapshot value in the histograms; the constants leave room for
# slower nodes and the Parquet writes.
AGING_S_PER_REPLICATE = 0.03
AGING_NS_PER_SNAPSHOT_VALUE = 20
# 200,000 LJAT19 gradient-flow minimisations took 72 s on one core for the box family; the
# default cube family costs ≈ 3x more per start (10,000 starts: 24.6 s against 7.9 s under the
# same load: starts in the r^-12 wall and far apart flow longer).
LJAT19_S_PER_SAMPLE = 1.1e-3
# Converting the 10,000 t10k images (7.8 MB of pixels) took 9 s and drawing a subset from them
# 7 s on the loaded dev machine, nearly all of it Python and torch start-up.
TABLE_MB_PER_S = 2
# A Langevin step of R replicas costs about this many ns per term of the n³·R contraction
# (n = 128-256, R = 16; docs/pspin.md).
PSPIN_NS_PER_TERM = {"float32": 0.06, "float64": 0.15}
# A CK step with M stored times costs about this many ns per M² (three M×M products per
# evaluation, four evaluations): 496 s for T = 0.5 to t = 1000 at h = 0.1, window 64 (docs/pspin.md).
CK_NS_PER_POINT2 = 134


def ck_points(t: np.ndarray, h: float, window: int, protected: int) -> np.ndarray:
    """Stored times of glassynets.ck.integrate_decimated at time t: every step up to 2·window,
    then about 1.5·window per doubling of t, plus the protected columns of the recorded pairs."""
    t = np.asarray(t, dtype=np.float64)
    doublings = np.log2(np.maximum(1.0, t / (2 * window * h)))
    return np.minimum(t / h, 2 * window) + 1.5 * window * doublings + protected


def table_mem_mb(n_rows: int, row_bytes: int) -> int:
    """A data job holding a table of n rows a few times over (file, arrays, copies)."""
    return 1000 + math.ceil(4 * n_rows * row_bytes / 2**20)


def table_runtime_min(n_rows: int, row_bytes: int) -> int:
    """Start-up plus the rows at the measured rate, ×3 for slower nodes."""
    return 5 + math.ceil(3 * n_rows * row_bytes / 2**20 / TABLE_MB_PER_S / 60)


def ljat19_runtime_min(n_samples: int) -> int:
    """Generating n LJAT19 samples, ×3 for slower nodes."""
    return 5 + math.ceil(3 * n_samples * LJAT19_S_PER_SAMPLE / 60)


def aging_memory_mb(
    S: int, E: int, P: int, W: int, L: int, K: int, n_boot: int, bytes_per: int
) -> int:
    """The snapshots [S, E, P] (as read, plus the concatenated copy) for the histograms; the
    two-time rows of every run [E, W, L, 2 + K] in float64 (as read, concatenated, made dense);
    the bootstrap's resampled means and their t* [n_boot, W, L]."""
    held = 2 * S * E * P * bytes_per + 4 * E * W * L * (2 + K) * 8 + 3 * n_boot * W * L * 8
    return 1000 + math.ceil(held / 2**20)


def aging_minutes(S: int, E: int, P: int, W: int, L: int, K: int, n_boot: int) -> int:
    seconds = n_boot * AGING_S_PER_REPLICATE + S * E * P * AGING_NS_PER_SNAPSHOT_VALUE * 1e-9
    return 10 + math.ceil(seconds / 60)


class Costs:
    """Resource models of one configuration (validated, defaults filled in)."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.bytes_per = 8 if config["dtype"] == "float64" else 4

    def _train(self, experiment: str) -> dict[str, Any]:
        return job_settings.train(self.config, experiment)

    def _arch(self, w) -> Architecture:
        s = self._train(w.experiment)
        n_in = len(s["features"]) if s["dataset"] == "ljat19" else PIXELS
        return Architecture.from_name(w.arch, n_in, s["n_classes"])

    def _grid(self, s: dict[str, Any]) -> tuple[int, int, int]:
        """Waiting times W, lags L and overlaps K of a run's two-time grid."""
        waiting_times, lags = grid(s["steps"], s["waiting_times_per_decade"], s["lags_per_decade"])
        return len(waiting_times), len(lags), len(s["overlap_eps"])

    def _n_points(self, s: dict[str, Any], n_train: int) -> int:
        test = (
            self.config["ljat19"]["test_size"] if s["dataset"] == "ljat19" else SPLIT_SIZES["t10k"]
        )
        return n_train + test

    # --- training

    def train_gpus(self, w) -> int:
        """1 when the experiment trains on cuda or auto: a cluster job then asks for a GPU; 0 for
        every job with GLASSYNETS_GPUS=0 (a cluster without GPUs: auto trains on CPUs). A local
        run ignores it unless given --resources gpu=<n>."""
        return int(gpus_wanted() and self._train(w.experiment)["device"] in ("cuda", "auto"))

    def train_mem_mb(self, w) -> int:
        """Snapshots [S, E, P] held in memory, twice for the Parquet write; θ(t_w) of every waiting
        time [W, E, P] and the two-time results [W, L, E, 2 + K] (float64, twice for the write); the
        data [n, d + 1] with the bias column, in the file's and the trainer's copies; plus torch's
        baseline."""
        s, arch = self._train(w.experiment), self._arch(w)
        n_nets = max(2, int(w.last) - int(w.first) + 1)  # a lone network trains beside a copy
        W, L, K = self._grid(s)
        snapshots = (
            3
            * len(log_steps(s["steps"], s["snapshots_per_decade"]))
            * n_nets
            * arch.n_params
            * self.bytes_per
        )
        recorder = W * n_nets * arch.n_params * self.bytes_per + 3 * W * L * n_nets * (2 + K) * 8
        data = 3 * self._n_points(s, int(w.n)) * (arch.n_in + 1) * self.bytes_per
        return 1000 + math.ceil(
            (snapshots + recorder + data + self._step_bytes(s, w, arch)) / 2**20
        )

    def _step_bytes(self, s: dict[str, Any], w, arch: Architecture) -> int:
        """What the other dynamics hold beyond a minibatch step: activations, pre-activations,
        backpropagated errors and their scratch of every unit at all N points (about 6 copies,
        with the softmax and the persistent mask), the feature-major copy of the data, and a chunk
        of draws (training.batches.DRAW_CHUNK values, 4 or 8 bytes) per network and stream."""
        if s["noise"] not in ALL_POINTS + LANGEVIN:
            return 0
        n_nets, n = max(2, int(w.last) - int(w.first) + 1), int(w.n)
        streams = (s["noise"] in LANGEVIN) + (s["noise"] == "persistent")
        held = streams * n_nets * (1 << 16) * 8
        if s["noise"] in ALL_POINTS:
            units = sum(arch.widths[1:])
            held += (6 * n_nets * units + arch.n_in + 1) * n * self.bytes_per
        return held

    def train_runtime_min(self, w) -> int:
        """From the throughput model above, ×RUNTIME_SAFETY: per network-step the FLOPs, the data
        values and the elementwise work of the points the step sees (B, or all N for the dynamics
        of dynamics.ALL_POINTS), a fixed overhead, and the Langevin and persistent draws."""
        s, arch = self._train(w.experiment), self._arch(w)
        n_nets = max(2, int(w.last) - int(w.first) + 1)
        in_cache = arch.n_params * self.bytes_per <= CACHE_BYTES
        flops = TRAIN_FLOPS_IN_CACHE if in_cache else TRAIN_FLOPS_OUT_OF_CACHE
        values = arch.n_in + 1  # input values per data point, with the bias column
        points = batch_points(s["noise"], s["batch_size"], int(w.n))
        units = sum(arch.widths[1:])
        draws = arch.n_params * (s["noise"] in LANGEVIN) + int(w.n) * (s["noise"] == "persistent")
        per_net_step = (
            points * (4 * arch.n_params / flops + values * DATA_VALUE_S + units * UNIT_POINT_S)
            + NET_STEP_OVERHEAD_S
            + draws * DRAW_VALUE_S
        )
        n_points = self._n_points(s, int(w.n))
        per_metric = n_points * (6 * arch.n_params / flops + values * DATA_VALUE_S)
        n_metrics = len(log_steps(s["steps"], s["metrics_per_decade"]))
        seconds = n_nets * (s["steps"] * per_net_step + n_metrics * per_metric)
        return 5 + math.ceil(RUNTIME_SAFETY * seconds / 60)

    # --- aging and Hessians

    def cell_size(self, w) -> tuple[int, ...]:
        """Snapshots S, runs E (all seed blocks), parameters P, the two-time grid (W, L, K) and the
        bootstrap replicates of one cell."""
        s, exp = self._train(w.experiment), self.config["experiments"][w.experiment]
        S = len(log_steps(s["steps"], s["snapshots_per_decade"]))
        return (S, exp["seeds"], self._arch(w).n_params, *self._grid(s), exp["analysis"]["n_boot"])

    def aging_mem_mb(self, w) -> int:
        return aging_memory_mb(*self.cell_size(w), self.bytes_per)

    def aging_runtime_min(self, w) -> int:
        return aging_minutes(*self.cell_size(w))

    def hessian_mem_mb(self, w) -> int:
        """Three dense P×P float64 matrices (H, its blocks, eigvalsh's work) plus the data in float64
        and the cell's snapshots; measured 0.35 GB peak for P = 4015 at N = 10,000."""
        S, E, P, *_ = self.cell_size(w)
        exact = P <= self.config["experiments"][w.experiment]["hessian"]["max_exact_params"]
        held = (
            (3 * P * P * 8 if exact else 0)
            + 3 * int(w.n) * (self._arch(w).n_in + 1) * 8
            + 2 * S * E * P * 4
        )
        return 1000 + math.ceil(held / 2**20)

    def hessian_runtime_min(self, w) -> int:
        """Measured: the exact Hessian of [784,5,5,10] costs ≈ 1 s per 1000 points, eigvalsh 4-7 s
        at P = 4015; modelled as (N·P² + P³) / 10¹⁰ s per Hessian, ×2."""
        exp = self.config["experiments"][w.experiment]
        h, P, n = exp["hessian"], self.cell_size(w)[2], int(w.n)
        per = (n * P * P + P**3) / 1e10 if P <= h["max_exact_params"] else 1.0
        return 5 + math.ceil(2 * min(h["seeds"], exp["seeds"]) * len(h["steps"]) * per / 60)

    # --- the p-spin glass

    def pspin_size(self, w) -> tuple[int, ...]:
        """Snapshots S, runs E, spins n, the two-time grid (W, L, K) and the bootstrap replicates of
        one p-spin cell."""
        s = job_settings.pspin(self.config)
        S = len(log_steps(s["steps"], s["snapshots_per_decade"]))
        return (
            S,
            s["samples"] * s["replicas"],
            int(w.n),
            *self._grid(s),
            self.config["pspin"]["analysis"]["n_boot"],
        )

    def pspin_mem_mb(self, w) -> int:
        """The spins at every snapshot (twice for the write), θ(t_w) of every waiting time and the
        coupling tensor n³ (the float64 draw and its copies)."""
        S, E, n, W, *_ = self.pspin_size(w)
        return 1000 + math.ceil((2 * S * E * n * 8 + W * E * n * 8 + 2 * n**3 * 8) / 2**20)

    def pspin_runtime_min(self, w) -> int:
        """From the measured cost per contraction term, ×2."""
        s = job_settings.pspin(self.config)
        seconds = (
            2
            * s["steps"]
            * int(w.n) ** 3
            * s["samples"]
            * s["replicas"]
            * PSPIN_NS_PER_TERM[s["dtype"]]
            * 1e-9
        )
        return 5 + math.ceil(seconds / 60)

    def pspin_aging_mem_mb(self, w) -> int:
        return aging_memory_mb(*self.pspin_size(w), 8)

    def pspin_aging_runtime_min(self, w) -> int:
        return aging_minutes(*self.pspin_size(w))

    # --- its CK curves

    def _ck_size(self, w) -> tuple[int, float, int, int, int]:
        """Steps n of the CK job (at most the simulated time over h: a mapped one is shorter),
        the step h, the window, the protected columns and the two-time grid's pairs."""
        s = job_settings.ck(self.config)
        h, window = s["ck"]["step"], s["ck"]["window"]
        waiting_times, lags = grid(s["steps"], s["waiting_times_per_decade"], s["lags_per_decade"])
        pairs = int((waiting_times[:, None] + lags[None, :] <= s["steps"]).sum())
        n = math.ceil(s["steps"] * s["dt"] / h)
        return n, h, window, 2 * len(waiting_times), pairs

    def ck_mem_mb(self, w) -> int:
        """Four float64 M×M arrays of stored times, up to twice their size while they grow, and the
        pairs' columns."""
        n, h, window, protected, pairs = self._ck_size(w)
        M = float(ck_points(n * h, h, window, protected))
        return 1000 + math.ceil((2 * 4 * M * M * 8 + 20 * pairs * 8) / 2**20)

    def ck_runtime_min(self, w) -> int:
        """Σ over steps of M(t)² at the measured cost, ×3 for slower nodes and load."""
        n, h, window, protected, _ = self._ck_size(w)
        times = np.arange(1, n + 1) * h
        seconds = (
            CK_NS_PER_POINT2 * 1e-9 * float((ck_points(times, h, window, protected) ** 2).sum())
        )
        return 5 + math.ceil(3 * seconds / 60)

    def _ck_cell(self, w) -> tuple[int, ...]:
        """A CK cell as aging sees it: no snapshots, one run, the simulation's grid."""
        W, L, K = self._grid(job_settings.pspin(self.config))
        return (0, 1, 1, W, L, K, self.config["pspin"]["analysis"]["n_boot"])

    def ck_aging_mem_mb(self, w) -> int:
        return aging_memory_mb(*self._ck_cell(w), 8)

    def ck_aging_runtime_min(self, w) -> int:
        return aging_minutes(*self._ck_cell(w))

    # --- data

    def ljat19_train_runtime_min(self, w) -> int:
        return ljat19_runtime_min(int(w.n))
