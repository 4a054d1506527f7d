"""The scaling collapse and the long-lag law (glassynets.scaling) on two-time data of known shape."""

import numpy as np
import pytest

from glassynets import scaling
from glassynets.two_time import grid


def runs(shape, n_runs=8, noise=0.02, steps=100_000, seed=0):
    """delta [runs, W, L] = shape(t_w, t) times log-normal noise per run, NaN past the run."""
    waiting_times, lags = grid(steps, 10, 20)
    tw, t = np.meshgrid(waiting_times.astype(float), lags.astype(float), indexing="ij")
    exact = np.where(tw + t <= steps, shape(tw, t), np.nan)
    rng = np.random.default_rng(seed)
    return waiting_times, lags, exact * np.exp(noise * rng.standard_normal((n_runs, *exact.shape)))


def test_spread_is_the_rms_std_of_log_delta_over_the_common_range():
    x = np.logspace(0, 3, 50)
    assert scaling.spread([(x, x), (x, x)]) == pytest.approx(0)
    assert scaling.spread([(x, x), (x, 10 * x)]) == pytest.approx(0.5)  # log10 values 1 apart
    assert scaling.spread([(x, x), (x[10:30], x[10:30])]) == pytest.approx(0)
    assert np.isnan(scaling.spread([(x, x)]))


@pytest.mark.parametrize("mu", [0.4, 0.8, 1.0])
def test_a_curve_of_t_over_tw_to_the_mu_collapses_at_that_mu(mu):
    def shape(tw, t):
        x = t / tw**mu
        return 1e-3 * x**1.5 / (1 + x) ** 0.8

    waiting_times, lags, delta = runs(shape)
    out = scaling.collapse(waiting_times, lags, delta, (10, 1e4), mu, mu - 0.05, mu + 0.05, 100)
    assert out["mu_collapse"] == pytest.approx(mu, abs=0.02)
    assert out["collapse_low"] - 0.01 <= mu <= out["collapse_high"] + 0.01 and out["agree"] == 1.0
    assert out["spread_mu"] < 0.02 < out["spread_raw"]
    assert out["n_tw"] == int(((waiting_times >= 10) & (waiting_times <= 1e4)).sum())
    # a μ far from the data's: the intervals do not overlap, and the spread at it is worse
    off = scaling.collapse(
        waiting_times, lags, delta, (10, 1e4), mu + 0.5, mu + 0.45, mu + 0.55, 20
    )
    assert off["agree"] == 0.0 and off["spread_mu"] > 5 * off["spread_min"]
    undefined = scaling.collapse(waiting_times, lags, delta, (10, 1e4), np.nan, np.nan, np.nan, 20)
    assert np.isnan(undefined["spread_mu"]) and np.isnan(undefined["agree"])


def test_long_lags_give_beta_and_a_diffusion_that_ages_as_built():
    # Δ = D(t_w)·t^β with D ∝ t_w^-0.5 and β = 0.6: one constant-β window per t_w
    waiting_times, lags, delta = runs(lambda tw, t: 1e-4 * tw**-0.5 * t**0.6, noise=0.01)
    table = scaling.long_lag(waiting_times, lags, delta, n_boot=50)
    assert len(table["t_w"]) >= 10
    assert (table["t_min"] >= scaling.LONG_LAG_FACTOR * table["t_w"]).all()
    assert (np.log10(table["t_max"] / table["t_min"]) >= scaling.MIN_DECADES).all()
    assert table["beta"] == pytest.approx(0.6, abs=0.01)
    assert (table["beta_low"] <= table["beta"]).all() and (
        table["beta"] <= table["beta_high"]
    ).all()
    assert table["d_beta"] == pytest.approx(1e-4 * table["t_w"] ** -0.5, rel=0.05)
    aging = scaling.diffusion_aging(table)
    assert aging["slope"] == pytest.approx(-0.5, abs=0.02) and aging["n_tw"] == len(table["t_w"])
    # a curve whose local exponent drifts (β = 0.2·ln t, 0.46 per decade) has no window
    _, _, drifting = runs(lambda tw, t: np.exp(np.log(t) ** 2 / 10), noise=0.0, n_runs=2)
    assert len(scaling.long_lag(waiting_times, lags, drifting, n_boot=5)["t_w"]) == 0


def test_local_beta_is_the_log_log_slope():
    t = np.unique(np.logspace(0, 4, 81).round())
    beta = scaling.local_beta(t, 3 * t**0.7)
    assert np.nanmax(np.abs(beta - 0.7)) < 1e-9 and np.isfinite(beta[5:]).all()
