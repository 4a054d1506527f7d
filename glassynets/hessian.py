"""Hessian of the full-batch training objective L(θ) = mean_i CE_i(θ) + λ‖θ‖², in float64.

θ [P] uses the flat layout of nets.flatten (per layer W_l [out, in+1], bias last, row-major).

Exact Hessian (`hessian`, method="structured"): the first layer is linear in its weights,
z_i = W_0 x̃_i (x̃ = x with a trailing 1), and holds almost all parameters on MNIST (3925 of
4015 for [784,5,5,10]). Write the per-sample loss as ℓ_i(z_i, r) with r the Q parameters of the
later layers; its small Hessian G_i over (z, r) (size h1+Q, from torch.func per sample) gives
every block exactly, by the chain rule with no second-derivative term of z in W_0:

    H[W0,W0] = (1/N) Σ_i G_i[z,z] ⊗ x̃_i x̃_iᵀ     (one gemm X̃ᵀ [N,d+1] @ [N, pairs·(d+1)])
    H[W0,r]  = (1/N) Σ_i G_i[z,r] ⊗ x̃_i
    H[r,r]   = (1/N) Σ_i G_i[r,r]                 , plus 2λ I.

That costs ~N (d+1)² h1(h1+1)/2 multiply-adds, ~9x fewer than the Gauss-Newton Jacobian product
(~N P² C / 2) and measured ~15x faster than P Hessian-vector products on MNIST shapes
(docs/hessian.md). method="hvp" builds H from blocks of Hessian-vector products instead: faster
for the LJAT19 nets (P ~ 70, where the first layer is small), and an independent cross-check.

Beyond `max_exact_params`, `spectrum` estimates the spectral density by stochastic Lanczos
quadrature and the trace by Hutchinson's estimator, both from batched Hessian-vector products
(forward-over-reverse with torch.func), chunked over the data so memory stays bounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, jvp, vmap
from torch.func import hessian as func_hessian

from .jobs import Job
from .nets import Architecture, activate, unflatten

# Target size of the per-chunk float64 temporaries; chunks over data points are sized to it.
CHUNK_BYTES = 1 << 27


def _layers(theta: torch.Tensor, arch: Architecture) -> list[torch.Tensor]:
    """θ [P] -> the layers W_l [out, in+1] (nets.unflatten of one network)."""
    return [w[0] for w in unflatten(theta[None], arch)]


def _check(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, arch: Architecture):
    if theta.shape != (arch.n_params,):
        raise ValueError(f"θ must be [{arch.n_params}] for {arch.name}, got {tuple(theta.shape)}")
    if x.ndim != 2 or x.shape[1] != arch.n_in or y.shape != (x.shape[0],):
        raise ValueError(
            f"need x [n, {arch.n_in}] and y [n], got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return theta.detach().double(), x.double(), y.long()


def _chunk_size(chunk: int | None, n: int, per_point: int) -> int:
    """Data points per chunk: given, or as many as fit CHUNK_BYTES of float64 temporaries."""
    return max(1, min(n, chunk or CHUNK_BYTES // (8 * per_point)))


def _ce_sum(
    theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, arch: Architecture, activation: str
):
    """Summed CE over the rows of x [n, d] (autograd-able in θ [P])."""
    a, layers = x, _layers(theta, arch)
    for l, w in enumerate(layers):
        a = a @ w[:, :-1].T + w[:, -1]
        if l < len(layers) - 1:
            a = activate(a, activation)
    return torch.nn.functional.cross_entropy(a, y, reduction="sum")


# ---------------------------------------------------------------------------------------------
# Exact Hessian


def hessian(
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    arch: Architecture,
    weight_decay: float,
    activation: str = "tanh",
    chunk: int | None = None,
    method: str = "auto",
) -> torch.Tensor:
    """Exact Hessian [P, P] float64 (symmetric) of mean CE over x [n, d], y [n] + λ‖θ‖² at θ [P].

    chunk: data points per chunk (default: sized to ~128 MiB of temporaries); the result does
    not depend on it beyond rounding. method: "structured" (see module doc), "hvp" (P
    Hessian-vector products in blocks of 64) or "auto": structured when the first layer holds
    most parameters (MNIST: ~15x faster than hvp), else hvp (LJAT19, P ~ 70: ~2x faster, since
    there the per-sample Hessians are nearly P x P and gain nothing).
    """
    theta, x, y = _check(theta, x, y, arch)
    P = arch.n_params
    if method == "auto":
        n0 = arch.layer_shapes[0][0] * arch.layer_shapes[0][1]
        method = "structured" if n0 > P - n0 else "hvp"
    if method == "hvp":
        return _hessian_by_hvp(theta, x, y, arch, weight_decay, activation, chunk)
    if method != "structured":
        raise ValueError(f"method must be 'structured' or 'hvp', got {method!r}")
    activate(theta[:0], activation)  # validate early
    h1, d1 = arch.layer_shapes[0]  # first layer W_0 [h1, d+1]
    iu = torch.triu_indices(h1, h1)  # G[z,z] is symmetric: only pairs a <= b
    sums = _structured_sums(theta, x, y, arch, activation, chunk, iu)
    return _structured_assembly(*sums, iu, arch, x.shape[0], weight_decay)


def _hessian_by_hvp(
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    arch: Architecture,
    weight_decay: float,
    activation: str,
    chunk: int | None,
) -> torch.Tensor:
    """The Hessian [P, P] from P Hessian-vector products in blocks of 64, symmetrised."""
    P = arch.n_params
    H = torch.empty(P, P, dtype=torch.float64)
    op = hessian_operator(theta, x, y, arch, weight_decay, activation, chunk)
    for c in range(0, P, 64):
        E = torch.zeros(min(64, P - c), P, dtype=torch.float64)
        E[:, c : c + 64].fill_diagonal_(1.0)  # basis vectors e_c ... e_c+63
        H[c : c + 64] = op(E)
    return (H + H.T) / 2  # HVPs are symmetric only up to rounding


def _structured_sums(
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    arch: Architecture,
    activation: str,
    chunk: int | None,
    iu: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The sums over data points of the structured Hessian (module doc), chunked: A_zz
    [d+1, pairs·(d+1)] = Σ_i G_i[a,b] x̃_ij x̃_ik as [j, (ab), k] over the pairs ``iu`` a <= b,
    A_zr [d+1, h1·Q] = Σ_i G_i[a,q] x̃_ij as [j, (a q)], and H_rr [Q, Q] = Σ_i G_i[r,r]."""
    P, n = arch.n_params, x.shape[0]
    h1, d1 = arch.layer_shapes[0]
    n0 = h1 * d1
    Q = P - n0
    D = h1 + Q
    W0, rest = theta[:n0].view(h1, d1), theta[n0:]
    rest_arch = Architecture(h1, arch.hidden[1:], arch.n_out) if arch.hidden else None
    npairs = iu.shape[1]

    def loss_i(w: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """Per-sample CE as a function of w = (z [h1], r [Q]); onehot [C] (vmap-friendly)."""
        z = w[:h1]
        if rest_arch is not None:
            layers = _layers(w[h1:], rest_arch)
            for w_l in layers:
                z = w_l[:, :-1] @ activate(z, activation) + w_l[:, -1]
        return torch.logsumexp(z, 0) - (z * onehot).sum()

    per_sample_hessian = vmap(func_hessian(loss_i))
    A_zz = torch.zeros(d1, npairs * d1, dtype=torch.float64)
    A_zr = torch.zeros(d1, h1 * Q, dtype=torch.float64)
    H_rr = torch.zeros(Q, Q, dtype=torch.float64)
    onehots = torch.nn.functional.one_hot(y, arch.n_out).double()
    c = _chunk_size(chunk, n, npairs * d1 + 8 * D * D)
    for c0 in range(0, n, c):
        xa = torch.cat([x[c0 : c0 + c], torch.ones(len(x[c0 : c0 + c]), 1, dtype=torch.float64)], 1)
        w = torch.cat([xa @ W0.T, rest.expand(len(xa), Q)], 1)  # [nc, D]
        G = per_sample_hessian(w, onehots[c0 : c0 + c])  # [nc, D, D]
        g_pairs = G[:, iu[0], iu[1]]  # [nc, npairs]
        A_zz.addmm_(xa.T, (g_pairs[:, :, None] * xa[:, None, :]).view(len(xa), -1))
        A_zr.addmm_(xa.T, G[:, :h1, h1:].reshape(len(xa), -1))
        H_rr += G[:, h1:, h1:].sum(0)
    return A_zz, A_zr, H_rr


def _structured_assembly(
    A_zz: torch.Tensor,
    A_zr: torch.Tensor,
    H_rr: torch.Tensor,
    iu: torch.Tensor,
    arch: Architecture,
    n: int,
    weight_decay: float,
) -> torch.Tensor:
    """The Hessian [P, P] from the sums of :func:`_structured_sums` over n data points, + 2λ I."""
    P = arch.n_params
    h1, d1 = arch.layer_shapes[0]
    n0 = h1 * d1
    Q = P - n0
    H = torch.empty(P, P, dtype=torch.float64)
    H11 = H[:n0, :n0].view(h1, d1, h1, d1)
    blocks = A_zz.view(d1, iu.shape[1], d1)
    for p, (a, b) in enumerate(iu.T.tolist()):
        blk = blocks[:, p]
        if a == b:  # symmetric up to the gemm's rounding: make it exact
            H11[a, :, a] = (blk + blk.T) / 2
        else:
            H11[a, :, b], H11[b, :, a] = blk, blk.T
    H[:n0, n0:] = A_zr.view(d1, h1, Q).transpose(0, 1).reshape(n0, Q)
    H[n0:, :n0] = H[:n0, n0:].T
    H[n0:, n0:] = (H_rr + H_rr.T) / 2
    H /= n
    H.diagonal().add_(2 * weight_decay)
    return H


# ---------------------------------------------------------------------------------------------
# Hessian-vector products


def hvp(
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    arch: Architecture,
    weight_decay: float,
    v: torch.Tensor,
    activation: str = "tanh",
    chunk: int | None = None,
) -> torch.Tensor:
    """H v for v [P] or a block [k, P] (float64, same shape as v), exact, chunked over data."""
    return hessian_operator(theta, x, y, arch, weight_decay, activation, chunk)(v)


def hessian_operator(
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    arch: Architecture,
    weight_decay: float,
    activation: str = "tanh",
    chunk: int | None = None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """v [P] or [k, P] -> H v (float64), as a closure for Lanczos / Hutchinson."""
    theta, x, y = _check(theta, x, y, arch)
    n, P = x.shape[0], arch.n_params
    units = sum(arch.widths[1:])

    def apply(v: torch.Tensor) -> torch.Tensor:
        V = v.double().reshape(-1, P)
        out = 2 * weight_decay * V
        # forward-over-reverse: the jvp of the gradient, vmapped over the k directions
        # measured on [784,5,5,10]: ~400 points per chunk is fastest for k = 32 (bigger chunks
        # spill the vmapped [k, chunk, units] intermediates out of cache), whole data for k = 1
        c = _chunk_size(chunk, n, 64 * len(V) * units + arch.n_in)
        for c0 in range(0, n, c):
            xc, yc = x[c0 : c0 + c], y[c0 : c0 + c]
            g = grad(lambda t: _ce_sum(t, xc, yc, arch, activation))
            out += vmap(lambda u: jvp(g, (theta,), (u,))[1])(V) / n
        return out.reshape(v.shape)

    return apply


# ---------------------------------------------------------------------------------------------
# Stochastic estimates


def _rademacher(k: int, P: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (k, P), generator=gen).double() * 2 - 1


def hutchinson_trace(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    dim: int,
    n_probes: int = 64,
    seed: int = 0,
    block: int = 16,
) -> tuple[float, float]:
    """Hutchinson estimate of tr(H) = E[zᵀHz] over Rademacher z [dim]: (estimate, standard error).

    matvec maps [k, dim] -> [k, dim] (e.g. hessian_operator). Probes go through it `block` at a time.
    """
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for b0 in range(0, n_probes, block):
        Z = _rademacher(min(block, n_probes - b0), dim, gen)
        samples.append((Z * matvec(Z)).sum(1))
    s = torch.cat(samples)
    se = float(s.std() / math.sqrt(n_probes)) if n_probes > 1 else float("nan")
    return float(s.mean()), se


def lanczos(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    dim: int,
    steps: int,
    n_probes: int = 1,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lanczos with full reorthogonalisation from n_probes normalised Rademacher starts, all probes
    advanced together (one batched matvec [k, dim] per step).

    Returns ritz [k, m] (eigenvalues of each tridiagonal T, ascending), weights [k, m] (squared
    first components of T's eigenvectors; each row sums to 1, padding after an early breakdown
    has weight 0) and alpha0 [k] = q0ᵀ H q0 (so dim · alpha0 are Hutchinson samples of tr H).
    m = min(steps, dim). The SLQ density is (1/k) Σ_probes Σ_j weights δ(λ - ritz).
    """
    k, m = n_probes, min(steps, dim)
    gen = torch.Generator().manual_seed(seed)
    Qs = torch.zeros(k, m, dim, dtype=torch.float64)  # Krylov bases, kept for reorthogonalisation
    alpha = torch.zeros(k, m, dtype=torch.float64)
    beta = torch.zeros(k, m, dtype=torch.float64)
    length = torch.full((k,), m)  # Krylov dimension reached per probe
    q = _rademacher(k, dim, gen) / math.sqrt(dim)
    for j in range(m):
        Qs[:, j] = q
        w = matvec(q)
        alpha[:, j] = (q * w).sum(1)
        # full reorthogonalisation, twice ("twice is enough"): plain three-term Lanczos loses
        # orthogonality once Ritz values converge and then produces spurious copies of them
        for _ in range(2):
            w -= torch.einsum(
                "kj,kjd->kd", torch.einsum("kjd,kd->kj", Qs[:, : j + 1], w), Qs[:, : j + 1]
            )
        if j == m - 1:
            break
        beta[:, j] = w.norm(dim=1)
        # breakdown: the Krylov space is invariant, T already holds exact eigenvalues of H on it
        done = (beta[:, j] <= 1e-10 * alpha[:, : j + 1].abs().amax(1).clamp_min(1e-300)) & (
            length == m
        )
        length[done] = j + 1
        active = (length == m)[:, None]
        q = torch.where(active, w / beta[:, j, None].clamp_min(1e-300), torch.zeros_like(w))
    ritz = torch.zeros(k, m, dtype=torch.float64)
    weights = torch.zeros(k, m, dtype=torch.float64)
    for p in range(k):
        L = int(length[p])
        T = (
            torch.diag(alpha[p, :L])
            + torch.diag(beta[p, : L - 1], 1)
            + torch.diag(beta[p, : L - 1], -1)
        )
        evals, evecs = torch.linalg.eigh(T)
        ritz[p, :L], weights[p, :L] = evals, evecs[0] ** 2
        ritz[p, L:] = evals[-1]  # padding (weight 0) kept inside the spectrum's range
    return ritz, weights, alpha[:, 0]


# ---------------------------------------------------------------------------------------------
# Spectrum: exact when affordable, else SLQ + Hutchinson


@dataclass
class Spectrum:
    """Hessian spectrum summary. Units: eigenvalues in loss units (nats) per parameter².

    method: "exact" or "lanczos". eigenvalues [P] ascending (exact only). For "lanczos": ritz
    [k·m] and weights [k·m] (sum 1) form the SLQ estimate of the spectral density (normalised to
    1, i.e. the fraction of the P eigenvalues). trace: exact sum, or P·mean(q0ᵀHq0) over the k
    probes (Hutchinson with the Lanczos starts; identical to the SLQ trace) with trace_stderr.
    frac_negative: fraction of eigenvalues < 0 (SLQ: weight on negative Ritz values, which is NOT
    reliable when a large bulk sits near 0, as on MNIST nets: one Ritz node then carries the
    whole bulk, whatever its sign split; see docs/hessian.md).
    """

    method: str
    n_params: int
    trace: float
    trace_stderr: float
    frac_negative: float
    lambda_min: float
    lambda_max: float
    eigenvalues: np.ndarray | None = None
    ritz: np.ndarray | None = None
    weights: np.ndarray | None = None

    @property
    def n_negative(self) -> int | None:
        """Number of negative eigenvalues (exact only)."""
        return None if self.eigenvalues is None else int((self.eigenvalues < 0).sum())


def spectrum(
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    arch: Architecture,
    weight_decay: float,
    activation: str = "tanh",
    max_exact_params: int = 5000,
    n_probes: int = 8,
    lanczos_steps: int = 100,
    seed: int = 0,
    chunk: int | None = None,
) -> Spectrum:
    """Spectrum of the Hessian at θ [P]: exact (eigvalsh of `hessian`) if P <= max_exact_params,
    else stochastic Lanczos quadrature with n_probes starts of lanczos_steps steps."""
    P = arch.n_params
    if P <= max_exact_params:
        ev = torch.linalg.eigvalsh(
            hessian(theta, x, y, arch, weight_decay, activation, chunk)
        ).numpy()
        return Spectrum(
            "exact",
            P,
            float(ev.sum()),
            0.0,
            float((ev < 0).mean()),
            float(ev[0]),
            float(ev[-1]),
            eigenvalues=ev,
        )
    op = hessian_operator(theta, x, y, arch, weight_decay, activation, chunk)
    ritz, w, a0 = lanczos(op, P, lanczos_steps, n_probes, seed)
    w = w / n_probes
    se = float(P * a0.std() / math.sqrt(n_probes)) if n_probes > 1 else float("nan")
    return Spectrum(
        "lanczos",
        P,
        float(P * a0.mean()),
        se,
        float(w[ritz < 0].sum()),
        float(ritz.min()),
        float(ritz.max()),
        ritz=ritz.reshape(-1).numpy(),
        weights=w.reshape(-1).numpy(),
    )


def along_training(
    steps: np.ndarray,
    seeds: np.ndarray,
    snapshots: np.ndarray,
    train: tuple,
    test: tuple,
    meta: dict,
    settings: dict,
    log=print,
) -> tuple[dict, dict]:
    """Spectra of one cell at the snapshot steps nearest to ``settings["steps"]`` ("end": the last)
    for its first ``settings["seeds"]`` runs: the eigenvalue table and the summary table, as columns.

    snapshots [S, E, P] at steps [S] of runs ``seeds`` [E]; train, test: (x [n, d] float64, y [n]);
    meta: the cell's training metadata (widths, weight_decay, activation).
    """
    from .schedule import nearest_steps
    from .training import Objective

    arch = Architecture.from_widths(meta["widths"])
    data_term = Objective(arch, meta["activation"]).data_term  # cross-entropy, as spectrum's
    chosen = nearest_steps(
        steps, [steps[-1] if w == "end" else float(w) for w in settings["steps"]]
    )
    picks = [(k, s) for k, s in enumerate(seeds) if k < settings["seeds"]]
    exact = arch.n_params <= settings["max_exact_params"]
    log(
        f"{meta['experiment']}/N{meta['n_train']}/{arch.name}: P = {arch.n_params}, seeds {[int(s) for _, s in picks]}, "
        f"steps {chosen} (asked {settings['steps']}); {'exact' if exact else 'stochastic'}"
    )
    eig_rows, summary = [], []
    for k, seed in picks:
        for step in chosen:
            theta = torch.from_numpy(snapshots[np.searchsorted(steps, step), k].astype(np.float64))
            eig, row = _spectrum_at(
                theta, seed, step, arch, data_term, train, test, meta, settings, log
            )
            eig_rows.append(eig)
            summary.append(row)
    eigenvalues = dict(
        zip(("seed", "step", "eigenvalue", "weight"), (np.concatenate(c) for c in zip(*eig_rows)))
    )
    return eigenvalues, {c: [r[c] for r in summary] for c in summary[0]}


def _spectrum_at(
    theta: torch.Tensor,
    seed,
    step,
    arch: Architecture,
    data_term,
    train: tuple,
    test: tuple,
    meta: dict,
    settings: dict,
    log,
) -> tuple[tuple, dict]:
    """The spectrum of run ``seed`` at ``step`` (θ [P]; the seed also seeds the stochastic
    probes): its eigenvalue rows (seed, step, eigenvalue, weight) and its summary row, with the
    train and test losses (data_term: training.Objective's cross-entropy)."""
    import time

    (x, y), (x_test, y_test) = train, test
    start = time.perf_counter()
    found = spectrum(
        theta,
        x,
        y,
        arch,
        meta["weight_decay"],
        meta["activation"],
        max_exact_params=settings["max_exact_params"],
        n_probes=settings["n_probes"],
        lanczos_steps=settings["lanczos_steps"],
        seed=int(seed),
    )
    values = found.eigenvalues if found.eigenvalues is not None else found.ritz
    weights = (
        np.full(len(values), 1 / len(values)) if found.eigenvalues is not None else found.weights
    )
    eig = (np.full(len(values), seed), np.full(len(values), step), values, weights)
    losses = [float(data_term(theta[None], xx, yy)[0][0]) for xx, yy in ((x, y), (x_test, y_test))]
    row = {
        "seed": seed,
        "step": step,
        "exact": found.method == "exact",
        "n_params": arch.n_params,
        "trace": found.trace,
        "trace_stderr": found.trace_stderr,
        "frac_negative": found.frac_negative,
        "lambda_min": found.lambda_min,
        "lambda_max": found.lambda_max,
        "n_train": len(y),
        "train_loss": losses[0],
        "test_loss": losses[1],
    }
    log(
        f"seed {seed} step {step}: {found.method}, trace {found.trace:.4g}, {found.frac_negative:.1%} negative, "
        f"λ in [{found.lambda_min:.3g}, {found.lambda_max:.3g}] ({time.perf_counter() - start:.1f} s)"
    )
    return eig, row


def spectra(job: Job) -> None:
    """The hessian stage: spectra of the full-batch training loss at chosen snapshot steps of a
    cell's first runs.

    Settings: the experiment's ``hessian`` section and how its data become tensors
    (glassynets.settings.hessian). Inputs snapshots (the cell's seed blocks, in order), train (the
    table the cell was trained on; its first n_train rows) and test; outputs eigenvalues and
    summary (tables hessian and hessian_summary).
    """
    from . import storage, tensors

    settings = job.settings
    torch.set_num_threads(job.threads)
    snapshot_files, train_file, test_file = (
        job.input_list("snapshots"),
        job.input("train"),
        job.input("test"),
    )
    if not snapshot_files:
        raise ValueError("hessian: --in snapshots=PATH is required, once per seed block")
    blocks = [storage.read_snapshots(p) for p in snapshot_files]
    meta = job.meta(
        {
            **storage.metadata(snapshot_files[0]),
            **storage.provenance([*snapshot_files, train_file, test_file], settings),
        }
    )
    x, y = tensors.dataset_tensors(settings, train_file, meta["n_train"], torch.float64)
    x_test, y_test = tensors.dataset_tensors(settings, test_file, None, torch.float64)
    eigenvalues, summary = along_training(
        blocks[0][0],
        np.concatenate([b[1] for b in blocks]),
        np.concatenate([b[2] for b in blocks], axis=1),
        (x, y),
        (x_test, y_test),
        meta,
        settings,
        log=job.log,
    )
    storage.write(job.output("eigenvalues"), "hessian", eigenvalues, meta)
    storage.write(job.output("summary"), "hessian_summary", summary, meta)
