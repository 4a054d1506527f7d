"""Fully connected networks as stacked weight tensors: shapes, names, initialisation, flattening.

A network with widths (n_in, h_1, ..., h_k, n_out) has one weight matrix per layer with the bias
folded in as the last column: layer l holds W_l of shape [out_l, in_l + 1]. The flat parameter
vector θ (length P) is the concatenation over layers of W_l flattened row-major, so that
θ = (w_11, ..., w_1in, b_1, w_21, ...). An ensemble of E networks stacks these along a leading
dimension: [E, out_l, in_l + 1] per layer and [E, P] flat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

_ARCH_NAME = re.compile(r"^h\d+(-\d+)*$")


@dataclass(frozen=True)
class Architecture:
    """Widths of a fully connected network: n_in inputs, hidden widths, n_out classes."""

    n_in: int
    hidden: tuple[int, ...]
    n_out: int

    @classmethod
    def from_name(cls, name: str, n_in: int, n_out: int) -> Architecture:
        """Parse a hidden-layer name such as ``"h5-5"`` (two hidden layers of 5 units)."""
        if not _ARCH_NAME.match(name):
            raise ValueError(
                f"architecture name {name!r} is not of the form h<width>[-<width>...], e.g. 'h5-5'"
            )
        return cls(n_in, tuple(int(w) for w in name[1:].split("-")), n_out)

    @classmethod
    def from_widths(cls, widths: list[int] | tuple[int, ...]) -> Architecture:
        """From all layer widths (n_in, hidden..., n_out), e.g. [784, 5, 5, 10]."""
        return cls(widths[0], tuple(widths[1:-1]), widths[-1])

    @property
    def name(self) -> str:
        return "h" + "-".join(str(w) for w in self.hidden)

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.n_in, *self.hidden, self.n_out)

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """[(out_l, in_l + 1)] for each layer, bias folded in as the last column."""
        w = self.widths
        return [(w[i + 1], w[i] + 1) for i in range(len(w) - 1)]

    @property
    def n_params(self) -> int:
        return sum(o * i for o, i in self.layer_shapes)


def init_layers(
    arch: Architecture,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
    scheme: str = "glorot",
) -> list[torch.Tensor]:
    """One network's layers [out, in + 1], drawn layer by layer from ``generator``.

    - ``glorot`` (Keras' default, the subaging paper): weights U(-a, a), a = sqrt(6 / (fan_in +
      fan_out)), zero biases;
    - ``fan_in`` (torch.nn.Linear's default, Baity-Jesi et al.'s code): weights, then biases,
      U(-a, a) with a = 1 / sqrt(fan_in).

    Values are drawn in float64 and then cast, so that float32 and float64 runs start from the same point.
    """
    if scheme not in ("glorot", "fan_in"):
        raise ValueError(f"init scheme must be 'glorot' or 'fan_in', got {scheme!r}")
    layers = []
    for out, inp_plus_bias in arch.layer_shapes:
        fan_in = inp_plus_bias - 1
        a = (6.0 / (fan_in + out)) ** 0.5 if scheme == "glorot" else fan_in**-0.5
        w = torch.zeros(out, inp_plus_bias, dtype=torch.float64)
        w[:, :fan_in] = (
            torch.rand(out, fan_in, generator=generator, dtype=torch.float64) * 2 - 1
        ) * a
        if scheme == "fan_in":
            w[:, fan_in] = (torch.rand(out, generator=generator, dtype=torch.float64) * 2 - 1) * a
        layers.append(w.to(dtype))
    return layers


def flatten(layers: list[torch.Tensor]) -> torch.Tensor:
    """Stacked layers [E, out, in + 1] -> flat parameters [E, P]."""
    return torch.cat([w.reshape(w.shape[0], -1) for w in layers], dim=1)


def unflatten(theta: torch.Tensor, arch: Architecture) -> list[torch.Tensor]:
    """Flat parameters [E, P] -> stacked layers [E, out, in + 1] (views where possible)."""
    if theta.shape[-1] != arch.n_params:
        raise ValueError(
            f"θ has {theta.shape[-1]} parameters, architecture {arch.name} needs {arch.n_params}"
        )
    layers, start = [], 0
    for out, inp in arch.layer_shapes:
        layers.append(theta[:, start : start + out * inp].reshape(-1, out, inp))
        start += out * inp
    return layers


def activate(z: torch.Tensor, activation: str, inplace: bool = False) -> torch.Tensor:
    """The hidden units' activation (tanh or relu) of z, in place when asked (the trainer) or as a
    new tensor (autograd, the Hessian code)."""
    if activation not in ("tanh", "relu"):
        raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}")
    if inplace:
        return z.tanh_() if activation == "tanh" else z.relu_()
    return torch.tanh(z) if activation == "tanh" else torch.relu(z)
