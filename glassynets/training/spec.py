"""What determines a training run (TrainSpec), what it returns (TrainResult), and the
per-network generators and device choice that both depend on."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from ..dynamics import problem
from ..nets import Architecture
from ..two_time import Recorder
from .objective import Objective

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


class DivergenceError(RuntimeError):
    """Some network diverged: non-finite or huge parameters, non-finite loss, or a training loss
    that stays far above its initial value; the message names seeds, step and lr."""


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
        from ..schedule import log_steps
        from ..two_time import grid

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
