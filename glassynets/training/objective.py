"""What a network minimises and its full-batch value and gradient, without autograd.

The data term (softmax cross-entropy, or the MSE of linear or sigmoid outputs against one-hot
targets) averaged over the points, plus weight_decay·‖θ‖²; evaluated in chunks of EVAL_CHUNK
points with a hand-written backward pass. Used for the metrics and by the Hessian code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..nets import Architecture, activate, flatten, unflatten

ACTIVATIONS = ("tanh", "relu")
LOSSES = ("cross_entropy", "mse")
OUTPUTS = ("linear", "sigmoid")
# Full-batch evaluation processes the data in chunks of this many samples (bounds memory at
# E x width x EVAL_CHUNK). Fixed, so that the summation order never depends on E.
EVAL_CHUNK = 4096


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
