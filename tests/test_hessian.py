"""Tests of the exact Hessian (vs finite differences of the hand-written gradient), HVPs, and
the stochastic estimates (vs the exact spectrum)."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import wasserstein_distance

from glassynets import hessian as hs
from glassynets.nets import Architecture
from glassynets.training import Objective

LAM = 1e-4


def problem(widths: list[int], n: int, seed: int = 0, scale: float = 0.7):
    arch = Architecture.from_widths(widths)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, widths[0], generator=g), torch.randint(0, widths[-1], (n,), generator=g)
    theta = torch.randn(arch.n_params, generator=g, dtype=torch.float64) * scale
    return theta, x, y, arch


def fd_columns(theta, x, y, arch, act, cols, eps=1e-5) -> torch.Tensor:
    """Central differences of Objective.value_and_grad (float64) along e_j, j in cols: H[:, cols], [P, len(cols)].
    All ±eps perturbations go through value_and_grad at once as an 'ensemble' [2k, P]."""
    E = torch.eye(arch.n_params, dtype=torch.float64)[cols] * eps
    _, g = Objective(arch, act, weight_decay=LAM).value_and_grad(
        torch.cat([theta + E, theta - E]), x, y
    )
    return ((g[: len(cols)] - g[len(cols) :]) / (2 * eps)).T


@pytest.mark.parametrize("method", ["structured", "hvp"])
@pytest.mark.parametrize("act", ["tanh", "relu"])
@pytest.mark.parametrize(
    "widths", [[2, 10, 4], [2, 5, 5, 4], [2, 4, 4, 4, 4], [2, 1, 1, 1, 4], [3, 4]]
)
def test_hessian_matches_finite_differences(widths, act, method):
    theta, x, y, arch = problem(widths, 37)
    H = hs.hessian(theta, x, y, arch, LAM, act, chunk=8, method=method)
    assert H.shape == (arch.n_params, arch.n_params) and H.dtype == torch.float64
    assert torch.equal(H, H.T)
    cols = list(range(arch.n_params))
    torch.testing.assert_close(H, fd_columns(theta, x, y, arch, act, cols), rtol=0, atol=1e-8)


def test_hessian_mnist_shape_matches_finite_differences():
    """[784, 5, 5, 10] (P = 4015): a spread of columns from every layer and block."""
    theta, x, y, arch = problem([784, 5, 5, 10], 23, scale=0.1)
    x = x.abs() / 3  # pixel-like, non-negative
    H = hs.hessian(theta, x, y, arch, LAM, chunk=10)
    cols = [0, 1, 783, 784, 785, 2000, 3924, 3925, 3930, 3954, 3955, 3990, 4014]
    torch.testing.assert_close(
        H[:, cols], fd_columns(theta, x, y, arch, "tanh", cols), rtol=0, atol=1e-8
    )
    assert torch.equal(H, H.T)


def test_weight_decay_shifts_every_eigenvalue_by_2_lambda():
    theta, x, y, arch = problem([2, 5, 5, 4], 50)
    H0 = hs.hessian(theta, x, y, arch, 0.0, method="structured")
    H1 = hs.hessian(theta, x, y, arch, LAM, method="structured")
    torch.testing.assert_close(
        H1 - H0, 2 * LAM * torch.eye(arch.n_params, dtype=torch.float64), rtol=0, atol=1e-15
    )
    ev0, ev1 = torch.linalg.eigvalsh(H0), torch.linalg.eigvalsh(H1)
    torch.testing.assert_close(ev1 - ev0, torch.full_like(ev0, 2 * LAM), rtol=0, atol=1e-13)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_chunking_and_methods_agree(act):
    theta, x, y, arch = problem([5, 4, 3, 3], 61)
    H = hs.hessian(theta, x, y, arch, LAM, act, method="structured")
    for method in ("structured", "hvp"):
        for chunk in (1, 7, 60):
            Hc = hs.hessian(theta, x, y, arch, LAM, act, chunk=chunk, method=method)
            torch.testing.assert_close(Hc, H, rtol=0, atol=1e-14)


def test_hvp_equals_h_times_v():
    theta, x, y, arch = problem([6, 5, 5, 4], 45)
    H = hs.hessian(theta, x, y, arch, LAM)
    V = torch.randn(
        3, arch.n_params, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    for chunk in (None, 4):
        out = hs.hvp(theta, x, y, arch, LAM, V, chunk=chunk)
        assert out.shape == V.shape
        torch.testing.assert_close(out, V @ H, rtol=0, atol=1e-13)
        torch.testing.assert_close(
            hs.hvp(theta, x, y, arch, LAM, V[1], chunk=chunk), H @ V[1], rtol=0, atol=1e-13
        )


def test_lanczos_full_krylov_recovers_eigenvalues():
    """With m = P steps and full reorthogonalisation each probe's Ritz values are H's eigenvalues."""
    g = torch.Generator().manual_seed(0)
    Qm, _ = torch.linalg.qr(torch.randn(40, 40, generator=g, dtype=torch.float64))
    ev = torch.linspace(-1, 3, 40, dtype=torch.float64) ** 3
    A = Qm @ torch.diag(ev) @ Qm.T
    ritz, w, a0 = hs.lanczos(lambda v: v @ A, 40, steps=40, n_probes=3)
    for p in range(3):
        torch.testing.assert_close(ritz[p], ev, rtol=0, atol=1e-10)
    torch.testing.assert_close(w.sum(1), torch.ones(3, dtype=torch.float64))
    # breakdown: a matrix with 4 distinct eigenvalues has a 4-dimensional Krylov space
    B = Qm @ torch.diag(torch.tensor([1.0, 2.0, 5.0, 7.0], dtype=torch.float64).repeat(10)) @ Qm.T
    ritz, w, _ = hs.lanczos(lambda v: v @ B, 40, steps=20, n_probes=2)
    assert (w[:, 4:] == 0).all()
    torch.testing.assert_close(
        ritz[:, :4], torch.tensor([[1.0, 2, 5, 7]] * 2, dtype=torch.float64), rtol=0, atol=1e-10
    )


def test_spectrum_exact_trace_is_sum_of_eigenvalues():
    theta, x, y, arch = problem([2, 5, 5, 4], 40)
    s = hs.spectrum(theta, x, y, arch, LAM)
    H = hs.hessian(theta, x, y, arch, LAM)
    assert s.method == "exact" and s.eigenvalues.shape == (arch.n_params,)
    assert s.trace == pytest.approx(float(H.trace()), rel=1e-12)
    assert s.trace == pytest.approx(float(s.eigenvalues.sum()), rel=0, abs=0)
    assert s.frac_negative == s.n_negative / arch.n_params and s.lambda_min == s.eigenvalues[0]


def test_stochastic_estimates_match_exact():
    """P = 285, SLQ with 16 probes x 40 steps vs the exact spectrum; tolerances >= 2x the largest
    errors seen over 5 seeds (docs/hessian.md)."""
    theta, x, y, arch = problem([20, 8, 8, 5], 200, scale=0.5)
    ex = hs.spectrum(theta, x, y, arch, LAM)
    st = hs.spectrum(
        theta, x, y, arch, LAM, max_exact_params=0, n_probes=16, lanczos_steps=40, seed=1
    )
    assert st.method == "lanczos" and st.weights.sum() == pytest.approx(1.0)
    assert abs(st.trace - ex.trace) < 4 * st.trace_stderr
    assert st.lambda_max == pytest.approx(
        ex.lambda_max, rel=1e-8
    )  # extreme Ritz values converge first
    assert st.lambda_min == pytest.approx(ex.lambda_min, rel=1e-8)
    spread = ex.lambda_max - ex.lambda_min
    assert wasserstein_distance(ex.eigenvalues, st.ritz, None, st.weights) < 0.015 * spread
    assert abs(st.frac_negative - ex.frac_negative) < 0.15
    op = hs.hessian_operator(theta, x, y, arch, LAM)
    tr, se = hs.hutchinson_trace(op, arch.n_params, n_probes=64, seed=2)
    assert abs(tr - ex.trace) < 4 * se and se < 0.2 * abs(ex.trace)


def test_input_validation():
    theta, x, y, arch = problem([2, 5, 4], 10)
    with pytest.raises(ValueError):
        hs.hessian(theta[:-1], x, y, arch, LAM)
    with pytest.raises(ValueError):
        hs.hessian(theta, x[:, :1], y, arch, LAM)
    with pytest.raises(ValueError):
        hs.hessian(theta, x, y, arch, LAM, activation="sigmoid")
