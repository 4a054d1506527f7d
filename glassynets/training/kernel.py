"""The hot path: one SGD step of every network of the ensemble, stacked, in preallocated buffers.

Layer l of all E networks is one tensor [E, out_l, in_l + 1] (bias last); activations are
feature-major [E, features, B] with a row of ones appended; SGD and the L2 term are fused into
one in-place product per layer, so the step allocates no gradient (see glassynets.training).
"""

from __future__ import annotations

import torch

from .objective import _data_term, _sigmoid
from .spec import TrainSpec


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
