"""Train an ensemble of small fully connected networks with SGD, all in one process.

Every network of the ensemble is stored stacked: layer l is one tensor [E, out_l, in_l + 1] with
the bias as the last column (see nets.py). One SGD step of all E networks is a handful of batched
matrix products with a hand-written backward pass and no autograd, which is what makes training
100 networks of ~70 parameters fast on a CPU (measured in bench/README.md):

- activations are feature-major, [E, features, batch], with a constant row of ones appended so
  that the bias is just another weight column; the softmax runs over dim 1;
- SGD and the L2 term are fused into one in-place update per layer,
      W <- (1 - 2·lr·λ) W - (lr / B) δ Aᵀ      (torch.baddbmm_),
  so no gradient tensor is ever allocated in the hot loop;
- all buffers are preallocated and written with ``out=``.

Objective of network e: a data term averaged over the minibatch + λ‖θ‖², θ = all weights and
biases. The data term is the softmax cross-entropy of the outputs (the subaging paper), or the
mean squared error between the outputs (linear, or sigmoid units as in Baity-Jesi et al.'s toy
model) and one-hot 0/1 targets, averaged over the C outputs as torch's MSELoss does. Hidden units
are tanh or ReLU. In float32 the fused factor 1 - 2·lr·λ is rounded (λ effectively 0.14% larger at
lr 0.05, λ 1e-4); float64 is available through TrainSpec.dtype. With momentum m > 0 the update is
torch.optim.SGD's: v <- m v + g, θ <- θ - lr v, with g the minibatch gradient including 2λθ.
Other dynamics (TrainSpec.noise, docs/noise.md): full-batch gradient descent, Langevin noise added
after the step (to gradient descent or to SGD), persistent SGD (a masked full-batch step), and
minibatches drawn with replacement; the default path (minibatch, epochs) is untouched by them.

Reproducibility contract (tested):
- network e draws its initialisation and then its data order, persistent batch and Langevin noise
  from its own generator ``network_generator(seed_e)`` only, so with data_order="independent" its
  trajectory (snapshots and metrics) is bit-identical whichever other seeds are trained alongside it;
- a rerun of the same spec on the same data gives the same bits, and so does a run resumed from a
  checkpoint.

Devices: spec.device "cpu" or "cuda". On CUDA the data, the layers and all buffers live on the GPU;
the data order is still drawn on the CPU from the same per-network generators (so a network sees
the same minibatches on either device), and the trajectories agree with the CPU's to float
tolerance, not bit for bit (different kernels sum in different orders).

Threads: this module never changes torch's thread count. Callers should run one process per core
with ``torch.set_num_threads(1)`` (and OMP_NUM_THREADS=1); oversubscription costs up to 90x.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .dynamics import ALL_POINTS, LANGEVIN, problem
from .nets import Architecture, activate, flatten, init_layers, unflatten
from .storage import replace_atomically
from .two_time import Recorder

# Data order: permutations are drawn K epochs at a time per network, K = max(1, PERM_CHUNK // N),
# so that the per-network Python/RNG call overhead is amortised. K depends on N only (never on E);
# changing PERM_CHUNK changes nothing in the order itself (the draws are sequential randperm calls
# on the same generator), only how far ahead they are drawn.
PERM_CHUNK = 1 << 16
# Full-batch evaluation processes the data in chunks of this many samples (bounds memory at
# E x width x EVAL_CHUNK). Fixed, so that the summation order never depends on E.
EVAL_CHUNK = 4096
# Wide inputs, independent order: one SGD step runs on chunks of networks whose gathered input rows
# (B x (d+1) per network) total about this many bytes, so that the rows are still in cache when the
# layer-0 product and the layer-0 update read them again. Measured on [784,5,5,10], E=100, B=50,
# N=60000 (2-core dev machine, one thread): 5.5 -> 4.2 ms per step with chunks of 20-25 networks
# (4 MB); chunks of <= 5 networks lose the gain to per-call overhead. Per-network bmm results do not
# depend on how many networks a call holds, so chunking changes no bits.
GATHER_CHUNK_BYTES = 4 << 20
# Langevin noise and persistent-batch draws are made K steps at a time per network, K = max(1,
# DRAW_CHUNK // n) for n values a step (P or N): K depends on n only, never on E, and the chunk in
# use is part of the checkpoint (torch.randn of K·n values is not K draws of n).
DRAW_CHUNK = 1 << 16
ACTIVATIONS = ("tanh", "relu")
LOSSES = ("cross_entropy", "mse")
OUTPUTS = ("linear", "sigmoid")
INITS = ("glorot", "fan_in")
DEVICES = ("cpu", "cuda")
METRICS = (
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "grad_norm",
    "batch_loss",
    "batch_grad_norm",
    "t_sgd",
    "theta_grad",
    "theta_batch_grad",
    "yaida_rhs",
)
_CHECKPOINT_VERSION = 4
# Divergence without NaN: a network whose full-batch training loss stays above this many times its
# first recorded value for DIVERGED_WINDOW metric points in a row (or at the last step), or one
# with a parameter beyond ±THETA_MAX, stops the job like a non-finite value does.
DIVERGED_LOSS_FACTOR = 10.0
DIVERGED_WINDOW = 3
THETA_MAX = 1e4


class StaleCheckpointError(ValueError):
    """A checkpoint file belongs to another run (its spec, data or format differ)."""


class DivergenceError(RuntimeError):
    """Some network diverged: non-finite or huge parameters, non-finite loss, or a training loss
    that stays far above its initial value; the message names seeds, step and lr."""


@dataclass(frozen=True)
class Objective:
    """What a network of ``arch`` minimises: the mean data term (``loss`` on the ``output`` layer,
    ``activation`` in the hidden layers) plus weight_decay·‖θ‖². Methods take θ [E, P] (float32/64,
    layout of nets.flatten), x [n, d] and y [n] int64 class labels; they run without autograd
    (hand-written backward)."""

    arch: Architecture
    activation: str = "tanh"
    loss: str = "cross_entropy"
    output: str = "linear"
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        for name, allowed in (("activation", ACTIVATIONS), ("loss", LOSSES), ("output", OUTPUTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.loss == "cross_entropy" and self.output != "linear":
            raise ValueError(
                "cross_entropy applies the softmax itself: use output 'linear' (sigmoid outputs need loss 'mse')"
            )
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")

    def data_term(
        self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-batch mean data term [E] (cross-entropy in nats, or MSE; no L2 term) and accuracy
        [E], both float64."""
        value, acc, _ = _evaluate(
            unflatten(theta, self.arch),
            _augment(x.to(theta.device), theta.dtype),
            y.to(theta.device),
            self,
            want_grad=False,
        )
        return value, acc

    def value_and_grad(
        self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-batch objective [E] (data term + λ‖θ‖², in theta's dtype) and its gradient [E, P]."""
        layers = unflatten(theta, self.arch)
        value, _, grads = _evaluate(
            layers,
            _augment(x.to(theta.device), theta.dtype),
            y.to(theta.device),
            self,
            want_grad=True,
        )
        g = flatten([g + 2 * self.weight_decay * w for g, w in zip(grads, layers)])
        return value.to(theta.dtype) + self.weight_decay * (theta * theta).sum(dim=1), g


@dataclass(frozen=True, eq=False)
class TrainSpec:
    """Everything that determines a training run (besides the data).

    snapshot_steps / metric_steps: sorted int64 steps in [0, steps]; the state recorded at step s is
    θ before the update of step s (s = 0 is the initialisation, s = steps the final network), and
    so are the metrics at step s (full-batch ones evaluated on that θ, before the update).
    waiting_times / lags / overlap_eps: the grid of the online two-time observables (two_time.py):
    Δ, D and Q_ε(t_w, t_w + t) for t_w in waiting_times and t in lags (steps >= 1, t_w + t <= steps),
    one overlap per ε (parameter units). Empty waiting_times: none recorded.
    loss / output / activation / momentum / init: see the module doc and nets.init_layers.
    data_order: "independent" (each network shuffles with its own generator: independent runs) or
    "shared" (every network follows the order of the first seed's generator, so the first layer of
    all networks is one matrix product; this correlates the SGD noise across the ensemble, and the
    bits of a network then depend on seeds[0] and on E).
    Epochs: each epoch is a fresh permutation of the N training points cut into N // B consecutive
    minibatches of B; the last N mod B points of each permutation are dropped (none when B | N).
    noise / sampling / temperature / persistence: the dynamics (glassynets.dynamics, docs/noise.md).
    minibatch: the SGD above; sampling with_replacement draws each minibatch's B indices i.i.d.
    uniform instead (in chunks of N // B minibatches). full_batch: the gradient of the mean over all
    N points each step. langevin: full_batch, then θ += sqrt(2·lr·T)·ξ, ξ ~ N(0, 1) per parameter;
    minibatch_langevin: SGD, then the same. persistent: each point is in or out of the batch; at
    each step (after the first, where each point is in with probability b = B/N) a point in it
    stays with probability 1 - 1/τ and a point out of it enters with probability b/((1 - b)·τ);
    the gradient is the sum over the batch divided by b·N = B. Every draw of network e (data order,
    ξ, membership) comes from its own generator, in a fixed order.
    eq=False: specs hold arrays; compare ``spec.describe()`` instead.
    """

    arch: Architecture
    lr: float
    batch_size: int
    weight_decay: float
    steps: int
    seeds: tuple[int, ...]
    snapshot_steps: np.ndarray
    metric_steps: np.ndarray
    dtype: str = "float32"
    data_order: str = "independent"
    activation: str = "tanh"
    loss: str = "cross_entropy"
    output: str = "linear"
    momentum: float = 0.0
    init: str = "glorot"
    device: str = "cpu"
    waiting_times: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lags: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    overlap_eps: tuple[float, ...] = ()
    noise: str = "minibatch"
    sampling: str = "epochs"
    temperature: float = 0.0
    persistence: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "overlap_eps", tuple(float(e) for e in self.overlap_eps))
        for name in ("snapshot_steps", "metric_steps", "waiting_times", "lags"):
            a = np.array(getattr(self, name), dtype=np.int64).reshape(-1)
            if a.size and (np.any(np.diff(a) <= 0) or a[0] < 0 or a[-1] > self.steps):
                raise ValueError(f"{name} must be strictly increasing steps in [0, {self.steps}]")
            if name in ("waiting_times", "lags") and a.size and a[0] < 1:
                raise ValueError(f"{name} must be steps >= 1")
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        if any(not e > 0 for e in self.overlap_eps):
            raise ValueError(f"overlap_eps must be positive, got {self.overlap_eps}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise ValueError(f"seeds must be distinct non-negative integers, got {self.seeds}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.data_order not in ("independent", "shared"):
            raise ValueError(
                f"data_order must be 'independent' or 'shared', got {self.data_order!r}"
            )
        if self.device not in DEVICES:
            raise ValueError(
                f"device must be one of {DEVICES} (resolve 'auto' with resolve_device), got {self.device!r}"
            )
        _ = self.objective  # validates activation, loss, output and weight_decay
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.steps < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("need steps >= 0, batch_size >= 1, lr > 0")
        wrong = problem(
            self.noise, self.sampling, self.temperature, self.persistence, self.momentum
        )
        if wrong is not None:
            raise ValueError(f"{wrong[0]} {wrong[1]}")

    @classmethod
    def from_settings(
        cls, settings: dict, arch: Architecture, seeds: tuple[int, ...], device: str
    ) -> TrainSpec:
        """The spec of one job from its settings (glassynets.settings.train: every experiment key,
        by name) and its cell: the step grids are drawn from the settings' per-decade densities,
        and every other field of the spec is the setting of the same name."""
        from .schedule import log_steps
        from .two_time import grid

        steps = settings["steps"]
        waiting_times, lags = grid(
            steps, settings["waiting_times_per_decade"], settings["lags_per_decade"]
        )
        derived = dict(
            arch=arch,
            seeds=seeds,
            device=device,
            waiting_times=waiting_times,
            lags=lags,
            snapshot_steps=log_steps(steps, settings["snapshots_per_decade"]),
            metric_steps=log_steps(steps, settings["metrics_per_decade"]),
        )
        given = {
            f.name: settings[f.name]
            for f in dataclasses.fields(cls)
            if f.name in settings and f.name not in derived
        }
        return cls(**derived, **given)

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    @property
    def objective(self) -> Objective:
        return Objective(self.arch, self.activation, self.loss, self.output, self.weight_decay)

    def describe(self) -> dict:
        """JSON-able description, used to check that a checkpoint belongs to this run."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["arch"] = list(self.arch.widths)
        d["seeds"] = list(self.seeds)
        for name in ("snapshot_steps", "metric_steps", "waiting_times", "lags"):
            d[name] = getattr(self, name).tolist()
        d["overlap_eps"] = list(self.overlap_eps)
        return d


@dataclass
class TrainResult:
    """snapshots [S, E, P] (spec dtype): θ at snapshot_steps [S]; metrics[name] [M, E] float64 at
    metric_steps [M]. Losses are the mean data term without the L2 term (cross-entropy in nats,
    or MSE); accuracies are fractions; grad_norm is the L2 norm of the full training-set gradient
    of the objective (data term + λ‖θ‖²);
    batch_loss / batch_grad_norm are the same for the minibatch that step s uses (the gradient the
    step takes: all N points for full_batch and langevin, the current batch for persistent, whose
    batch_loss is its summed loss over b·N). With g_B that gradient, g the full-batch one (both with
    2λθ) and T the Langevin temperature (0 without): t_sgd = lr·|g_B - g|²/(2P) (nats), theta_grad
    = θ·g, theta_batch_grad = θ·g_B and yaida_rhs = (lr/2)·|g_B|² + T·P (nats); at stationarity
    ⟨theta_batch_grad⟩ = ⟨yaida_rhs⟩ for every dynamics without momentum (docs/noise.md).
    two_time: the online Δ, D, Q_ε (two_time.Recorder), or None without waiting times."""

    snapshot_steps: np.ndarray
    snapshots: np.ndarray
    metric_steps: np.ndarray
    metrics: dict[str, np.ndarray]
    two_time: Recorder | None = None


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda' without a GPU is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was asked for but torch sees no GPU; use device: auto or cpu"
        )
    if device not in DEVICES:
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    return device


def network_generator(seed: int) -> torch.Generator:
    """The generator of network ``seed``: its Xavier draw first, then its data order.

    The torch seed is the first 64-bit word of numpy's SeedSequence(seed), so that neighbouring
    seeds give unrelated streams.
    """
    word = int(np.random.SeedSequence(int(seed)).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator(device="cpu").manual_seed(word)


# ---------------------------------------------------------------------------------------------
# Full-batch loss and gradient (allocating, chunked; used for metrics and by later Hessian code)


def _act_grad_(g: torch.Tensor, h: torch.Tensor, activation: str) -> None:
    """g *= f'(z), written in terms of the activation's output h = f(z)."""
    if activation == "tanh":
        g.addcmul_(g, h * h, value=-1)  # tanh' = 1 - h²
    else:
        g.mul_(h > 0)


def _augment(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """x [n, d] -> [n, d+1] contiguous in dtype on x's device, last column ones (the bias input)."""
    return torch.cat(
        [x.to(dtype), torch.ones(x.shape[0], 1, dtype=dtype, device=x.device)], dim=1
    ).contiguous()


def _sigmoid(z: torch.Tensor) -> torch.Tensor:
    """sigmoid of z [E, C, n], one call per network. torch.sigmoid on CPU computes a call's trailing
    elements (past the last full vector of 16 floats on AVX2, 32 on AVX-512) with scalar code whose
    result differs by 1 ULP on a few percent of inputs, so one call over the whole ensemble would
    make a network's bits depend on the block and chunk it is trained in. Per network, every call
    has the same size whatever E is."""
    out = torch.empty_like(z)
    for e in range(z.shape[0]):
        torch.sigmoid(z[e], out=out[e])
    return out


def _data_term(
    z: torch.Tensor, yi: torch.Tensor, loss: str, output: str, want_delta: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Summed data term [E] (float64), number correct [E] and, if asked, δ = dℓ_i/dz_i [E, C, n]
    of the output pre-activations z [E, C, n] for labels yi [E, 1, n] (per sample, not averaged).

    cross_entropy: ℓ = -log softmax(z)_y. mse: ℓ = (1/C) Σ_c (o_c - [c = y])², o = z or sigmoid(z).
    A sample is correct when its label's output is the largest (ties count as correct)."""
    E, C, n = z.shape
    neg_ones = torch.full((E, 1, n), -1.0, dtype=z.dtype, device=z.device)
    if loss == "cross_entropy":
        logp = torch.log_softmax(z, dim=1)
        logp_y = logp.gather(1, yi)
        # amax over dim 1 is ~70x faster than argmax
        correct = (logp_y >= logp.amax(dim=1, keepdim=True)).sum(dim=(1, 2))
        total = -logp_y.sum(dim=(1, 2), dtype=torch.float64)
        return total, correct, logp.exp_().scatter_add_(1, yi, neg_ones) if want_delta else None
    o = z if output == "linear" else _sigmoid(z)
    err = o.scatter_add(1, yi, neg_ones)  # o - one-hot target
    correct = (z.gather(1, yi) >= z.amax(dim=1, keepdim=True)).sum(dim=(1, 2))
    total = err.square().sum(dim=(1, 2), dtype=torch.float64) / C
    if not want_delta:
        return total, correct, None
    delta = err.mul_(2.0 / C)
    if output == "sigmoid":
        delta.mul_(o * (1 - o))
    return total, correct, delta


def _evaluate(
    layers: list[torch.Tensor],
    x_aug: torch.Tensor,
    y: torch.Tensor,
    objective: Objective,
    want_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor] | None]:
    """Mean data term [E] (float64; see _data_term), accuracy [E] (float64) and optionally the
    mean gradient of the data term per layer (no L2 term) over x_aug [n, d+1] (from _augment),
    y [n], for stacked layers [E, out, in+1].

    The first layer is a bmm against the expanded input: per-network products, so the bits do not
    depend on E (one big [E*h, d+1] @ [d+1, n] gemm is ~2.5x faster on MNIST shapes but its rows
    change with E in MKL)."""
    activation, loss, output = objective.activation, objective.loss, objective.output
    E, n, dt, dev = layers[0].shape[0], x_aug.shape[0], layers[0].dtype, layers[0].device
    total = torch.zeros(E, dtype=torch.float64, device=dev)
    correct = torch.zeros(E, dtype=torch.int64, device=dev)
    grads = [torch.zeros_like(w) for w in layers] if want_grad else None
    for c0 in range(0, n, EVAL_CHUNK):
        xc, yc = x_aug[c0 : c0 + EVAL_CHUNK], y[c0 : c0 + EVAL_CHUNK]
        nc = xc.shape[0]
        a = xc.T.contiguous().expand(E, -1, -1)  # [E, d+1, nc], feature-major
        acts = [a]
        for w in layers[:-1]:
            h = activate(torch.bmm(w, a), activation, inplace=True)
            a = torch.cat([h, torch.ones(E, 1, nc, dtype=dt, device=dev)], dim=1)
            acts.append(a)
        yi = yc.view(1, 1, nc).expand(E, 1, nc)
        chunk_total, chunk_correct, delta = _data_term(
            torch.bmm(layers[-1], a), yi, loss, output, want_grad
        )
        total += chunk_total
        correct += chunk_correct
        if want_grad:
            for l in range(len(layers) - 1, -1, -1):
                a_t = xc.expand(E, -1, -1) if l == 0 else acts[l].transpose(1, 2)  # [E, nc, in+1]
                grads[l].baddbmm_(delta, a_t)
                if l:
                    delta = torch.bmm(layers[l][:, :, :-1].transpose(1, 2), delta)
                    _act_grad_(delta, acts[l][:, :-1], activation)
    if want_grad:
        grads = [g / n for g in grads]
    return total / n, correct.double() / n, grads


# ---------------------------------------------------------------------------------------------
# The stacked trainer


class _Ensemble:
    """Stacked layers plus preallocated buffers for one SGD step of all E networks on B points
    each (B = spec.batch_size, or all N points for the dynamics of dynamics.ALL_POINTS: pass
    points=N). Layer l is W[l] [E, out, in+1] (contiguous); A[l] [E, in+1, B] holds layer l's input
    with a last row of ones (A[0] is gathered from the data, see step()). The gradient is the sum
    over the points divided by ``norm`` (B; spec.batch_size for persistent, whose masked sum runs
    over its batch). With momentum, V[l] is layer l's velocity (shape of W[l]); else V[l] is None."""

    def __init__(
        self,
        layers: list[torch.Tensor],
        spec: TrainSpec,
        velocity: list[torch.Tensor] | None = None,
        points: int | None = None,
    ):
        E, B, dt = layers[0].shape[0], points or spec.batch_size, spec.torch_dtype
        dev = layers[0].device
        self.W = [w.contiguous() for w in layers]
        if spec.momentum and velocity is None:
            velocity = [torch.zeros_like(w) for w in self.W]
        self.V = [v.contiguous() for v in velocity] if spec.momentum else [None] * len(self.W)
        self.E, self.B, self.spec = E, B, spec
        widths = spec.arch.widths
        self.A = [None] + [torch.ones(E, w + 1, B, dtype=dt, device=dev) for w in widths[1:-1]]
        self.H = [None] + [a[:, :-1] for a in self.A[1:]]  # activation part of A[l], a view
        self.Z = [torch.empty(E, w, B, dtype=dt, device=dev) for w in widths[1:]]
        self.G = [None] + [torch.empty(E, w, B, dtype=dt, device=dev) for w in widths[1:-1]]
        self.T = [None] + [torch.empty(E, w, B, dtype=dt, device=dev) for w in widths[1:-1]]
        self.WT = [None] + [
            w[:, :, :-1].transpose(1, 2) for w in self.W[1:]
        ]  # views, track updates
        self.neg_ones = torch.full((E, 1, B), -1.0, dtype=dt, device=dev)
        self.norm = spec.batch_size if spec.noise == "persistent" else B
        self.decay = 1.0 - 2.0 * spec.lr * spec.weight_decay
        self.alpha = -spec.lr / self.norm
        self.tanh = spec.activation == "tanh"

    def step(
        self,
        x0: torch.Tensor,
        shared: bool,
        yb: torch.Tensor,
        update: bool,
        batch_metrics: bool,
        mask: torch.Tensor | None = None,
    ):
        """One SGD step. x0: minibatch inputs incl. the ones feature: [E, d+1, B] (independent
        order, any strides) or [B, d+1] (shared order); yb [E, 1, B] labels; mask [E, 1, B] 0/1:
        only the points with 1 count (persistent). Returns [batch data term [E], batch grad norm
        [E], its gradient (with 2λθ) layer by layer [E, out, in+1] ...] when batch_metrics, else
        None. update=False only evaluates."""
        W, V, A, H, Z, G, T = self.W, self.V, self.A, self.H, self.Z, self.G, self.T
        ce = self.spec.loss == "cross_entropy"
        E, B, L = self.E, self.norm, len(self.W)  # B: the gradient's divisor
        if shared:  # one [E*h, d+1] @ [d+1, B] product for the whole ensemble
            torch.mm(
                W[0].view(E * W[0].shape[1], -1), x0.T, out=Z[0].view(E * W[0].shape[1], self.B)
            )
        else:
            torch.bmm(W[0], x0, out=Z[0])
        for l in range(1, L):
            # torch.tanh measured faster than 2·sigmoid(2x) - 1 in this build (bench/README.md)
            if self.tanh:
                torch.tanh(Z[l - 1], out=H[l])
            else:  # torch.relu has no out=
                torch.clamp(Z[l - 1], min=0, out=H[l])
            torch.bmm(W[l], A[l], out=Z[l])
        out = None
        if batch_metrics:
            if mask is not None:
                value = self._masked_value(Z[-1], yb, mask)
            elif ce:
                value = (
                    -torch.log_softmax(Z[-1], dim=1)
                    .gather(1, yb)
                    .mean(dim=(1, 2), dtype=torch.float64)
                )
            else:
                value = (
                    _data_term(Z[-1], yb, self.spec.loss, self.spec.output, want_delta=False)[0] / B
                )
            out = [value, torch.zeros(E, dtype=torch.float64, device=value.device)]
            grads = [None] * L
        if not (update or batch_metrics):
            return out
        if ce:  # B × dCE/dlogits
            delta = torch.softmax(Z[-1], dim=1).scatter_add_(1, yb, self.neg_ones)
        else:
            delta = _data_term(Z[-1], yb, self.spec.loss, self.spec.output, want_delta=True)[2]
        if mask is not None:
            delta.mul_(mask)
        lam2 = 2 * self.spec.weight_decay
        for l in range(L - 1, -1, -1):
            if l:  # backpropagate through W[l] before it is updated
                torch.bmm(self.WT[l], delta, out=G[l])
            if batch_metrics:
                a_t = (
                    A[l].transpose(1, 2)
                    if l
                    else x0.expand(E, -1, -1)
                    if shared
                    else x0.transpose(1, 2)
                )
                g = torch.baddbmm(W[l], delta, a_t, beta=lam2, alpha=1.0 / B)
                out[1] += g.square().sum(dim=(1, 2), dtype=torch.float64)
                grads[l] = g
            if update:
                if l:
                    self._sgd(W[l], V[l], delta, A[l].transpose(1, 2), torch.Tensor.baddbmm_)
                elif shared:
                    h0 = W[0].shape[1]
                    self._sgd(
                        W[0].view(E * h0, -1),
                        V[0] if V[0] is None else V[0].view(E * h0, -1),
                        delta.reshape(E * h0, self.B),
                        x0,
                        torch.Tensor.addmm_,
                    )
                else:
                    self._sgd(W[0], V[0], delta, x0.transpose(1, 2), torch.Tensor.baddbmm_)
            if l:
                if self.tanh:  # delta = G ⊙ (1 - h²)
                    torch.mul(H[l], H[l], out=T[l])
                    delta = G[l].addcmul_(G[l], T[l], value=-1)
                else:
                    delta = G[l].mul_(H[l] > 0)
        if out is not None:
            out[1] = out[1].sqrt()
            out.extend(grads)
        return out

    def _masked_value(self, z: torch.Tensor, yb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Data term summed over the points with mask 1, divided by norm [E] (float64)."""
        if self.spec.loss == "cross_entropy":
            per_point = -torch.log_softmax(z, dim=1).gather(1, yb)  # [E, 1, B]
        else:
            o = z if self.spec.output == "linear" else _sigmoid(z)
            per_point = o.scatter_add(1, yb, self.neg_ones).square().mean(dim=1, keepdim=True)
        return (per_point * mask).sum(dim=(1, 2), dtype=torch.float64) / self.norm

    def _sgd(
        self,
        w: torch.Tensor,
        v: torch.Tensor | None,
        delta: torch.Tensor,
        a_t: torch.Tensor,
        product,
    ) -> None:
        """One update of layer w from δ and its input a_t (product: baddbmm_ or addmm_, in place).
        Plain: w <- (1 - 2·lr·λ) w - (lr/B) δ a_t, fused in one product. Momentum m:
        v <- m v + (1/B) δ a_t + 2λ w, then w <- w - lr v. (B: the divisor ``norm``.)"""
        if v is None:
            product(w, delta, a_t, beta=self.decay, alpha=self.alpha)
        else:
            product(v, delta, a_t, beta=self.spec.momentum, alpha=1.0 / self.norm)
            v.add_(w, alpha=2 * self.spec.weight_decay)
            w.add_(v, alpha=-self.spec.lr)


class _Order:
    """Minibatch indices, drawn in chunks of K = max(1, PERM_CHUNK // N) epochs per network.

    Network r's permutations come from gens[r] only, one torch.randperm per epoch (randperm is ~8 ns
    per index here, far cheaper than argsort of random keys). perm holds the current chunk,
    [R, K, N] int64 (R = E, or 1 for the shared order); pos counts the steps taken in it. With
    replace=True (sampling: with_replacement) a row is instead (N // B)·B indices drawn i.i.d.
    uniform in [0, N) by one torch.randint, cut into N // B minibatches as an epoch is."""

    def __init__(self, gens: list[torch.Generator], n: int, batch: int, replace: bool = False):
        self.gens, self.n, self.b, self.replace = gens, n, batch, replace
        self.k = max(1, PERM_CHUNK // n)
        self.per_epoch = n // batch  # the last n mod batch points of each permutation are dropped
        self.perm = torch.empty(len(gens), self.k, n, dtype=torch.int64)
        self.pos = self.k * self.per_epoch  # chunk exhausted: the first next() draws one

    def next(self) -> torch.Tensor:
        """Indices of the next minibatch, flat [R * B] (network-major)."""
        if self.pos == self.k * self.per_epoch:
            m = self.per_epoch * self.b
            for r, g in enumerate(self.gens):
                for k in range(self.k):
                    if self.replace:
                        torch.randint(self.n, (m,), generator=g, out=self.perm[r, k, :m])
                    else:
                        torch.randperm(self.n, generator=g, out=self.perm[r, k])
            self.pos = 0
        k, j = divmod(self.pos, self.per_epoch)
        self.pos += 1
        return self.perm[:, k, j * self.b : (j + 1) * self.b].reshape(-1)


class _Stream:
    """Random values of every network, n a step, drawn K = max(1, DRAW_CHUNK // n) steps at a time:
    one torch.randn (``normal``, times ``scale``) or torch.rand (``uniform``) of K·n values per
    network from its own generator. buf [R, K, n] (dtype) holds the chunk in use, pos the steps
    taken from it; both go into the checkpoint."""

    def __init__(
        self,
        gens: list[torch.Generator],
        n: int,
        kind: str,
        dtype: torch.dtype,
        scale: float = 1.0,
    ):
        self.gens, self.kind, self.scale = gens, kind, scale
        self.k = max(1, DRAW_CHUNK // n)
        self.buf = torch.empty(len(gens), self.k, n, dtype=dtype)
        self.pos = self.k  # exhausted: the first next() draws

    def next(self) -> torch.Tensor:
        """The next step's values [R, n] (a view into the chunk)."""
        if self.pos == self.k:
            draw = torch.randn if self.kind == "normal" else torch.rand
            for r, g in enumerate(self.gens):
                draw(
                    self.buf[r].numel(), generator=g, dtype=self.buf.dtype, out=self.buf[r].view(-1)
                )
            if self.scale != 1.0:  # a product is rounded alike by vector and scalar code
                self.buf.mul_(self.scale)
            self.pos = 0
        self.pos += 1
        return self.buf[:, self.pos - 1]

    def state(self) -> dict:
        return {"buf": self.buf.clone(), "pos": self.pos}

    def load(self, state: dict) -> None:
        self.buf.copy_(state["buf"])
        self.pos = state["pos"]


class _Membership:
    """Persistent SGD's batch: inside [R, N] bool, each point's membership, a two-state Markov chain
    per point driven by one uniform u per point and step (a _Stream of network r's generator, R = E
    or 1 for the shared order). Step 0: in when u < b. Later steps: a point in stays when
    u < 1 - 1/τ, a point out enters when u < b/((1 - b)·τ); the stationary fraction is b and the
    membership's autocorrelation (1 - 1/((1 - b)·τ))^t. With τ = 1/(1 - b) both thresholds are b:
    a fresh Bernoulli(b) batch each step."""

    def __init__(self, gens: list[torch.Generator], n: int, b: float, tau: float):
        self.uniform = _Stream(gens, n, "uniform", torch.float32)
        self.b, self.stay, self.enter = b, 1.0 - 1.0 / tau, b / ((1.0 - b) * tau)
        self.inside: torch.Tensor | None = None

    def next(self) -> torch.Tensor:
        """The batch of the next step, inside [R, N] bool."""
        u = self.uniform.next()
        if self.inside is None:
            self.inside = u < self.b
        else:
            self.inside = torch.where(self.inside, u < self.stay, u < self.enter)
        return self.inside

    def state(self) -> dict:
        return {"uniform": self.uniform.state(), "inside": self.inside}

    def load(self, state: dict) -> None:
        self.uniform.load(state["uniform"])
        self.inside = state["inside"]


class _AllPoints:
    """The step source of the dynamics that see all N points every step (dynamics.ALL_POINTS): the
    data once, feature-major and expanded over the ensemble ([R, d+1, N], per-network products whose
    bits do not depend on R), and for persistent the batch mask of each network."""

    def __init__(
        self,
        net: _Ensemble,
        x_aug: torch.Tensor,
        y: torch.Tensor,
        membership: _Membership | None,
    ):
        R, n = net.E, x_aug.shape[0]
        self.net, self.membership = net, membership
        self.x0 = x_aug.T.contiguous().expand(R, -1, -1)
        self.yb = y.view(1, 1, n).expand(R, 1, n)

    def step(self, update: bool, batch_metrics: bool) -> list[torch.Tensor] | None:
        mask = None
        if self.membership is not None:
            inside = self.membership.next()
            R, dev = self.net.E, self.x0.device
            mask = inside.to(device=dev, dtype=self.x0.dtype).unsqueeze(1)  # [R_m, 1, N]
            mask = (
                mask.expand(R, -1, -1) if len(inside) == 1 else mask.repeat(R // len(inside), 1, 1)
            )
        return self.net.step(self.x0, False, self.yb, update, batch_metrics, mask=mask)


class _Kicks:
    """The Langevin noise: after each update, θ_e += sqrt(2·lr·T)·ξ_e, ξ_e [P] ~ N(0, 1) from network
    e's generator (a _Stream, drawn already scaled, so that the add is exact either way)."""

    def __init__(self, gens: list[torch.Generator], spec: TrainSpec):
        scale = float(np.sqrt(2.0 * spec.lr * spec.temperature))
        self.stream = _Stream(gens, spec.arch.n_params, "normal", spec.torch_dtype, scale)
        self.shapes = spec.arch.layer_shapes

    def apply(self, W: list[torch.Tensor]) -> None:
        xi = self.stream.next()
        R, E = W[0].shape[0], xi.shape[0]
        xi = (xi if R == E else xi.repeat(R // E, 1)).to(W[0].device)
        at = 0
        for w, (o, i) in zip(W, self.shapes):
            w.add_(xi[:, at : at + o * i].view(R, o, i))
            at += o * i


class _Draws:
    """Every random source of a run after the initialisation: the data order (minibatch dynamics),
    the persistent batch and the Langevin noise (None where the dynamics has none), in one
    checkpointable object."""

    def __init__(self, spec: TrainSpec, gens: list[torch.Generator], n: int):
        order_gens = gens[:1] if spec.data_order == "shared" else gens
        every = spec.noise in ALL_POINTS
        self.order = (
            None
            if every
            else _Order(order_gens, n, spec.batch_size, spec.sampling == "with_replacement")
        )
        self.membership = (
            _Membership(order_gens, n, spec.batch_size / n, spec.persistence)
            if spec.noise == "persistent"
            else None
        )
        self.kicks = _Kicks(gens, spec) if spec.noise in LANGEVIN else None

    def state(self) -> dict:
        return {
            "perm": self.order.perm if self.order else None,
            "pos": self.order.pos if self.order else None,
            "membership": self.membership.state() if self.membership else None,
            "kicks": self.kicks.stream.state() if self.kicks else None,
        }

    def load(self, state: dict) -> None:
        if self.order is not None:
            self.order.perm, self.order.pos = state["perm"], state["pos"]
        if self.membership is not None:
            self.membership.load(state["membership"])
        if self.kicks is not None:
            self.kicks.stream.load(state["kicks"])


def _pixel_codes(x_aug: torch.Tensor) -> torch.Tensor | None:
    """uint8 k [n, d+1] with x_aug == k / 255 exactly, computed as the trainer decodes them
    (k.to(dtype) / 255), or None when some value is not of that form.

    MNIST pixels scaled to [0, 1] (and the ones column) are: the wide-input step then gathers its
    random rows as bytes, a quarter of the memory traffic that dominates it (measured in
    bench/README.md), and decodes them in cache to the very same floats."""
    if float(x_aug.min()) < 0 or float(x_aug.max()) > 1:
        return None
    codes = (x_aug * 255).round_().to(torch.uint8)
    return codes if torch.equal(codes.to(x_aug.dtype).div_(255), x_aug) else None


def _fingerprint(*tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _fmt_time(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class _StopForTest(Exception):
    """Raised by the private _stop_at_step hook after a checkpoint was written."""


def train_resumable(
    spec: TrainSpec,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    checkpoint: Path | None,
    checkpoint_every_s: float,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """:func:`train_ensemble`, resuming from ``checkpoint`` when it belongs to this run and
    starting afresh (with a note) when it belongs to other settings."""
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)

    def run() -> TrainResult:
        return train_ensemble(
            spec,
            x_train,
            y_train,
            x_test,
            y_test,
            checkpoint=checkpoint,
            checkpoint_every_s=checkpoint_every_s,
            log=log,
        )

    try:
        return run()
    except StaleCheckpointError as err:
        log(f"{err}: the settings changed since it was written, so training starts afresh")
        checkpoint.unlink()
        return run()


def _check_data(spec: TrainSpec, x_train, y_train, x_test, y_test) -> None:
    arch, (n, d) = spec.arch, x_train.shape
    if d != arch.n_in or x_test.shape[1] != arch.n_in:
        raise ValueError(f"data has {d} features, architecture expects {arch.n_in}")
    if spec.batch_size > n:
        raise ValueError(f"batch_size {spec.batch_size} exceeds the {n} training points")
    wrong = problem(
        spec.noise,
        spec.sampling,
        spec.temperature,
        spec.persistence,
        spec.momentum,
        spec.batch_size,
        n,
    )
    if wrong is not None:
        raise ValueError(f"{wrong[0]} {wrong[1]}")
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        bad = (~torch.isfinite(x)).nonzero()
        if len(bad):
            row, column = (int(i) for i in bad[0])
            raise ValueError(
                f"non-finite input: {name} row {row}, feature {column} is {float(x[row, column])} "
                f"({len(bad)} such values); the data table is at fault, not the training settings"
            )
    for name, yy, m in (("y_train", y_train, n), ("y_test", y_test, x_test.shape[0])):
        if yy.shape != (m,) or (m and (int(yy.min()) < 0 or int(yy.max()) >= arch.n_out)):
            raise ValueError(f"{name} must be [n] int labels in [0, {arch.n_out})")


class _Batches:
    """The minibatch source of an ensemble: each network's next indices, gathered and stepped.

    It hides the three ways of gathering the inputs: the shared order (rows once for the whole
    ensemble), few features (columns of a feature-major copy: measured ~36 µs of ~600 µs per step
    at E = 100 on [2,5,5,4]) and wide inputs (rows, chunk by chunk of networks, as bytes where the
    pixels allow; see GATHER_CHUNK_BYTES)."""

    def __init__(
        self,
        spec: TrainSpec,
        net: _Ensemble,
        x_aug: torch.Tensor,
        y: torch.Tensor,
        order: _Order,
        E: int,
    ):
        d1, B, R, dev = x_aug.shape[1], spec.batch_size, net.E, x_aug.device
        self.net, self.order, self.x_aug, self.y, self.B, self.E, self.R = (
            net,
            order,
            x_aug,
            y,
            B,
            E,
            R,
        )
        self.shared = spec.data_order == "shared"
        self.small_d = d1 <= 32 and not self.shared
        self.xT = x_aug.T.contiguous() if self.small_d else None
        self.buf = torch.empty(d1, R * B, dtype=x_aug.dtype, device=dev) if self.small_d else None
        self.parts = None
        if not (self.shared or self.small_d):  # parts share net.W's storage (slices)
            # (a GPU has no such cache to keep warm and prefers one big call)
            c = (
                R
                if dev.type == "cuda"
                else max(2, GATHER_CHUNK_BYTES // (B * d1 * x_aug.element_size()))
            )
            bounds = list(range(0, R, c)) + [R]
            if (
                len(bounds) > 2 and bounds[-1] - bounds[-2] == 1
            ):  # a last chunk of one network joins the one before
                del bounds[-2]
            self.parts = [
                (
                    i * B,
                    _Ensemble(
                        [w[i:j] for w in net.W],
                        spec,
                        [v[i:j] for v in net.V] if spec.momentum else None,
                    ),
                )
                for i, j in zip(bounds, bounds[1:])
            ]
            self.buf = torch.empty(
                max(j - i for i, j in zip(bounds, bounds[1:])) * B,
                d1,
                dtype=x_aug.dtype,
                device=dev,
            )
            self.codes = _pixel_codes(x_aug) if dev.type == "cpu" else None
            self.code_buf = (
                torch.empty(self.buf.shape, dtype=torch.uint8) if self.codes is not None else None
            )

    def step(self, update: bool, batch_metrics: bool) -> list[torch.Tensor] | None:
        """One SGD step of every network on its next minibatch (see _Ensemble.step)."""
        B, d1 = self.B, self.x_aug.shape[1]
        idx = self.order.next().to(self.x_aug.device, non_blocking=True)
        if self.R > self.E and not self.shared:
            idx = idx.repeat(self.R // self.E)
        if self.parts is not None:  # wide inputs: gather rows (cheaper than columns) chunk by chunk
            outs = []
            for i0, part in self.parts:
                ic = idx[i0 : i0 + part.E * B]
                if self.codes is None:
                    rows = torch.index_select(
                        self.x_aug, 0, ic, out=self.buf[: len(ic)]
                    )  # [e*B, d+1]
                else:  # the same floats, from a quarter of the bytes
                    codes = torch.index_select(self.codes, 0, ic, out=self.code_buf[: len(ic)])
                    rows = self.buf[: len(ic)].copy_(codes).div_(255)
                x0 = rows.view(-1, B, d1).transpose(1, 2)  # viewed feature-major: [e, d+1, B]
                yb = self.y.index_select(0, ic).view(-1, 1, B)
                outs.append(part.step(x0, False, yb, update=update, batch_metrics=batch_metrics))
            return [torch.cat(o) for o in zip(*outs)] if batch_metrics else None
        if self.shared:
            x0 = self.x_aug.index_select(0, idx)  # [B, d+1]
        else:  # gather columns of the feature-major copy: [d+1, E*B] viewed as [E, d+1, B]
            x0 = (
                torch.index_select(self.xT, 1, idx, out=self.buf)
                .view(-1, self.R, B)
                .permute(1, 0, 2)
            )
        yb = self.y.index_select(0, idx).view(-1, 1, B).expand(self.R, 1, B)
        return self.net.step(x0, self.shared, yb, update=update, batch_metrics=batch_metrics)


def _dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Σ over layers of the per-network dot products of stacked layers [E, out, in+1]: [E]."""
    return sum((x * y).sum(dim=(1, 2)) for x, y in zip(a, b))


class _Recording:
    """What a run records at step s, with θ(s) before that step's update: snapshots, the online
    two-time observables, the full-batch metrics (and, after the step, the minibatch ones), and
    the divergence checks at each of them. Its state goes into the checkpoint."""

    def __init__(self, spec: TrainSpec, data: tuple[torch.Tensor, ...]):
        E, P = len(spec.seeds), spec.arch.n_params
        self.spec, self.data, self.E, self.seeds = spec, data, E, np.array(spec.seeds)
        self.snapshots = np.empty((len(spec.snapshot_steps), E, P), dtype=spec.dtype)
        self.metrics = {k: np.full((len(spec.metric_steps), E), np.nan) for k in METRICS}
        self.two_time = (
            Recorder(spec.waiting_times, spec.lags, spec.steps, spec.overlap_eps, E, P, spec.dtype)
            if len(spec.waiting_times)
            else None
        )
        self.si, self.mi, self.last_ok, self.last_loss, self.row = 0, 0, None, float("nan"), None
        self.theta = self.full = None  # θ(s) and the full-batch gradient, float64, per layer

    def metrics_due(self, s: int) -> bool:
        return self.mi < len(self.spec.metric_steps) and self.spec.metric_steps[self.mi] == s

    def before_update(self, s: int, W: list[torch.Tensor]) -> None:
        spec, E = self.spec, self.E
        snap = self.si < len(spec.snapshot_steps) and spec.snapshot_steps[self.si] == s
        pair = self.two_time is not None and s in self.two_time.steps
        self.row = None
        if snap or self.metrics_due(s):
            self._check(
                s,
                "non-finite parameters",
                torch.stack([w[:E].reshape(E, -1).isfinite().all(1) for w in W]).all(0),
            )
            self._check(
                s,
                f"a parameter beyond ±{THETA_MAX:g}",
                torch.stack([w[:E].reshape(E, -1).abs().amax(1) <= THETA_MAX for w in W]).all(0),
            )
        if snap or pair:
            theta = flatten(W)[:E].cpu().numpy()
            if snap:
                self.snapshots[self.si] = theta
                self.si += 1
            if pair:
                self.two_time.record(s, theta)
        if self.metrics_due(s):  # full-batch metrics of θ(s), before this step's update
            x_aug, y_train, xt_aug, y_test = self.data
            ce, acc, grads = _evaluate(W, x_aug, y_train, spec.objective, want_grad=True)
            full = [g + 2 * spec.weight_decay * w for g, w in zip(grads, W)]
            gn = sum(f.square().sum(dim=(1, 2), dtype=torch.float64) for f in full)
            tce, tacc, _ = _evaluate(W, xt_aug, y_test, spec.objective, want_grad=False)
            self._check(s, "non-finite training loss", ce[:E].isfinite())
            self._check_loss(s, ce[:E].cpu().numpy())
            self.theta = [w.to(torch.float64, copy=True) for w in W]  # W changes in place
            self.full = [f.double() for f in full]
            self.row = dict(
                train_loss=ce,
                train_acc=acc,
                test_loss=tce,
                test_acc=tacc,
                grad_norm=gn.sqrt(),
                theta_grad=_dot(self.theta, self.full),
            )
        if snap or self.row is not None:
            self.last_ok = s  # every check of this step passed

    def after_update(self, batch: list[torch.Tensor] | None) -> None:
        """The minibatch metrics of the step whose full-batch metrics were just taken."""
        if self.row is None:
            return
        spec, g_batch = self.spec, [g.double() for g in batch[2:]]
        diff = [a - b for a, b in zip(g_batch, self.full)]
        self.row.update(
            batch_loss=batch[0],
            batch_grad_norm=batch[1],
            t_sgd=spec.lr * _dot(diff, diff) / (2 * spec.arch.n_params),
            theta_batch_grad=_dot(self.theta, g_batch),
            yaida_rhs=spec.lr / 2 * _dot(g_batch, g_batch) + spec.temperature * spec.arch.n_params,
        )
        self.theta = self.full = None
        for k, v in self.row.items():
            self.metrics[k][self.mi] = v[: self.E].cpu().numpy()
        self.last_loss = float(self.row["train_loss"][: self.E].mean())
        self.mi += 1

    def _check(self, step: int, what: str, ok: torch.Tensor) -> None:
        bad = ~torch.as_tensor(ok)
        if bool(bad.any()):
            n_bad = int(bad.sum())
            which = ", ".join(str(s) for s in self.seeds[bad.cpu().numpy()][:10]) + (
                " ..." if n_bad > 10 else ""
            )
            since = (
                f"fine at step {self.last_ok}"
                if self.last_ok is not None
                else "never checked before"
            )
            raise DivergenceError(
                f"seed{'s' if n_bad > 1 else ''} {which} diverged: {what} at step {step} "
                f"({since}); lower lr (now {self.spec.lr})"
            )

    def _check_loss(self, step: int, loss: np.ndarray) -> None:
        """Loss far above its first recorded value for DIVERGED_WINDOW points in a row, or at the end."""
        mi, train_loss = self.mi, self.metrics["train_loss"]
        first = train_loss[0] if mi else loss
        recent = np.vstack([train_loss[max(0, mi - DIVERGED_WINDOW + 1) : mi], loss[None]])
        high = (recent > DIVERGED_LOSS_FACTOR * first).all(axis=0)
        if len(recent) < DIVERGED_WINDOW and step < self.spec.steps:
            high[:] = False
        when = "at the end" if step == self.spec.steps else f"for {DIVERGED_WINDOW} metric points"
        self._check(
            step, f"training loss above {DIVERGED_LOSS_FACTOR:g}× its initial value ({when})", ~high
        )

    def state(self) -> dict:
        return {
            "si": self.si,
            "mi": self.mi,
            "last_ok": self.last_ok,
            "snapshots": torch.from_numpy(self.snapshots[: self.si].copy()),
            "metrics": {k: torch.from_numpy(v[: self.mi].copy()) for k, v in self.metrics.items()},
            "two_time": (
                {k: torch.from_numpy(v) for k, v in self.two_time.state().items()}
                if self.two_time is not None
                else {}
            ),
        }

    def load(self, state: dict) -> None:
        self.si, self.mi, self.last_ok = state["si"], state["mi"], state["last_ok"]
        self.snapshots[: self.si] = state["snapshots"].numpy()
        for k in METRICS:
            self.metrics[k][: self.mi] = state["metrics"][k].numpy()
        if self.two_time is not None:
            self.two_time.load({k: v.numpy() for k, v in state["two_time"].items()})

    def result(self) -> TrainResult:
        spec = self.spec
        return TrainResult(
            spec.snapshot_steps.copy(),
            self.snapshots,
            spec.metric_steps.copy(),
            self.metrics,
            self.two_time,
        )


class _Checkpoint:
    """The full state of a run (networks, generators, data order, recordings) in one file, written
    atomically; loading accepts only a file of this spec, these data and this format."""

    def __init__(
        self, path: Path, spec: TrainSpec, data_fingerprint: str, log: Callable[[str], None]
    ):
        self.path, self.spec, self.fingerprint, self.log = Path(path), spec, data_fingerprint, log

    def save(
        self, step: int, net: _Ensemble, gens: list[torch.Generator], draws: _Draws, rec: _Recording
    ) -> None:
        state = {
            "version": _CHECKPOINT_VERSION,
            "spec": self.spec.describe(),
            "data": self.fingerprint,
            "step": step,
            "layers": [w.cpu() for w in net.W],
            "velocity": [v.cpu() for v in net.V if v is not None],
            "gen_states": [g.get_state() for g in gens],
            "draws": draws.state(),
            **rec.state(),
        }
        replace_atomically(self.path, lambda tmp: torch.save(state, tmp))

    def save_or_warn(self, *args) -> None:
        """A failed write (disk full, read-only) is a warning: the run goes on, a kill restarts from the last good one."""
        try:
            self.save(*args)
        except (OSError, RuntimeError) as err:  # torch.save reports a full disk as a RuntimeError
            free = shutil.disk_usage(self.path.parent).free
            self.log(
                f"warning: could not write the checkpoint {self.path} ({err}; {free / 2**20:.1f} MiB free there); "
                "training goes on"
            )

    def load(self, gens: list[torch.Generator], draws: _Draws, rec: _Recording) -> dict | None:
        """The saved state (its step, layers and velocity), restoring generators, draws and recordings; None if no file."""
        if not self.path.exists():
            return None
        ck = torch.load(self.path, weights_only=True)
        if (
            ck.get("version") != _CHECKPOINT_VERSION
            or ck.get("spec") != self.spec.describe()
            or ck.get("data") != self.fingerprint
        ):
            raise StaleCheckpointError(
                f"checkpoint {self.path} belongs to a different run (spec, data or format differ); "
                "delete it to start afresh"
            )
        for g, st in zip(gens, ck["gen_states"]):
            g.set_state(st)
        draws.load(ck["draws"])
        rec.load(ck)
        self.log(f"resumed from {self.path} at step {ck['step']}")
        return ck


class _Progress:
    """A log line every log_every_s seconds: step, rate, ETA and the last mean training loss."""

    def __init__(self, spec: TrainSpec, start: int, log: Callable[[str], None], every_s: float):
        self.spec, self.start, self.log, self.every_s = spec, start, log, every_s
        self.t0 = self.t_log = time.perf_counter()

    def tick(self, s: int, rec: _Recording) -> None:
        now, steps = time.perf_counter(), self.spec.steps
        if s < steps and now - self.t_log >= self.every_s:
            rate = (s + 1 - self.start) / (now - self.t0)
            self.log(
                f"step {s + 1}/{steps} ({100 * (s + 1) / steps:.1f}%)  {rate:,.0f} steps/s  "
                f"{rate * rec.E:,.0f} net-steps/s  ETA {_fmt_time((steps - s - 1) / rate)}  "
                f"mean train loss {rec.last_loss:.4f} (step {rec.last_ok})"
            )
            self.t_log = now


def train_ensemble(
    spec: TrainSpec,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    checkpoint: Path | None = None,
    checkpoint_every_s: float = 60.0,
    log: Callable[[str], None] = print,
    log_every_s: float = 20.0,
    _stop_at_step: int | None = None,
) -> TrainResult:
    """Train len(spec.seeds) networks with plain SGD for spec.steps steps; see the module doc.

    x_* [n, d] float features, y_* [n] int64 labels in [0, arch.n_out). Snapshots and metrics are
    recorded with θ before the update of their step; at step == spec.steps no update is made and
    the batch metrics use the minibatch that step would use.
    checkpoint: if given, the full state is written there atomically every checkpoint_every_s
    seconds of wall time and once at the end; if it exists at start and matches this spec and
    data, training resumes from it and ends in the same bits as an uninterrupted run. A checkpoint
    of another run raises StaleCheckpointError. The caller deletes it once the outputs are safely written.
    Raises DivergenceError (naming seeds and step) if any network is non-finite at a recorded step.
    Does not set torch's thread count: call torch.set_num_threads(1) (one process per core).
    """
    _check_data(spec, x_train, y_train, x_test, y_test)
    E, dev = len(spec.seeds), torch.device(spec.device)
    y_train, y_test = y_train.long().contiguous(), y_test.long().contiguous()
    fingerprint = _fingerprint(x_train, y_train, x_test, y_test) if checkpoint is not None else None
    x_train, y_train, x_test, y_test = (t.to(dev) for t in (x_train, y_train, x_test, y_test))
    x_aug = _augment(x_train, spec.torch_dtype)  # [n, d+1]
    gens = [network_generator(s) for s in spec.seeds]
    layers = [
        torch.stack(ws).to(dev)
        for ws in zip(*(init_layers(spec.arch, g, spec.torch_dtype, spec.init) for g in gens))
    ]
    draws = _Draws(spec, gens, len(y_train))
    rec = _Recording(spec, (x_aug, y_train, _augment(x_test, spec.torch_dtype), y_test))
    saver = _Checkpoint(checkpoint, spec, fingerprint, log) if checkpoint is not None else None
    saved = saver.load(gens, draws, rec) if saver is not None else None
    points = len(y_train) if spec.noise in ALL_POINTS else None
    # MKL runs a batch of one matrix product through other kernels than a batch of several (measured:
    # baddbmm_ with a long inner dimension rounds differently), so a lone network trains beside a
    # copy of itself that follows its minibatches and is dropped: R = max(E, 2) networks run.
    net = (
        _Ensemble(
            [w.to(dev) for w in saved["layers"]],
            spec,
            [v.to(dev) for v in saved["velocity"]] or None,
            points,
        )
        if saved
        else _Ensemble([w.repeat(max(E, 2) // E, 1, 1) for w in layers], spec, None, points)
    )
    batches = (
        _AllPoints(net, x_aug, y_train, draws.membership)
        if points
        else _Batches(spec, net, x_aug, y_train, draws.order, E)
    )
    start = saved["step"] if saved else 0
    progress, t_saved = _Progress(spec, start, log, log_every_s), time.perf_counter()
    if torch.get_num_threads() > 1:
        log(
            f"note: torch uses {torch.get_num_threads()} threads; this trainer is fastest with "
            "torch.set_num_threads(1) and one process per core"
        )
    for s in range(start, spec.steps + 1):
        if saver is not None and s > start and time.perf_counter() - t_saved >= checkpoint_every_s:
            saver.save_or_warn(s, net, gens, draws, rec)
            t_saved = time.perf_counter()
        if _stop_at_step is not None and s == _stop_at_step:
            if saver is not None:
                saver.save(s, net, gens, draws, rec)
            raise _StopForTest(s)
        metrics_due = rec.metrics_due(s)
        rec.before_update(s, net.W)
        if s == spec.steps and not metrics_due:
            break
        batch = batches.step(update=s < spec.steps, batch_metrics=metrics_due)
        if draws.kicks is not None and s < spec.steps:
            draws.kicks.apply(net.W)
        rec.after_update(batch)
        progress.tick(s, rec)
    if saver is not None:
        saver.save_or_warn(spec.steps + 1, net, gens, draws, rec)
    return rec.result()
