"""Where each step's points come from: the data order, the persistent batch, the Langevin
noise (every draw from the network's own generator, in chunks whose state is checkpointed),
and the gathering of each network's minibatch into the kernel's layout."""

from __future__ import annotations

import numpy as np
import torch

from ..dynamics import ALL_POINTS, LANGEVIN
from .kernel import _Ensemble
from .spec import TrainSpec

# Data order: permutations are drawn K epochs at a time per network, K = max(1, PERM_CHUNK // N),
# so that the per-network Python/RNG call overhead is amortised. K depends on N only (never on E);
# changing PERM_CHUNK changes nothing in the order itself (the draws are sequential randperm calls
# on the same generator), only how far ahead they are drawn.
PERM_CHUNK = 1 << 16
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
