"""Aging analysis on trajectories whose Δ, t* and μ are known in closed form."""

import numpy as np
import pytest

from glassynets import aging
from glassynets.schedule import log_steps


@pytest.mark.parametrize("chunk_bytes", [256 << 20, 8 * 7 * 5 * 3])  # one block; blocks of 3 parameters
def test_displacements_match_direct_sums(chunk_bytes):
    rng = np.random.default_rng(0)
    snaps = rng.normal(size=(7, 5, 11)).astype(np.float32)
    delta, fourth = aging.displacements(snaps, chunk_bytes=chunk_bytes)
    i, j = aging.pair_indices(7)
    for e in range(5):
        d = snaps[j, e].astype(float) - snaps[i, e].astype(float)
        np.testing.assert_allclose(delta[e], (d**2).mean(axis=1), rtol=1e-12)
        np.testing.assert_allclose(fourth[e], (d**4).mean(axis=1), rtol=1e-12)


def test_late_msd_finds_diffusion_and_its_constant():
    """Δ = 2·D·t exactly (a random walk's MSD) is diffusive with that D; Δ = c·t^0.3 is not."""
    steps = log_steps(10**5, 20)
    i, j = aging.pair_indices(len(steps))
    t_w, t = steps[i], steps[j] - steps[i]
    late = aging.late_msd(t_w, t, 2 * 3e-7 * t, late_tw=1000)
    assert late["t_w"] == 1000 and late["t_max"] == 10**5 - 1000 and late["n_points"] >= 20
    assert late["slope"] == pytest.approx(1, abs=1e-9) and late["diffusive"] == 1.0
    assert late["diffusion"] == pytest.approx(3e-7, rel=1e-9)
    sub = aging.late_msd(t_w, t, 1e-3 * t**0.3, late_tw=1000)
    assert sub["slope"] == pytest.approx(0.3, abs=1e-9) and sub["diffusive"] == 0.0 and np.isnan(sub["diffusion"])


def test_msd_plateau_of_a_two_step_relaxation():
    """Δ(t) = 0.7 (1 − e^{−t}) + 1.3 t/(t + 10⁴): a plateau at ≈ 0.7 between the two rises."""
    t = np.geomspace(0.01, 1e7, 200)
    value, slope = aging.msd_plateau(t, 0.7 * (1 - np.exp(-t)) + 1.3 * t / (t + 1e4))
    assert value == pytest.approx(0.7, rel=0.05) and abs(slope) < 0.05


def test_weight_histograms_share_bins_and_count_everything():
    rng = np.random.default_rng(1)
    snaps = np.stack([rng.normal(scale=s, size=(3, 50)) for s in (0.5, 1.0, 2.0)])  # [S=3, E=3, P=50]
    edges, counts = aging.weight_histograms(snaps, bins=12)
    assert edges.shape == (13,) and counts.shape == (3, 12)
    assert edges[0] == snaps.min() and edges[-1] == snaps.max()
    assert (counts.sum(axis=1) == 150).all()
    assert counts[0, [0, -1]].sum() < counts[2, [0, -1]].sum()  # the widest spread fills the outer bins


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
