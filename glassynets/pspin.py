"""Spherical p-spin glass (p = 3) under Langevin dynamics: the reference glass for the aging analysis.

    H(s) = −Σ_{i<j<k} J_ijk s_i s_j s_k,   J_ijk ~ N(0, p!/(2 n^(p−1))) = N(0, 3/n²),   |s|² = n.

Energies are per spin, e = H/n, and T is in the same units; the clock is the integration step
(time = step·dt in the model's units). Trajectories s(step) [S, R, n] are stored like network parameters
(θ = s, P = n), so Δ(t_w, t_w + t) = (1/n)|s(t_w) − s(t_w + t)|² = 2(1 − C) and t*, μ come from
:mod:`glassynets.aging` unchanged.

Known values: T_d = sqrt(3/8); above T_d the paramagnetic energy is −1/(2T); after a quench below
T_d, C(t_w, t_w + t) has a plateau at q (:func:`plateau_q`), then ages on times ∝ t_w, and e(t)
falls towards :func:`asymptotic_energy` (−sqrt(4/3) at T = 0). See docs/pspin.md.

Threads: like the trainer, this module never changes torch's thread count; run one process per
core with ``torch.set_num_threads(1)``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .jobs import Job
from .two_time import Recorder

T_DYNAMICAL = math.sqrt(3 / 8)


def couplings(
    n: int, seed: int | np.random.SeedSequence, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """The symmetric coupling tensor J [n, n, n]: J[i,j,k] = J_ijk for every permutation of
    distinct i, j, k and 0 where two indices coincide.

    The n(n−1)(n−2)/6 independent values are standard normals from
    ``np.random.default_rng(seed)`` (an int or a SeedSequence), drawn in float64 in lexicographic
    order of i < j < k (the order of itertools.combinations(range(n), 3)), times sqrt(3)/n, then
    cast to ``dtype``; so float32 and float64 runs share the same disorder.
    """
    if n < 3:
        raise ValueError(f"need n >= 3 spins, got {n}")
    a = np.arange(n)
    i, j, k = np.nonzero(
        (a[:, None, None] < a[None, :, None]) & (a[None, :, None] < a[None, None, :])
    )
    values = np.random.default_rng(seed).standard_normal(len(i)) * (math.sqrt(3) / n)
    full = np.zeros((n, n, n))
    for x, y, z in ((i, j, k), (i, k, j), (j, i, k), (j, k, i), (k, i, j), (k, j, i)):
        full[x, y, z] = values
    return torch.from_numpy(full).to(dtype)


def energy(J: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """e = H/n = −(1/6n) Σ_ijk J_ijk s_i s_j s_k for configurations s [R, n] -> [R]."""
    n = J.shape[0]
    m = torch.tensordot(s, J, dims=([1], [2]))  # [R, i, j] = Σ_k J_ijk s_k
    return -torch.einsum("rij,ri,rj->r", m, s, s) / (6 * n)


def gradient(J: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """∂H/∂s = −(1/2) Σ_jk J_ijk s_j s_k for s [R, n] -> [R, n] (not projected on the sphere).

    One matrix product (s ⊗ s) [R, n²] @ J [n², n]: on one thread, n = 64..256, R = 1..16, it was as
    fast as or up to 4x faster than contracting with s twice (docs/pspin.md). :func:`langevin` uses
    the packed form of :class:`_Packed`, up to 3x faster again.
    """
    r, n = s.shape
    outer = (s[:, :, None] * s[:, None, :]).reshape(r, n * n)
    return -0.5 * (outer @ J.reshape(n, n * n).T)


class _Packed:
    """J as [n, n(n−1)/2] over pairs j < k, so that ∂H/∂s_i = −Σ_{j<k} J_ijk s_j s_k.

    Half the memory traffic and flops of the full product, since J_ijk = J_ikj and J_ijj = 0; the
    pair products are one index_select of the outer product (faster than two gathers, measured).
    Buffers are reused across calls because the integrator calls this ~10⁵ times at fixed R.
    """

    def __init__(self, J: torch.Tensor, replicas: int):
        n = J.shape[0]
        jj, kk = torch.triu_indices(n, n, 1)
        self.flat = jj * n + kk
        self.weights_t = J[:, jj, kk].T.contiguous().neg_()  # [pairs, n]; sign folded in
        self._outer = torch.empty(replicas, n, n, dtype=J.dtype)
        self._pairs = torch.empty(replicas, len(jj), dtype=J.dtype)
        self._grad = torch.empty(replicas, n, dtype=J.dtype)

    def gradient(self, s: torch.Tensor) -> torch.Tensor:
        """∂H/∂s [R, n], written into a buffer that the next call overwrites."""
        torch.mul(s[:, :, None], s[:, None, :], out=self._outer)
        torch.index_select(self._outer.view(len(s), -1), 1, self.flat, out=self._pairs)
        return torch.mm(self._pairs, self.weights_t, out=self._grad)


def random_configurations(
    n: int, r: int, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """r independent points uniform on the sphere |s|² = n (normalised Gaussians), [r, n]."""
    g = torch.randn(r, n, generator=generator, dtype=torch.float64)
    return (g * (math.sqrt(n) / g.norm(dim=1, keepdim=True))).to(dtype)


def langevin(
    J: torch.Tensor,
    s0: torch.Tensor,
    temperature: float,
    dt: float,
    record_steps: np.ndarray,
    generator: torch.Generator,
    log: Callable[[str], None] | None = None,
    recorder: Recorder | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Euler–Maruyama Langevin dynamics on the sphere from s0 [R, n], R replicas at once.

    Each step: s ← s − ∇H(s) dt + sqrt(2 T dt) ξ (ξ standard normal from ``generator``, in J's
    dtype), then s ← s·sqrt(n)/|s|. The rescaling is the constraint: expanded to O(dt) it removes
    the radial parts of drift and noise and adds the radial Itô drift −T(n−1)/n · s dt of Brownian
    motion on the sphere, i.e. it applies the Lagrange multiplier μ = T(n−1)/n − s·∇H/n of the
    continuous-time dynamics, so the scheme is weakly first order like plain Euler–Maruyama
    (docs/pspin.md). temperature = 0 is projected gradient descent (no draws from ``generator``).

    s0 is rescaled onto the sphere first. record_steps: strictly increasing integer steps ≥ 0
    (step 0 = s0). Returns snapshots [S, R, n] in J's dtype and energies e = H/n [S, R] in float64,
    at those steps; ``log`` gets a progress line about every 20 s. ``recorder`` (two_time.Recorder
    over the R replicas, its grid within record_steps[-1]) gets s at every step of its grid.
    """
    steps = np.asarray(record_steps, dtype=np.int64)
    if steps.ndim != 1 or len(steps) == 0 or steps[0] < 0 or np.any(np.diff(steps) <= 0):
        raise ValueError(
            "record_steps must be a non-empty, strictly increasing array of steps >= 0"
        )
    if temperature < 0 or dt <= 0:
        raise ValueError(f"need temperature >= 0 and dt > 0, got {temperature}, {dt}")
    r, n = s0.shape
    if J.shape != (n, n, n):
        raise ValueError(
            f"J has shape {tuple(J.shape)}, expected {(n, n, n)} for s0 {tuple(s0.shape)}"
        )
    op = _Packed(J, r)
    s = s0.to(J.dtype).clone()
    s.mul_(math.sqrt(n) / s.norm(dim=1, keepdim=True))
    noise = torch.empty_like(s)
    amplitude = math.sqrt(2 * temperature * dt)
    snapshots = np.empty((len(steps), r, n), dtype=torch.empty(0, dtype=J.dtype).numpy().dtype)
    energies = np.empty((len(steps), r))
    last, targets, root_n = int(steps[-1]), steps.tolist(), math.sqrt(n)
    started = reported = time.perf_counter()
    k = 0
    for step in range(last + 1):
        grad = op.gradient(s)
        if recorder is not None and step in recorder.steps:
            recorder.record(step, s.numpy())
        if step == targets[k]:
            snapshots[k] = s.numpy()
            # s·∇H = 3H (H is homogeneous of degree 3), so the energy comes free with the gradient.
            energies[k] = (s.double() * grad.double()).sum(1).numpy() / (3 * n)
            k += 1
            if k == len(steps):
                break
        s.add_(grad, alpha=-dt)
        if amplitude > 0:
            torch.randn(s.shape, generator=generator, dtype=s.dtype, out=noise)
            s.add_(noise, alpha=amplitude)
        s.mul_(torch.linalg.vector_norm(s, dim=1, keepdim=True).reciprocal_().mul_(root_n))
        if log is not None and time.perf_counter() - reported > 20:
            reported = time.perf_counter()
            rate = (step + 1) / (reported - started)
            log(
                f"p-spin step {step + 1}/{last}: {rate:.0f} steps/s, ETA {(last - step - 1) / rate:.0f} s"
            )
    return snapshots, energies


@dataclass
class Simulation:
    """Result of :func:`simulate`: run e = sample·replicas + replica is column e of the arrays."""

    snapshots: np.ndarray  # [S, E, n], s at each record step (J's dtype)
    energies: np.ndarray  # [S, E] float64, H/n
    runs: np.ndarray  # [E] int64 run ids
    steps: np.ndarray  # [S] int64 record steps; time = steps·dt
    metadata: dict = field(default_factory=dict)
    two_time: Recorder | None = (
        None  # Δ, D, Q_ε of every run on the (t_w, t) grid (steps), when asked for
    )


def sample_streams(seed: int, sample: int) -> tuple[np.random.SeedSequence, torch.Generator]:
    """The disorder seed and the dynamics generator of coupling sample ``sample`` of run ``seed``.

    Both come from SeedSequence(seed).spawn(sample + 1)[sample] (= SeedSequence(seed,
    spawn_key=(sample,))), whose two children seed J and a torch generator (first 64-bit word,
    as in training.network_generator) that draws the initial conditions, then the noise.
    """
    disorder, dynamics = np.random.SeedSequence(int(seed), spawn_key=(int(sample),)).spawn(2)
    word = int(dynamics.generate_state(1, dtype=np.uint64)[0])
    return disorder, torch.Generator(device="cpu").manual_seed(word)


def simulate(
    n: int,
    temperature: float,
    samples: int | Sequence[int],
    replicas: int,
    dt: float,
    steps: int,
    record_steps: np.ndarray,
    seed: int,
    log: Callable[[str], None] | None = None,
    dtype: torch.dtype = torch.float64,
    waiting_times: Sequence[int] = (),
    lags: Sequence[int] = (),
    overlap_eps: Sequence[float] = (),
) -> Simulation:
    """Quench from random configurations: ``replicas`` runs on each of the coupling samples.

    samples: a count (samples 0..samples−1) or the sample indices themselves, so a job can be split
    or resumed per sample: each sample depends only on (seed, sample) (:func:`sample_streams`) and
    its result is bit-identical however the samples are grouped. Integrates up to ``steps`` and
    records at ``record_steps`` (all ≤ steps; the run stops at the last one), and the two-time
    observables on the grid waiting_times × lags (steps; none when waiting_times is empty).
    """
    ids = list(range(samples)) if isinstance(samples, int) else [int(k) for k in samples]
    if not ids or replicas < 1:
        raise ValueError(
            f"need at least one sample and one replica, got samples={samples}, replicas={replicas}"
        )
    record = np.asarray(record_steps, dtype=np.int64)
    if len(record) and record[-1] > steps:
        raise ValueError(f"record step {record[-1]} is beyond the last step {steps}")
    snapshots, energies, recorders = [], [], []
    np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
    for k in ids:
        disorder, generator = sample_streams(seed, k)
        J = couplings(n, disorder, dtype)
        s0 = random_configurations(n, replicas, generator, dtype)
        prefix = (lambda m, k=k: log(f"sample {k}: {m}")) if log is not None else None
        recorder = (
            Recorder(waiting_times, lags, int(record[-1]), overlap_eps, replicas, n, np_dtype)
            if len(waiting_times)
            else None
        )
        snaps, e = langevin(J, s0, temperature, dt, record, generator, prefix, recorder)
        snapshots.append(snaps)
        energies.append(e)
        recorders.append(recorder)
    two_time = None
    if len(waiting_times):
        two_time = recorders[0].joined([(r.delta, r.fourth, r.overlap) for r in recorders])
    runs = np.array([k * replicas + r for k in ids for r in range(replicas)], dtype=np.int64)
    meta = {
        "model": "spherical p-spin",
        "p": 3,
        "n": n,
        "temperature": temperature,
        "dt": dt,
        "seed": seed,
        "samples": ids,
        "replicas": replicas,
        "dtype": str(dtype).removeprefix("torch."),
    }
    return Simulation(
        np.concatenate(snapshots, axis=1),
        np.concatenate(energies, axis=1),
        runs,
        record,
        meta,
        two_time,
    )


def plateau_q(temperature: float) -> float:
    """Aging plateau of C below T_d: the root of 3q(1−q)² = T² in [1/2, 1]; NaN for T ≥ T_d."""
    if temperature >= T_DYNAMICAL:
        return float("nan")
    if temperature <= 0:
        return 1.0
    lo, hi = 0.5, 1.0  # 3q(1−q)² falls from 3/8 = T_d² to 0 on [1/2, 1]: bisect
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 3 * mid * (1 - mid) ** 2 > temperature**2 else (lo, mid)
    return (lo + hi) / 2


def paramagnetic_energy(temperature: float, n: int | None = None) -> float:
    """Equilibrium e = H/n above T_d: −1/(2T) at n = ∞.

    With ``n``: −(1/(2T)) (n−1)(n−2)/((n+2)(n+4)), the exact first order in 1/T at finite n (from
    the absent coincident-index terms and E[s_i² s_j² s_k²] on the sphere); the next term is
    ≈ −153/(6 T³ n²).
    """
    if n is None:
        return -1 / (2 * temperature)
    return -finite_n_factor(n) / (2 * temperature)


def finite_n_factor(n: int) -> float:
    """f_n = (n−1)(n−2)/((n+2)(n+4)): Var H = f_n·n/2 at finite n against n/2 at n = ∞ (the absent
    coincident-index terms), i.e. couplings sqrt(f_n) weaker; 0.9308 at n = 128."""
    return (n - 1) * (n - 2) / ((n + 2) * (n + 4))


def asymptotic_energy(temperature: float) -> float:
    """Large-time energy after a quench (Cugliandolo–Kurchan 1993), n = ∞.

    Below T_d: −(1/(2T)) [1 − (1 − x) q³] with q = :func:`plateau_q` and x = (1 − q)/q (−0.887 at
    T = 0.5, −sqrt(4/3) at T = 0); at and above T_d the paramagnetic energy.
    """
    if temperature >= T_DYNAMICAL:
        return paramagnetic_energy(temperature)
    if temperature <= 0:
        return -math.sqrt(4 / 3)
    q = plateau_q(temperature)
    x = (1 - q) / q
    return -(1 - (1 - x) * q**3) / (2 * temperature)


def run_cell(
    n: int,
    temperature: float,
    settings: dict,
    checkpoint_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> Simulation:
    """One (N, T) cell of the workflow: every coupling sample of ``settings`` (glassynets.settings.pspin:
    samples, replicas, dt, steps, snapshots_per_decade, seed, dtype and the two-time grid), one
    sample at a time. A finished sample is kept in ``checkpoint_dir`` (sample<k>.npz, with the
    settings it belongs to), so a killed job resumes at the next sample with the same bits."""
    from . import two_time
    from .schedule import log_steps

    steps = settings["steps"]
    record = log_steps(steps, settings["snapshots_per_decade"])
    waiting_times, lags = two_time.grid(
        steps, settings["waiting_times_per_decade"], settings["lags_per_decade"]
    )
    identity = json.dumps({"n": n, "temperature": temperature, **settings}, sort_keys=True)
    glassy = "below" if temperature < T_DYNAMICAL else "above"
    log(
        f"p-spin N = {n}, T = {temperature:g} ({glassy} T_d = {T_DYNAMICAL:.3f}), {settings['samples']} samples × "
        f"{settings['replicas']} replicas, dt = {settings['dt']:g}, {steps} steps (time {steps * settings['dt']:g}), "
        f"{len(record)} snapshots; torch {torch.get_num_threads()} thread(s)"
    )
    snapshots, energies, pairs = [], [], []
    for k in range(settings["samples"]):
        done = checkpoint_dir / f"sample{k}.npz" if checkpoint_dir else None
        sample = _resumed(done, identity, k, log)
        if sample is None:
            sample = _sample(n, temperature, k, settings, record, (waiting_times, lags), log)
            if done is not None:
                _keep(done, sample, identity)
        snapshots.append(sample[0])
        energies.append(sample[1])
        pairs.append(sample[2])
    snaps = np.concatenate(snapshots, axis=1)
    runs = np.arange(snaps.shape[1])  # run = sample · replicas + replica
    merged = two_time.Recorder(waiting_times, lags, steps, settings["overlap_eps"], 0, 0).joined(
        pairs
    )
    return Simulation(snaps, np.concatenate(energies, axis=1), runs, record, {}, merged)


#: One coupling sample of run_cell: snapshots [S, R, n], energies [S, R], [Δ, D, Q_ε] of its runs.
_Sample = tuple[np.ndarray, np.ndarray, list[np.ndarray]]


def _resumed(
    done: Path | None, identity: str, k: int, log: Callable[[str], None]
) -> _Sample | None:
    """Sample ``k`` from its checkpoint ``done``, when there is one of these settings (``identity``)."""
    if done is None or not done.exists():
        return None
    saved = np.load(done, allow_pickle=False)
    if str(saved["identity"]) != identity:
        log(f"sample {k}: {done} belongs to other settings; simulating afresh")
        return None
    log(f"sample {k}: resumed from {done}")
    return (
        saved["snapshots"],
        saved["energies"],
        [saved[name] for name in ("delta", "fourth", "overlap")],
    )


def _sample(
    n: int,
    temperature: float,
    k: int,
    settings: dict,
    record: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray],
    log: Callable[[str], None],
) -> _Sample:
    """Simulate coupling sample ``k`` of a cell, recording at ``record`` and on the two-time
    ``grid`` (waiting times, lags; steps)."""
    start = time.perf_counter()
    sim = simulate(
        n,
        temperature,
        [k],
        settings["replicas"],
        settings["dt"],
        settings["steps"],
        record,
        settings["seed"],
        log=log,
        dtype=getattr(torch, settings["dtype"]),
        waiting_times=grid[0],
        lags=grid[1],
        overlap_eps=settings["overlap_eps"],
    )
    log(
        f"sample {k}: final energy per spin {sim.energies[-1].mean():.4f} ({time.perf_counter() - start:.1f} s)"
    )
    tt = sim.two_time
    return sim.snapshots, sim.energies, [tt.delta, tt.fourth, tt.overlap]


def _keep(done: Path, sample: _Sample, identity: str) -> None:
    """Checkpoint a finished sample to ``done``, atomically, with the settings it belongs to."""
    from .storage import replace_atomically

    snapshots, energies, (delta, fourth, overlap) = sample
    done.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(
        done,
        lambda tmp: _save_npz(
            tmp,
            snapshots=snapshots,
            energies=energies,
            delta=delta,
            fourth=fourth,
            overlap=overlap,
            identity=identity,
        ),
    )


def _save_npz(path: Path, **arrays) -> None:
    """np.savez to exactly ``path`` (given a name, np.savez appends .npz when it is missing)."""
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def simulate_cell(job: Job) -> None:
    """The pspin stage: quench the spherical p-spin (p = 3) and integrate its Langevin dynamics;
    write the spins as a snapshots table (θ = s), the two-time observables and the energy per spin.

    Settings: the pspin section but its cells (glassynets.settings.pspin); cell: n (spins N) and
    temperature. Outputs snapshots, two_time, energy. Each coupling sample is checkpointed into
    the folder job.checkpoint when done (not a workflow output), so a killed job resumes at the
    next sample; a sample depends only on (seed, sample), so the result has the same bits either
    way. The samples kept there are deleted once the outputs are written.
    """
    from . import storage

    settings, n, temperature = job.settings, int(job.cell["n"]), float(job.cell["temperature"])
    torch.set_num_threads(job.threads)
    meta = {
        "model": "pspin",
        "experiment": "pspin",
        "p": 3,
        "n_spins": n,
        "n_params": n,
        "temperature": temperature,
        "time": settings["steps"] * settings["dt"],
        **settings,
    }
    meta.update(storage.provenance([], meta))
    meta = job.meta(meta)
    checkpoints = Path(job.checkpoint) if job.checkpoint else None
    cell = run_cell(n, temperature, settings, checkpoints, log=job.log)
    snapshots, two_time, energy = (job.output(name) for name in ("snapshots", "two_time", "energy"))
    storage.write_snapshots(snapshots, cell.steps, cell.runs, cell.snapshots, meta)
    storage.write_two_time(two_time, cell.two_time.columns(cell.runs), cell.two_time.eps, meta)
    storage.write(
        energy,
        "energy",
        {
            "seed": np.tile(cell.runs, len(cell.steps)),
            "step": np.repeat(cell.steps, len(cell.runs)),
            "energy": cell.energies.reshape(-1),
        },
        meta,
    )
    if checkpoints is not None:
        for done in checkpoints.glob("sample*.npz"):
            done.unlink()
    job.log(
        f"wrote {snapshots} and {energy}; mean final energy per spin {cell.energies[-1].mean():.4f}"
    )
