"""Tests for glassynets.ljat19: minima, gradients, determinism, labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar

from glassynets import ljat19 as L


def test_labels_constant() -> None:
    assert L.LABELS == ("triangle", "chain_center1", "chain_center2", "chain_center3")


def test_triangle_minimum() -> None:
    res = minimize_scalar(lambda r: L.energy(r, r, r), bracket=(1.1, 1.2), tol=1e-10)
    assert res.x == pytest.approx(1.169, abs=5e-4)
    assert res.fun == pytest.approx(-2.185, abs=5e-4)
    assert res.fun == pytest.approx(L.E_TRIANGLE, abs=1e-6)


def test_chain_minimum() -> None:
    res = minimize_scalar(lambda r: L.energy(r, 2 * r, r), bracket=(1.05, 1.15), tol=1e-10)
    assert res.x == pytest.approx(1.109, abs=5e-4)
    assert res.fun == pytest.approx(-2.219, abs=5e-4)
    assert res.fun == pytest.approx(L.E_CHAIN, abs=1e-6)


def test_minima_are_stationary_in_cartesian() -> None:
    s, b = L.SIDE_TRIANGLE, L.BOND_CHAIN
    x = L.positions_from_distances(np.array([[s, s, s], [b, b, 2 * b]]))
    _, g = L.cartesian_energy_gradient(x)
    assert np.abs(g).max() < 1e-4
    # Both are minima: the internal Hessian is positive definite.
    assert (np.linalg.eigvalsh(L.internal_hessian(x)[1]) > 0.5).all()


def test_energy_symmetric_under_permutation() -> None:
    rng = np.random.default_rng(0)
    d = rng.uniform(1.0, 1.8, size=(50, 3))
    e = L.energy(d[:, 0], d[:, 1], d[:, 2])
    assert np.allclose(e, L.energy(d[:, 1], d[:, 0], d[:, 2]))
    assert np.allclose(e, L.energy(d[:, 2], d[:, 1], d[:, 0]))


def test_cartesian_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    x = L.positions_from_distances(L.starting_distances(8, 5)) + 0.05 * rng.normal(size=(8, 3, 2))
    e, g = L.cartesian_energy_gradient(x)
    eps = 1e-6
    fd = np.empty_like(g)
    for a in range(3):
        for k in range(2):
            xp, xm = x.copy(), x.copy()
            xp[:, a, k] += eps
            xm[:, a, k] -= eps
            ep, em = L.cartesian_energy_gradient(xp)[0], L.cartesian_energy_gradient(xm)[0]
            fd[:, a, k] = (ep - em) / (2 * eps)
    assert np.allclose(g, fd, atol=1e-6, rtol=1e-6)
    # 3-D positions give the same energy and an in-plane gradient.
    x3 = np.concatenate([x, np.zeros((8, 3, 1))], axis=2)
    e3, g3 = L.cartesian_energy_gradient(x3)
    assert np.allclose(e3, e) and np.allclose(g3[..., :2], g) and np.all(g3[..., 2] == 0)


def test_positions_reproduce_distances() -> None:
    d = L.starting_distances(100, 2)
    assert np.allclose(L.pair_distances(L.positions_from_distances(d)), d)


@pytest.mark.parametrize("geometry", [L.DEFAULT_START, L.StartGeometry(family="box")])
def test_starting_distances_determinism_and_prefix(geometry: L.StartGeometry) -> None:
    a = L.starting_distances(3000, 11, geometry=geometry)
    assert a.dtype == np.float64 and a.shape == (3000, 3)
    assert np.array_equal(a, L.starting_distances(3000, 11, geometry=geometry))
    assert np.array_equal(a[:100], L.starting_distances(100, 11, geometry=geometry))
    assert np.array_equal(
        a[1000:2500], L.starting_distances(1500, 11, start=1000, geometry=geometry)
    )
    assert not np.array_equal(a[:100], L.starting_distances(100, 12, geometry=geometry))
    s = np.sort(a, axis=1)
    assert (s[:, 2] <= s[:, 0] + s[:, 1]).all()


def test_box_family_stays_in_its_box() -> None:
    a = L.starting_distances(3000, 11, geometry=L.StartGeometry(family="box"))
    assert a.min() >= L.DEFAULT_LOW and a.max() <= L.DEFAULT_HIGH
    s = np.sort(a, axis=1)
    assert (s[:, 2] < s[:, 0] + s[:, 1]).all()


def test_rejection_keeps_triangles_for_wide_ranges() -> None:
    wide = L.StartGeometry(family="box", low=0.5, high=2.0)
    a = L.starting_distances(2000, 3, geometry=wide)
    s = np.sort(a, axis=1)
    assert (s[:, 2] < s[:, 0] + s[:, 1]).all()
    assert np.array_equal(a[:50], L.starting_distances(50, 3, geometry=wide))
    assert a.min() >= 0.5 and a.max() <= 2.0 and a.max() > L.DEFAULT_HIGH


@pytest.mark.parametrize(
    ("family", "mean_over_size", "max_over_size"),
    # Mean distance of two uniform points: 0.66171 x side (unit cube), 36/35 x radius (ball).
    [("cube", 0.661707, np.sqrt(3.0)), ("ball", 36.0 / 35.0, 2.0)],
)
def test_position_families_without_separation_match_their_distance_law(
    family: str, mean_over_size: float, max_over_size: float
) -> None:
    g = L.StartGeometry(family=family, size=1.5, min_separation=0.0)
    a = L.starting_distances(20000, 7, geometry=g)
    assert a.mean() == pytest.approx(mean_over_size * 1.5, rel=0.01)
    assert a.max() <= max_over_size * 1.5
    # The three atoms are exchangeable: each distance has the same law.
    assert np.ptp(a.mean(axis=0)) < 0.02


@pytest.mark.parametrize("family", ["cube", "ball"])
def test_position_families_reject_close_pairs_and_keep_the_prefix(family: str) -> None:
    g = L.StartGeometry(family=family, size=1.2, min_separation=0.9)
    a = L.starting_distances(3000, 11, geometry=g)
    assert a.min() >= 0.9
    assert np.array_equal(a[:100], L.starting_distances(100, 11, geometry=g))
    assert np.array_equal(a[1000:2500], L.starting_distances(1500, 11, start=1000, geometry=g))
    other = L.StartGeometry(family=family, size=1.2, min_separation=0.8)
    assert not np.array_equal(a[:100], L.starting_distances(100, 11, geometry=other))


def test_max_separation_is_the_largest_equilateral_triangle_that_fits() -> None:
    # Three atoms at pairwise distance min_separation must fit: a cube's face-diagonal triangle
    # (side √2) and a ball's great-circle triangle (side √3) do; a bit more is impossible.
    assert L.max_separation("cube", 1.0) == pytest.approx(np.sqrt(2.0))
    assert L.max_separation("ball", 2.0) == pytest.approx(2.0 * np.sqrt(3.0))
    g = L.StartGeometry(family="ball", size=1.0, min_separation=1.1)  # feasible, above size
    assert L.starting_distances(50, 1, geometry=g).min() >= 1.1


def test_start_geometry_checks_and_params() -> None:
    assert L.DEFAULT_START == L.StartGeometry(
        family=L.DEFAULT_FAMILY, size=L.DEFAULT_SIZE, min_separation=L.DEFAULT_MIN_SEPARATION
    )
    assert L.StartGeometry(family="box").params() == {
        "family": "box",
        "low": L.DEFAULT_LOW,
        "high": L.DEFAULT_HIGH,
    }
    assert L.StartGeometry(family="ball", size=1.1, min_separation=0.9).params() == {
        "family": "ball",
        "size": 1.1,
        "min_separation": 0.9,
    }
    for bad in (
        {"family": "sphere"},
        {"family": "box", "low": 1.5, "high": 1.5},
        {"family": "cube", "size": 1.0, "min_separation": 1.5},
        {"family": "ball", "size": 1.0, "min_separation": 1.8},
    ):
        with pytest.raises(ValueError):
            L.StartGeometry(**bad)


def test_generate_from_a_position_family() -> None:
    g = L.StartGeometry(family="ball", size=1.1, min_separation=0.9)
    big = L.generate(300, 4, geometry=g)
    pd.testing.assert_frame_equal(L.generate(50, 4, geometry=g), big.iloc[:50])
    assert L.n_failures(big) == 0 and set(big["label"]) == {0, 1, 2, 3}


def test_generate_prefix_and_determinism() -> None:
    big = L.generate(1000, 4)
    small = L.generate(100, 4)
    pd.testing.assert_frame_equal(small, big.iloc[:100])
    assert list(big.columns) == ["r12", "r13", "r23", "label", "final_energy"]
    assert big["label"].dtype == np.int8 and big["r12"].dtype == np.float64
    assert L.n_failures(big) == 0
    # Label distribution not degenerate: every class present, none overwhelming.
    frac = np.bincount(big["label"], minlength=4) / len(big)
    assert (frac > 0.03).all() and frac.max() < 0.95
    # Chains are symmetric up to sampling noise (atoms are identical).
    assert frac[1:].min() > 0.5 * frac[1:].max()
    # Final energies are the minima's.
    e = big["final_energy"].to_numpy()
    target = np.where(big["label"].to_numpy() == 0, L.E_TRIANGLE, L.E_CHAIN)
    assert np.abs(e - target).max() < 1e-5


def test_known_starts() -> None:
    b = L.BOND_CHAIN
    d = np.array(
        [
            [1.20, 1.18, 1.19],  # near-equilateral
            [1.12, 1.10, 2.15],  # near-linear, atom 1 central (r23 longest)
            [1.10, 2.18, 1.13],  # atom 2 central (r13 longest)
            [2.16, 1.11, 1.09],  # atom 3 central (r12 longest)
            [b, b, 2 * b - 1e-6],  # essentially at the chain minimum
        ]
    )
    labels, e, conv = L.minimise(d)
    assert labels.tolist() == [0, 1, 2, 3, 1]
    assert conv.all()
    assert labels.dtype == np.int8 and e.dtype == np.float64


def test_classify_rejects_non_minima() -> None:
    d = np.array([[1.3, 1.3, 1.3], [1.1, 1.1, 1.5], [L.SIDE_TRIANGLE] * 3])
    e = np.array([L.E_TRIANGLE, L.E_CHAIN, L.E_TRIANGLE])
    assert L.classify(d, e).tolist() == [-1, -1, 0]


def test_bayes_limits_known_cases() -> None:
    rng = np.random.default_rng(0)
    f = rng.uniform(size=(40000, 2))
    # Label a deterministic function of the features: ceiling 1, entropy 0.
    y = (f[:, 0] > 0.5).astype(int)
    r = L.bayes_limits(f, y, bins=20)
    assert r["accuracy_ceiling"] == 1.0 and r["entropy_floor_nats"] == pytest.approx(0.0, abs=1e-3)
    # Label independent of the features, p = (0.7, 0.3): ceiling 0.7, entropy H(0.7).
    y = (rng.uniform(size=40000) < 0.3).astype(int)
    r = L.bayes_limits(f, y, bins=10)
    h = -(0.7 * np.log(0.7) + 0.3 * np.log(0.3))
    assert r["entropy_floor_nats"] == pytest.approx(h, abs=0.01)
    assert r["accuracy_ceiling"] == pytest.approx(0.7, abs=0.02)
    assert r["n"] == 40000


def test_generator_params() -> None:
    p = L.generator_params()
    assert p["start"] == L.DEFAULT_START.params() and p["z"] == 2.0
    assert p["distribution"] == L.DEFAULT_START.describe()
    g = L.StartGeometry(family="cube", size=1.7, min_separation=0.95)
    assert L.generator_params(g)["start"] == {
        "family": "cube",
        "size": 1.7,
        "min_separation": 0.95,
    }


def test_lbfgs_labels_agree_with_the_flow_on_most_starts() -> None:
    """The reference optimiser of docs/ljat19.md (3.2% disagreement on 2,943 starts): on 60 starts
    the two label the same minimum for at least 90% of the starts L-BFGS-B brings to a minimum
    (label -1: it stopped elsewhere)."""
    frame = L.generate(60, seed=5, geometry=L.StartGeometry(family="box"))
    labels = L.lbfgs_labels(frame[["r12", "r13", "r23"]].to_numpy())
    found = labels >= 0
    assert set(np.unique(labels)) <= {-1, 0, 1, 2, 3} and found.mean() >= 0.8
    assert (labels[found] == frame["label"].to_numpy()[found]).mean() >= 0.9
