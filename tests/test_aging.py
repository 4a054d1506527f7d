"""Aging analysis on trajectories whose Δ, t* and μ are known in closed form."""

import numpy as np
import pytest

from glassynets import aging, two_time
from glassynets.schedule import log_steps


@pytest.mark.parametrize("runs_per_block", [16, 2])
def test_displacements_match_direct_sums(runs_per_block):
    rng = np.random.default_rng(0)
    snaps = rng.normal(size=(7, 5, 11)).astype(np.float32)
    delta, fourth = aging.displacements(snaps, runs_per_block=runs_per_block)
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
    assert (
        sub["slope"] == pytest.approx(0.3, abs=1e-9)
        and sub["diffusive"] == 0.0
        and np.isnan(sub["diffusion"])
    )


def test_msd_plateau_of_a_two_step_relaxation():
    """Δ(t) = 0.7 (1 − e^{−t}) + 1.3 t/(t + 10⁴): a plateau at ≈ 0.7 between the two rises."""
    t = np.geomspace(0.01, 1e7, 200)
    value, slope = aging.msd_plateau(t, 0.7 * (1 - np.exp(-t)) + 1.3 * t / (t + 1e4))
    assert value == pytest.approx(0.7, rel=0.05) and abs(slope) < 0.05


def test_weight_histograms_share_bins_and_count_everything():
    rng = np.random.default_rng(1)
    snaps = np.stack(
        [rng.normal(scale=s, size=(3, 50)) for s in (0.5, 1.0, 2.0)]
    )  # [S=3, E=3, P=50]
    edges, counts = aging.weight_histograms(snaps, bins=12)
    assert edges.shape == (13,) and counts.shape == (3, 12)
    assert edges[0] == snaps.min() and edges[-1] == snaps.max()
    assert (counts.sum(axis=1) == 150).all()
    assert (
        counts[0, [0, -1]].sum() < counts[2, [0, -1]].sum()
    )  # the widest spread fills the outer bins


def _grid(last=10**5):
    return two_time.grid(last, 10, 20)


def _scaling_delta(tws, lags, amplitude, mu, last=10**5, exponent=1.0):
    """Δ(t_w, t_w + t) = amplitude · (t / t_w^μ)^exponent on the grid [W, L] (NaN past the end): the
    scaling form of subaging, whose t* at Δ* is (Δ*/amplitude)^(1/exponent) · t_w^μ."""
    tw, t = np.meshgrid(tws.astype(float), lags.astype(float), indexing="ij")
    delta = amplitude * (t / tw**mu) ** exponent
    return np.where(tw + t <= last, delta, np.nan)


def test_t_star_recovers_the_scaling_form_exactly():
    tws, lags = _grid()
    delta = _scaling_delta(tws, lags, 1e-4, mu=0.7)
    curve = aging.t_star(lags, delta, 1e-2)
    ok = np.isfinite(curve)
    assert ok.sum() > 30  # Δ* reached before the end of the run for most t_w
    # log–log interpolation of a power law is exact: t* = 100 t_w^0.7
    np.testing.assert_allclose(curve[ok], 100 * tws[ok] ** 0.7, rtol=1e-9)
    mu, intercept, n, residual = aging.fit_power_law(tws, curve, (10, 1e4))
    assert (
        mu == pytest.approx(0.7, abs=1e-9) and intercept == pytest.approx(2.0, abs=1e-9) and n > 20
    )
    assert residual < 1e-9


def test_t_star_is_nan_when_never_reached_or_exceeded_at_t_1():
    lags = np.array([1, 2, 4, 8])
    assert np.isnan(aging.t_star(lags, np.full((3, 4), 1e-6), 1e-2)).all()
    assert np.isnan(aging.t_star(lags, np.full((3, 4), 1.0), 1e-2)).all()
    assert np.isnan(
        aging.t_star(lags, np.array([[1e-3, np.nan, np.nan, np.nan]]), 1e-2)
    ).all()  # past the run's end
    assert aging.t_star(lags, np.array([[1e-3, 1e-1, np.nan, np.nan]]), 1e-2)[0] == pytest.approx(
        2**0.5
    )


def _two_regimes(tws, lags, n_runs, break_tw=10**3.6, mu=0.75, seed=1, scatter=0.1):
    """Per-run Δ whose t* is flat (plateau) up to break_tw, then grows as t_w^mu, with run-to-run
    amplitude scatter that keeps the exponent: [E, W, L]."""
    rng = np.random.default_rng(seed)
    scale = np.where(tws < break_tw, break_tw, tws).astype(float) ** mu  # t* ∝ max(t_w, break)^μ
    tw, t = np.meshgrid(scale, lags.astype(float), indexing="ij")
    base = np.where(tws[:, None] + lags[None, :] <= 10**5, 1e-3 * t / tw, np.nan)
    return base[None] * rng.lognormal(0, scatter, size=(n_runs, 1, 1))


def test_asymptotic_window_finds_the_crossover_and_mu_with_full_uncertainty():
    tws, lags = _grid()
    delta = _two_regimes(tws, lags, n_runs=30)
    rules = aging.FitRules(fit_tw=(1, 1e5), n_boot=200)
    summary, fits = aging.estimate_mu(tws, lags, delta, 1e-2, rules)
    assert summary["status"] == "ok"
    assert summary["mu"] == pytest.approx(0.75, abs=0.01)
    assert (
        3.4 <= summary["crossover_log10_tw"] <= 3.9
    )  # the window starts at the break (within the grid)
    assert summary["crossover_low"] <= summary["crossover_log10_tw"] <= summary["crossover_high"]
    assert (
        summary["total_low"] <= summary["stat_low"] <= 0.75 + 1e-4
        and 0.75 - 1e-4 <= summary["stat_high"]
    )
    assert summary["stat_high"] <= summary["total_high"]
    assert summary["residual_dex"] < 0.01
    assert {f["variant"] for f in fits} == {
        "primary",
        "window_start_earlier",
        "window_start_later",
        "window_end_earlier",
        "per_run_tstar",
    }
    # one power law through both regimes is what the fixed window gives: a poor fit, so no μ
    fixed, fits = aging.estimate_mu(
        tws, lags, delta, 1e-2, aging.FitRules(fit_tw=(10, 1e5), window="fixed", n_boot=20)
    )
    assert (
        fixed["residual_dex"] > 0.1 and fits[0]["mu"] < 0.6
    )  # the slope through both regimes is biased
    assert np.isnan(fixed["mu"]) and "not one power law" in fixed["status"]
    assert aging.aging_verdict(fixed, 0.1)[0] == "undefined"


def test_mu_is_undefined_when_t_star_is_undefined_at_too_many_waiting_times():
    tws, lags = _grid()
    delta = _two_regimes(tws, lags, n_runs=5)
    # Δ* so high that t* exists only for the earliest t_w (later ones run out of time)
    summary, _ = aging.estimate_mu(
        tws, lags, delta, 3.0, aging.FitRules(fit_tw=(1, 1e5), n_boot=20)
    )
    assert np.isnan(summary["mu"]) and summary["status"].startswith("undefined")
    verdict, why = aging.aging_verdict(summary, 0.1)
    assert verdict == "undefined" and "undefined" in why


@pytest.mark.parametrize("min_decades, status", [(0.7, "ok"), (0.71, "undefined")])
def test_the_shortest_window_is_measured_on_the_grid_not_its_rounded_steps(min_decades, status):
    """Seven intervals of the 10-per-decade grid, t_w 125,893 ... 630,957 (10⁶ steps), span 0.7
    decades: rounded to whole steps they span 0.6999982, which must not leave μ undefined."""
    tws, lags = two_time.grid(10**6, 10, 20)
    rng = np.random.default_rng(0)
    scale = np.where(tws < 1.2e5, 1.2e5, tws).astype(float) ** 0.75  # flat, then t_w^0.75
    tw, t = np.meshgrid(scale, lags.astype(float), indexing="ij")
    base = np.where(tws[:, None] + lags[None, :] <= 10**6, 1e-3 * t / tw, np.nan)
    delta = base[None] * rng.lognormal(0, 0.05, size=(10, 1, 1))
    rules = aging.FitRules(fit_tw=(1, 1e6), min_decades=min_decades, n_boot=50)
    summary, _ = aging.estimate_mu(tws, lags, delta, 1e-2, rules)
    assert (summary["tw_min"], summary["tw_max"], summary["n_points"]) == (125893, 630957, 8)
    assert summary["status"].split(":")[0] == status
    if status == "ok":
        assert summary["mu"] == pytest.approx(0.75, abs=0.01)


@pytest.mark.parametrize(
    "low, high, expected",
    [
        (0.6, 0.8, "subaging"),
        (0.9, 1.1, "simple aging"),
        (1.1, 1.3, "superaging"),
        (-0.05, 0.05, "none"),
        (0.05, 0.3, "unclear"),
    ],
)
def test_aging_verdict_reads_the_total_interval(low, high, expected):
    summary = {"mu": (low + high) / 2, "total_low": low, "total_high": high, "status": "ok"}
    assert aging.aging_verdict(summary, 0.1)[0] == expected


def test_delta_star_scan_uses_one_window():
    tws, lags = _grid()
    delta = _two_regimes(tws, lags, n_runs=10)
    rows = aging.delta_star_scan(
        tws, lags, delta, np.array([5e-3, 1e-2, 2e-2]), (10**3.8, 2e4), n_boot=20
    )
    assert [r["tw_min"] for r in rows] == [10**3.8] * 3
    assert all(
        r["mu"] == pytest.approx(0.75, abs=0.02) for r in rows
    )  # the scaling form: μ independent of Δ*


def test_crossover_finds_the_break_between_two_power_laws():
    t_w = np.geomspace(10, 1e5, 41)
    log_break = 3.6
    x = np.log10(t_w)
    t_star = 10 ** np.where(x < log_break, 0.5 * x, 0.5 * log_break + 0.9 * (x - log_break))
    cross = aging.crossover(t_w, t_star)
    assert cross["log10_tw"] == pytest.approx(log_break, abs=0.1)
    assert cross["slope_before"] == pytest.approx(0.5, abs=0.02)
    assert cross["slope_after"] == pytest.approx(0.9, abs=0.02)
    assert cross["p_value"] < 1e-6
    line = aging.crossover(t_w, 10 ** (0.7 * x + np.random.default_rng(0).normal(0, 0.01, len(x))))
    assert line["p_value"] > 1e-3  # no break in one power law


def test_fit_rules_from_settings_reads_the_analysis_keys():
    """FitRules.from_settings: an analysis section's keys, renamed (window_shift_dex → shift_dex,
    min_fit_points → min_points, ...); the level keeps its default."""
    import json

    from conftest import aging_settings

    settings = json.loads(
        aging_settings(
            fit_tw=[20, 2000],
            fit_window="fixed",
            window_shift_dex=0.3,
            min_fit_points=6,
            min_fit_decades=0.8,
            n_boot=40,
        )
    )
    rules = aging.FitRules.from_settings(settings)
    assert rules == aging.FitRules(
        fit_tw=(20, 2000),
        window="fixed",
        point_residual_dex=settings["point_residual_dex"],
        shift_dex=0.3,
        min_points=6,
        min_decades=0.8,
        max_residual_dex=settings["max_residual_dex"],
        n_boot=40,
    )
