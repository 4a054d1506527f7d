"""Spherical 3-spin reference glass: couplings, energy and gradient, the Langevin integrator, the
paramagnetic energy above T_d and the per-sample reproducibility that lets jobs be split."""

import itertools
import math

import numpy as np
import pytest
import torch

from glassynets import aging, pspin
from glassynets.schedule import log_steps


def test_couplings_are_symmetric_zero_on_coincident_indices_and_have_variance_3_over_n2():
    n = 40
    J = pspin.couplings(n, seed=3)
    assert J.shape == (n, n, n) and J.dtype == torch.float64
    for perm in itertools.permutations(range(3)):
        assert torch.equal(J, J.permute(*perm))
    a = torch.arange(n)
    coincident = (
        (a[:, None, None] == a[None, :, None])
        | (a[:, None, None] == a[None, None, :])
        | (a[None, :, None] == a[None, None, :])
    )
    assert torch.all(J[coincident] == 0)
    # Boolean indexing reads in C order, i.e. lexicographic in i < j < k.
    upper = J[(a[:, None, None] < a[None, :, None]) & (a[None, :, None] < a[None, None, :])]
    assert len(upper) == n * (n - 1) * (n - 2) // 6
    # 9880 independent entries: the sample variance has relative std sqrt(2/9880) = 1.4%.
    assert upper.var().item() == pytest.approx(3 / n**2, rel=0.06)
    assert abs(upper.mean().item()) < 4 * math.sqrt(3 / n**2 / len(upper))
    # Documented draw order: standard normals of default_rng(seed), lexicographic in i < j < k.
    expected = np.random.default_rng(3).standard_normal(len(upper)) * (math.sqrt(3) / n)
    np.testing.assert_array_equal(upper.numpy(), expected)
    assert torch.equal(J, pspin.couplings(n, seed=3))
    assert not torch.equal(J, pspin.couplings(n, seed=4))
    assert torch.equal(pspin.couplings(n, 3, torch.float32), J.float())


def test_gradient_is_the_derivative_of_the_energy_and_h_is_cubic():
    n, r = 13, 4
    J = pspin.couplings(n, 0)
    s = pspin.random_configurations(n, r, torch.Generator().manual_seed(1)).requires_grad_(True)
    e = pspin.energy(J, s)
    reference = -torch.einsum("ijk,ri,rj,rk->r", J, s, s, s) / (6 * n)
    torch.testing.assert_close(e, reference, rtol=1e-13, atol=1e-15)
    (auto,) = torch.autograd.grad(e.sum() * n, s)
    s = s.detach()
    g = pspin.gradient(J, s)
    torch.testing.assert_close(g, auto, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close((s * g).sum(1), 3 * n * e.detach(), rtol=1e-12, atol=1e-14)
    # The integrator's packed form (pairs j < k only) gives the same gradient.
    torch.testing.assert_close(pspin._Packed(J, r).gradient(s), g, rtol=1e-12, atol=1e-14)
    # Homogeneity off the sphere too: H(λs) = λ³ H(s).
    torch.testing.assert_close(pspin.energy(J, 2 * s), 8 * e.detach(), rtol=1e-12, atol=1e-14)


def test_random_configurations_lie_on_the_sphere():
    s = pspin.random_configurations(50, 7, torch.Generator().manual_seed(0))
    assert s.shape == (7, 50)
    torch.testing.assert_close(s.square().sum(1), torch.full((7,), 50.0, dtype=torch.float64))


def test_zero_temperature_is_monotone_descent_on_the_sphere():
    n = 32
    J = pspin.couplings(n, 5)
    gen = torch.Generator().manual_seed(2)
    s0 = pspin.random_configurations(n, 3, gen)
    steps = np.arange(0, 2001, 5)
    snaps, e = pspin.langevin(J, s0, 0.0, 0.01, steps, gen)
    assert snaps.shape == (len(steps), 3, n) and e.shape == (len(steps), 3)
    np.testing.assert_allclose(e[0], pspin.energy(J, s0).numpy(), rtol=1e-12)
    assert np.all(np.diff(e, axis=0) <= 1e-13)
    assert np.all(e[-1] < e[0] - 0.5)  # random start e ≈ 0 ± 0.1; minima lie near −1.1
    np.testing.assert_allclose(np.square(snaps).sum(-1), n, rtol=1e-13)
    np.testing.assert_allclose(
        e[-1], pspin.energy(J, torch.from_numpy(snaps[-1])).numpy(), rtol=1e-12
    )


def test_energy_above_t_d_is_paramagnetic():
    """⟨e⟩ at T = 1.5 (τ ~ 1, equilibrates in a few time units) against the finite-n paramagnetic
    energy −(1/2T)(n−1)(n−2)/((n+2)(n+4)) = −0.2901 at n = 64 (−0.3333 at n = ∞).

    Tolerance 0.008 ≈ the neglected next term of the high-T series (−153/(6T³n²) = −0.002, from the
    fourth cumulant of H) + the Euler–Maruyama bias (≈ −0.09·dt, measured at dt = 0.1..0.01; at most
    −0.002 within its error) + 3 standard errors of the mean over 3 samples × 8 replicas × 80 time
    units (SEM ≈ 0.0013). The run gives −0.2922.
    """
    n, T, dt = 64, 1.5, 0.02
    steps = np.arange(int(10 / dt), int(90 / dt) + 1, 25)
    sim = pspin.simulate(n, T, 3, 8, dt, int(steps[-1]), steps, seed=1)
    mean = sim.energies.mean()
    assert mean == pytest.approx(pspin.paramagnetic_energy(T, n), abs=0.008)
    assert abs(mean - pspin.paramagnetic_energy(T)) > 0.03  # the 1/n correction is resolved


def test_delta_from_aging_is_two_times_one_minus_c():
    n = 24
    steps = log_steps(300, 8)
    sim = pspin.simulate(n, 0.5, 2, 3, 0.05, 300, steps, seed=4)
    delta, _ = aging.displacements(sim.snapshots)
    i, j = aging.pair_indices(len(steps))
    c = np.einsum("ken,ken->ek", sim.snapshots[i], sim.snapshots[j]) / n
    np.testing.assert_allclose(delta, 2 * (1 - c), rtol=0, atol=1e-12)
    assert delta.max() > 1.0  # the pairs span the decorrelation, not just the plateau


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_each_sample_is_bit_identical_alone_or_with_others(dtype):
    kwargs = dict(
        n=16,
        temperature=0.5,
        replicas=2,
        dt=0.05,
        steps=120,
        record_steps=log_steps(120, 5),
        seed=9,
        dtype=dtype,
    )
    together = pspin.simulate(samples=3, **kwargs)
    alone = pspin.simulate(samples=[1], **kwargs)
    assert together.snapshots.shape == (len(kwargs["record_steps"]), 6, 16)
    assert together.snapshots.dtype == (np.float64 if dtype == torch.float64 else np.float32)
    np.testing.assert_array_equal(together.runs, np.arange(6))
    np.testing.assert_array_equal(alone.runs, [2, 3])
    np.testing.assert_array_equal(alone.snapshots, together.snapshots[:, 2:4])
    np.testing.assert_array_equal(alone.energies, together.energies[:, 2:4])
    np.testing.assert_array_equal(together.steps, kwargs["record_steps"])
    assert not np.array_equal(together.snapshots[:, 0], together.snapshots[:, 2])
    other_seed = pspin.simulate(samples=[1], **{**kwargs, "seed": 10})
    assert not np.array_equal(other_seed.snapshots, alone.snapshots)


def test_langevin_rejects_bad_schedules():
    J = pspin.couplings(5, 0)
    s0 = pspin.random_configurations(5, 1, torch.Generator().manual_seed(0))
    for bad in ([], [3, 2], [0, 0, 1], [-1, 2]):
        with pytest.raises(ValueError):
            pspin.langevin(J, s0, 0.5, 0.1, np.array(bad, dtype=np.int64), torch.Generator())
    with pytest.raises(ValueError):
        pspin.simulate(5, 0.5, 1, 1, 0.1, 10, np.array([0, 11]), seed=0)
    with pytest.raises(ValueError):
        pspin.simulate(5, 0.5, [], 1, 0.1, 10, np.array([0, 10]), seed=0)


def test_theory_values():
    assert pspin.T_DYNAMICAL == pytest.approx(0.6124, abs=1e-4)
    q = pspin.plateau_q(0.5)
    assert q == pytest.approx(0.639, abs=1e-3) and 3 * q * (1 - q) ** 2 == pytest.approx(
        0.25, abs=1e-12
    )
    assert pspin.plateau_q(pspin.T_DYNAMICAL - 1e-9) == pytest.approx(0.5, abs=1e-3)
    assert math.isnan(pspin.plateau_q(0.8))
    assert pspin.asymptotic_energy(0.5) == pytest.approx(-0.887, abs=1e-3)
    assert pspin.asymptotic_energy(1e-6) == pytest.approx(-math.sqrt(4 / 3), abs=1e-5)
    # Continuous at T_d, where it meets the paramagnetic −1/(2T).
    assert pspin.asymptotic_energy(pspin.T_DYNAMICAL - 1e-9) == pytest.approx(
        -1 / (2 * pspin.T_DYNAMICAL), abs=1e-4
    )
    assert pspin.paramagnetic_energy(0.8) == -0.625
    assert pspin.paramagnetic_energy(1.0, 10**6) == pytest.approx(-0.5, rel=1e-5)
