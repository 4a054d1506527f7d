"""Aging analysis on trajectories whose Δ, t* and μ are known in closed form."""

import numpy as np
import pytest

from glassynets import aging
from glassynets.schedule import log_steps


def test_displacements_match_direct_sums():
    rng = np.random.default_rng(0)
    snaps = rng.normal(size=(7, 5, 11)).astype(np.float32)
    delta, fourth = aging.displacements(snaps, seeds_per_chunk=2)
    i, j = aging.pair_indices(7)
    for e in range(5):
        d = snaps[j, e].astype(float) - snaps[i, e].astype(float)
        np.testing.assert_allclose(delta[e], (d**2).mean(axis=1), rtol=1e-12)
        np.testing.assert_allclose(fourth[e], (d**4).mean(axis=1), rtol=1e-12)


def _power_law_delta(steps, amplitude, mu, exponent=1.0):
    """Δ(t_w, t_w + t) = amplitude · (t / t_w^μ)^exponent, the scaling form of subaging."""
    i, j = aging.pair_indices(len(steps))
    t_w, t = steps[i].astype(float), (steps[j] - steps[i]).astype(float)
    return amplitude * (t / np.maximum(t_w, 1) ** mu) ** exponent


def test_t_star_and_mu_recover_the_scaling_exponent():
    steps = log_steps(10**5, 20)
    delta = _power_law_delta(steps, 1e-4, mu=0.7)
    curve = aging.t_star_curves(steps, delta[None], delta_star=1e-2)[0]
    # Δ = 1e-4 t / t_w^0.7 reaches 1e-2 at t* = 100 t_w^0.7; log–log interpolation of a power law is exact.
    ok = np.isfinite(curve) & (steps > 0)
    assert ok.sum() > 40
    np.testing.assert_allclose(curve[ok], 100 * steps[ok] ** 0.7, rtol=1e-9)
    mu, intercept, n = aging.fit_power_law(steps, curve, (10, 1e4))
    assert mu == pytest.approx(0.7, abs=1e-9) and intercept == pytest.approx(2.0, abs=1e-9) and n > 20


def test_t_star_is_nan_when_never_reached_or_not_bracketed():
    steps = np.array([0, 1, 2, 4, 8])
    never = aging.t_star_curves(steps, np.full((1, 10), 1e-6), 1e-2)
    assert np.isnan(never).all()
    at_once = aging.t_star_curves(steps, np.full((1, 10), 1.0), 1e-2)
    assert np.isnan(at_once).all()


def test_bootstrap_interval_covers_the_true_exponent():
    steps = log_steps(10**4, 10)
    rng = np.random.default_rng(1)
    base = _power_law_delta(steps, 1e-4, mu=0.6)
    runs = base * rng.lognormal(0, 0.2, size=(30, 1))  # run-to-run amplitude scatter keeps μ
    lo, hi = aging.bootstrap_mu(steps, runs, 1e-2, (10, 1e4), n_boot=200)
    assert lo <= 0.6 <= hi
    assert hi - lo < 0.05


def test_crossover_finds_the_break_between_two_power_laws():
    t_w = np.geomspace(10, 1e5, 41)
    log_break = 3.6
    x = np.log10(t_w)
    t_star = 10 ** np.where(x < log_break, 0.5 * x, 0.5 * log_break + 0.9 * (x - log_break))
    cross = aging.crossover(t_w, t_star)
    assert cross["log10_tw"] == pytest.approx(log_break, abs=0.1)
    assert cross["slope_before"] == pytest.approx(0.5, abs=0.02)
    assert cross["slope_after"] == pytest.approx(0.9, abs=0.02)
