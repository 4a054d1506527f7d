"""The n = ∞ Cugliandolo–Kurchan integrator (glassynets.ck) against the known limits of the
spherical 3-spin, its own convergence in h, and the finite-n simulation (5 s with OPENBLAS_NUM_THREADS=1)."""

import math

import numpy as np
import pytest
import torch

from glassynets import aging, ck, pspin, storage, two_time


@pytest.fixture(scope="module")
def glassy():
    """T = 0.5 < T_d to t = 100 at h = 0.1 (about 2 s)."""
    return ck.integrate(0.5, 100, 0.1)


@pytest.fixture(scope="module")
def paramagnet():
    """T = 0.8 > T_d to t = 40 at h = 0.05 (about 3 s)."""
    return ck.integrate(0.8, 40, 0.05)


def test_equal_times_symmetry_and_multiplier(glassy):
    s = glassy
    np.testing.assert_array_equal(np.diagonal(s.C), 1.0)
    np.testing.assert_array_equal(np.diagonal(s.R), 1.0)
    np.testing.assert_array_equal(s.C, s.C.T)
    assert np.all(np.triu(s.R, 1) == 0)
    assert np.all(np.abs(s.C) <= 1)
    np.testing.assert_allclose(s.mu, 0.5 - 3 * s.energy, atol=1e-13)
    assert s.mu[0] == 0.5 and s.energy[0] == 0
    # leaving the diagonal, C(t + τ, t) = 1 − T τ + O(τ²) (free diffusion on the sphere)
    fine = ck.integrate(0.5, 1, 0.01)
    np.testing.assert_allclose(
        1 - fine.C[np.arange(1, 101), np.arange(100)], 0.5 * 0.01, rtol=0.015
    )
    np.testing.assert_allclose(s.correlation([0, 50, 99], [0, 0, 0]), 1.0)


def test_paramagnet_energy_and_time_translation_invariance(paramagnet):
    s = paramagnet
    e_eq = pspin.paramagnetic_energy(0.8)  # −0.625
    at = lambda t: s.energy[round(t / s.h)]  # noqa: E731
    # measured −0.62345 at t = 40 (h → 0: about −0.6247); flat from t ≈ 30
    assert abs(at(40) - e_eq) < 0.004
    assert abs(at(40) - at(30)) < 0.001
    assert np.all(s.energy[1:] > e_eq)
    lags = np.array([0.5, 1, 2, 5, 10])
    # C(t_w + t, t_w): measured 0.6523, 0.5355, 0.3645, 0.2187 at t_w = 30 for t = 1, 2, 5, 10,
    # within 0.0025 of t_w = 20, while t_w = 1 is still far from equilibrium
    late, later = s.correlation(20, lags), s.correlation(30, lags)
    assert np.max(np.abs(later - late)) < 0.003
    assert np.max(np.abs(s.correlation(1, lags) - later)) > 0.03
    # and it decays to zero: the paramagnet has no plateau
    assert s.correlation(10, 30) < 0.05


def test_aging_plateau_and_energy_below_td(glassy):
    s, q = glassy, pspin.plateau_q(0.5)  # 0.639
    e_inf = pspin.asymptotic_energy(0.5)  # −0.887
    # e(t) decreases monotonically towards e_∞ and stays above it: −0.805 (t = 10), −0.863 (100)
    assert np.all(np.diff(s.energy[5:]) < 0)
    assert np.all(s.energy > e_inf)
    assert e_inf < s.energy[-1] < e_inf + 0.03
    # C(t_w + t, t_w) ages: at fixed lag it grows with t_w
    tws = np.array([3, 10, 30, 60])
    c30 = s.correlation(tws, 30)
    assert np.all(np.diff(c30) > 0.02)
    # a plateau forms above q and sinks towards it: the flattest point of C against log t lies
    # at C = 0.721 (t_w = 30) and 0.699 (t_w = 60), the log-slope there falls with t_w
    # (0.071, 0.060), and C leaves it below q at lags of order t_w
    flat, slopes = [], []
    for tw in (30, 60):
        lag = np.geomspace(1, 100 - tw, 60)
        c = s.correlation(tw, lag)
        slope = -np.gradient(c, np.log(lag))
        k = int(np.argmin(slope))
        flat.append(c[k])
        slopes.append(slope[k])
        assert c[-1] < q
    assert q < flat[1] < flat[0] < q + 0.1
    assert slopes[1] < slopes[0] < 0.1
    # the short-lag (FDT) part is already nearly t_w-independent
    assert abs(s.correlation(30, 0.5) - s.correlation(60, 0.5)) < 0.005


def test_convergence_in_h():
    """Halving h, C on the h = 0.2 grid (t, t′ ≤ 20) moves by at most 0.0123, 0.0046, 0.0013
    (T = 0.5) and 0.041, 0.0114, 0.0030 (T = 0.8) from h = 0.2 to 0.1, 0.05, 0.025: second order
    (the ratios rise to 3.5–3.8), so C at h = 0.05 is within ~0.0015 (T = 0.5), ~0.004 (T = 0.8)
    of h → 0 there."""
    for T, tol in ((0.5, 0.006), (0.8, 0.015)):
        c = [
            ck.integrate(T, 20, h).C[:: round(0.2 / h), :: round(0.2 / h)] for h in (0.2, 0.1, 0.05)
        ]
        coarse, fine = np.max(np.abs(c[1] - c[0])), np.max(np.abs(c[2] - c[1]))
        assert fine < tol
        assert 2.5 < coarse / fine < 4.5


def test_richardson_extrapolation():
    """(4 C_h − C_2h)/3 cancels the h² error: against extrapolated(h = 0.025) at t ≤ 20 the error
    of C is 0.0063 (T = 0.5) and 0.0154 (T = 0.8) at plain h = 0.1, 0.0024 and 0.0022 for
    extrapolated(0.1) (step 0.2), 0.0002 for extrapolated(0.05); here at t ≤ 10, T = 0.8."""
    ref = ck.extrapolated(0.8, 10, 0.025).C[::4, ::4]  # step 0.2
    plain = ck.integrate(0.8, 10, 0.1).C[::2, ::2]
    rich = ck.extrapolated(0.8, 10, 0.1)
    assert rich.h == 0.2 and len(rich.times) == 51
    err_plain, err_rich = np.max(np.abs(plain - ref)), np.max(np.abs(rich.C - ref))
    assert err_rich < 0.003 and err_rich < err_plain / 3
    np.testing.assert_array_equal(np.diagonal(rich.C), 1.0)
    np.testing.assert_allclose(rich.mu, 0.8 - 3 * rich.energy, atol=1e-12)


def test_two_time_table_feeds_aging(glassy, tmp_path):
    """On the simulation's integer-step grid (dt = 0.02), as one run of a two_time table."""
    step, last = 0.02, 5000  # t = 100
    waiting_times, lags = two_time.grid(last, 10, 20)
    cols = ck.two_time_columns(glassy, waiting_times, lags, step, eps=[0.1, 0.3])
    recorder = two_time.Recorder(waiting_times, lags, last, [0.1, 0.3], 1, 1)
    ref = recorder.columns(np.array([0]))
    for name in ("seed", "t_w", "t"):
        np.testing.assert_array_equal(cols[name], ref[name])
    # on CK grid points exactly 2(1 − C); Gaussian fourth moment and overlap
    on = (cols["t_w"] % 5 == 0) & (cols["t"] % 5 == 0)
    rows = glassy.C[(cols["t_w"][on] + cols["t"][on]) // 5, cols["t_w"][on] // 5]
    np.testing.assert_allclose(cols["delta"][on], 2 * (1 - rows), rtol=1e-12)
    np.testing.assert_allclose(cols["fourth"], 3 * cols["delta"] ** 2)
    d = cols["delta"][100]
    assert cols["overlap"][100, 1] == pytest.approx(math.erf(0.3 / math.sqrt(2 * d)))
    # the smallest lag, one step: Δ ≈ 2T·dt (linear between CK grid points h = 0.1 apart)
    first = cols["t"] == 1
    np.testing.assert_allclose(cols["delta"][first], 2 * 0.5 * step, rtol=0.15)
    path = storage.write_two_time(tmp_path / "ck.parquet", cols, np.array([0.1, 0.3]), {})
    blocks = [storage.read_two_time(path)]
    tws, lg, seeds, delta, *_ = aging.merge_blocks(blocks)
    t_star = aging.t_star(lg, delta[0], 1.0)
    ok = np.isfinite(t_star)
    assert ok.sum() >= 10 and np.all(np.diff(t_star[ok]) > 0)  # t* grows with t_w: aging
    e = ck.energy_columns(glassy, [0, 50, 5000], step)
    np.testing.assert_allclose(e["energy"], glassy.energy[[0, 10, 1000]])


def test_matches_finite_n_simulation():
    """n = 128 (2 samples × 16, dt = 0.02, t ≤ 10) against CK mapped to finite n: H at finite n has
    variance f_n·n/2 (pspin.paramagnetic_energy), i.e. couplings sqrt(f_n) weaker, so the
    simulation at (T, t) is CK at T/sqrt(f_n) and time sqrt(f_n)·t, with energies × sqrt(f_n).
    Measured: e_sim − e_CK = 0.0003, −0.005, +0.007 at t = 1, 5, 10 (the Euler–Maruyama bias is
    ≈ −0.016 at dt = 0.02); C_sim − C_CK = +0.028, +0.055, +0.056 at (1, 5), (5, 10), (1, 10), 2–3.5
    times the naive SEM over runs (replicas share J): the simulation ages more slowly, as it does
    at larger dt (docs/pspin.md), and the mapping is only the leading 1/n correction."""
    torch.set_num_threads(1)
    n, T, dt = 128, 0.5, 0.02
    rec = np.array([50, 250, 500])
    sim = pspin.simulate(n, T, 2, 16, dt, 500, rec, seed=1, dtype=torch.float32)
    r = math.sqrt((n - 1) * (n - 2) / ((n + 2) * (n + 4)))
    s = ck.integrate(T / r, 10, 0.05)
    times = rec * dt
    e_ck = r * np.interp(times * r, s.times, s.energy)
    assert np.max(np.abs(sim.energies.mean(axis=1) - e_ck)) < 0.02
    snaps = sim.snapshots.astype(np.float64)
    for a, b in ((0, 1), (1, 2), (0, 2)):
        c_sim = ((snaps[a] * snaps[b]).sum(-1) / n).mean()
        c_ck = s.correlation(times[a] * r, (times[b] - times[a]) * r)
        assert 0 < c_sim - c_ck < 0.07


def test_decimated_matches_uniform():
    """integrate_decimated against integrate (same h = 0.1) at t ≤ 50, on the stored points:
    bit-for-bit before the first decimation; after it, max |ΔC| measured 2.8e-3, 1.2e-3, 5.2e-4
    (T = 0.5) and 8.2e-4, 1.9e-4, 7.1e-5 (T = 0.8) at window = 16, 32, 64, |Δe| ≤ 3e-4 (window 16),
    all below the h error of the uniform scheme itself (~0.006 at h = 0.1)."""
    for T, tol in ((0.5, 0.004), (0.8, 0.0015)):
        u = ck.integrate(T, 50, 0.1)
        d = ck.integrate_decimated(T, 50, 0.1, window=16)
        assert d.metadata["decimations"] > 0 and len(d.times) < 150
        idx = np.rint(d.times / 0.1).astype(int)
        np.testing.assert_allclose(d.times, idx * 0.1, atol=1e-9)
        np.testing.assert_array_equal(np.diagonal(d.C), 1.0)
        np.testing.assert_array_equal(np.diagonal(d.R), 1.0)
        np.testing.assert_array_equal(d.C, d.C.T)
        assert np.all(np.triu(d.R, 1) == 0)
        assert np.max(np.abs(d.C - u.C[np.ix_(idx, idx)])) < tol
        assert np.max(np.abs(d.R - u.R[np.ix_(idx, idx)])) < tol
        assert np.max(np.abs(d.energy - u.energy)) < 5e-4
        np.testing.assert_allclose(d.mu, T - 3 * d.energy, atol=1e-13)
    # before the first decimation (t < 2·window·h) the arithmetic is that of integrate
    short = ck.integrate_decimated(0.5, 3, 0.1, window=16)
    assert short.metadata["decimations"] == 0
    np.testing.assert_allclose(short.C, ck.integrate(0.5, 3, 0.1).C, atol=1e-14)
    with pytest.raises(ValueError):
        ck.integrate_decimated(0.5, 10, 0.1, window=15)


def test_decimated_limits():
    """T = 0.8: e → −1/(2T) (−0.6235 at t = 40, h = 0.05, as the uniform grid); T = 0.5 to
    t = 100: e decreasing (per step, after the first 0.5) and above e_∞."""
    p = ck.integrate_decimated(0.8, 40, 0.05, window=16)
    assert p.metadata["decimations"] > 0
    assert abs(p.energy[-1] - pspin.paramagnetic_energy(0.8)) < 0.004
    assert np.all(p.energy[1:] > -0.625)
    g = ck.integrate_decimated(0.5, 100, 0.1, window=16)
    e_inf = pspin.asymptotic_energy(0.5)
    assert np.all(np.diff(g.energy[5:]) < 0)
    assert np.all(g.energy > e_inf)
    assert e_inf < g.energy[-1] < e_inf + 0.03


def test_decimated_records_pairs():
    """C(t_w + lag, t_w) recorded during integrate_decimated: the uniform grid's bilinear value
    exactly before the first decimation, within the decimation error after it (measured 1.1e-3
    at window 16, t ≤ 50, T = 0.5), with the columns of every asked t_w kept (so old t_w keep
    their lags)."""
    tw = np.array([0.0, 0.02, 0.5, 1.03, 3.0, 10.07, 20.0, 30.3, 45.0])
    lag = np.array([0.0, 0.01, 0.37, 2.0, 10.5, 25.3, 29.9, 19.7, 5.0])
    u = ck.integrate(0.5, 50, 0.1)
    d = ck.integrate_decimated(0.5, 50, 0.1, window=16, pairs=(tw, lag))
    assert d.metadata["decimations"] > 0
    np.testing.assert_allclose(d.pair_C[:3], u.correlation(tw[:3], lag[:3]), atol=1e-14)
    assert np.max(np.abs(d.pair_C - u.correlation(tw, lag))) < 2e-3
    for t in (10.0, 10.1, 30.3, 30.4, 45.0):  # the grid times either side of each t_w
        assert np.min(np.abs(d.times - t)) < 1e-9
    short = ck.integrate_decimated(0.5, 3, 0.1, window=16, pairs=([0.5, 1.0], [1.7, 2.0]))
    np.testing.assert_allclose(
        short.pair_C, ck.integrate(0.5, 3, 0.1).correlation([0.5, 1.0], [1.7, 2.0]), atol=1e-14
    )
    with pytest.raises(ValueError, match="t_w \\+ lag"):
        ck.integrate_decimated(0.5, 3, 0.1, pairs=([2.0], [1.5]))


def test_run_cell_on_the_simulation_grid():
    """run_cell: the two_time rows of a simulated cell's grid (as two_time_columns writes them from
    the uniform solution) and the energy at its snapshot steps; mapped to n, the solution at
    T/r and time r·t with energies r·e, r = sqrt(f_n)."""
    settings = {
        "dt": 0.05,
        "steps": 60,  # time 3: no decimation at window 64, so equal to the uniform grid
        "waiting_times_per_decade": 10,
        "lags_per_decade": 20,
        "snapshots_per_decade": 5,
        "overlap_eps": [0.1, 0.3],
        "ck": {"step": 0.1, "window": 64},
    }
    exact = ck.run_cell(None, 0.5, settings)
    waiting_times, lags = two_time.grid(60, 10, 20)
    ref = ck.two_time_columns(ck.integrate(0.5, 3, 0.1), waiting_times, lags, 0.05, eps=[0.1, 0.3])
    for name in ("seed", "t_w", "t"):
        np.testing.assert_array_equal(exact.two_time[name], ref[name])
    for name in ("delta", "fourth", "overlap"):
        np.testing.assert_allclose(exact.two_time[name], ref[name], atol=1e-13)
    assert exact.metadata["time_factor"] == 1.0
    n = 32
    r = math.sqrt(pspin.finite_n_factor(n))
    assert r == pytest.approx(math.sqrt(31 * 30 / (34 * 36)))
    mapped = ck.run_cell(n, 0.5, settings)
    solution = ck.integrate(0.5 / r, 0.1 * math.ceil(3 * r / 0.1), 0.1)
    tw, t = mapped.two_time["t_w"] * 0.05 * r, mapped.two_time["t"] * 0.05 * r
    np.testing.assert_allclose(
        mapped.two_time["delta"], 2 * (1 - solution.correlation(tw, t)), atol=1e-13
    )
    steps = mapped.energy["step"]
    np.testing.assert_allclose(
        mapped.energy["energy"],
        r * np.interp(steps * 0.05 * r, solution.times, solution.energy),
        atol=1e-13,
    )
    assert mapped.metadata["ck_temperature"] == pytest.approx(0.5 / r)


def test_exact_curve_has_no_statistical_interval():
    """One deterministic curve (aging.estimate_mu with exact=True): the statistical interval is μ
    itself and the total interval is the systematic one (window, convention); without ``exact``
    a single run has no interval at all."""
    waiting_times = np.geomspace(1, 1000, 31)
    lags = np.geomspace(1, 1e5, 101)
    delta = (lags[None, :] / waiting_times[:, None] ** 0.7) ** 0.5  # t* = t_w^0.7 at Δ* = 1
    delta = delta * (1 + 0.02 * np.sin(np.log(waiting_times)))[:, None]
    rules = aging.FitRules(fit_tw=(10, 1000), n_boot=50)
    summary, _ = aging.estimate_mu(waiting_times, lags, delta[None], 1.0, rules, exact=True)
    assert summary["status"] == "ok"
    assert summary["stat_low"] == summary["mu"] == summary["stat_high"]
    assert summary["total_low"] <= summary["mu"] <= summary["total_high"]
    assert summary["total_high"] - summary["total_low"] > 0
    plain, _ = aging.estimate_mu(waiting_times, lags, delta[None], 1.0, rules)
    assert plain["mu"] == summary["mu"] and np.isnan(plain["total_low"])
