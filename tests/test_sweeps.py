"""The sweeps' analysis (glassynets.sweeps): the constant-μ test, the collapse quality, the lag to
reach Δ*, and the scorecard's sweep claims, on cells whose answers are known."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from glassynets import scaling, sweeps
from glassynets.cells import CellTables

BASE = dict(
    noise="minibatch",
    sampling="epochs",
    lr=0.05,
    batch_size=100,
    temperature=0,
    persistence=None,
    n_train=1000,
    n_params=69,
    arch="h5-5",
    widths=[2, 5, 5, 4],
    dataset="ljat19",
    steps=1000,
)


def cell(experiment, mu=0.7, low=0.6, high=0.8, delta=None, t_sgd=1e-4, **meta) -> CellTables:
    """A cell with μ (and its total interval), Δ(t_w = 10, t) = delta(t) on t = 1..1000, and metrics
    whose T_SGD is t_sgd at every step."""
    t = np.unique(np.logspace(0, 3, 61).round())
    delta = delta or (lambda t: 1e-4 * t)
    msd = pd.DataFrame({"t_w": 10, "t": t, "delta_mean": delta(t)})
    fit = dict(mu=mu, total_low=low, total_high=high, residual_dex=0.02, crossover_log10_tw=3.0)
    fit.update(status="ok" if np.isfinite(mu) else "t* undefined at too many t_w", delta_star=1e-2)
    steps = np.array([0, 10, 100, 1000, 10000])
    metrics = pd.DataFrame(
        {
            "seed": 0,
            "step": steps,
            "train_loss": 0.5,
            "t_sgd": t_sgd,
            "theta_batch_grad": 2.0,
            "yaida_rhs": 4.0,
        }
    )
    empty = pd.DataFrame()
    return CellTables(
        meta={**BASE, "experiment": experiment, **meta},
        msd=msd,
        overlap=empty,
        tstar=pd.DataFrame({"seed": [-1], "t_w": [10], "delta_star": [1e-2], "t_star": [1.0]}),
        mu=empty,
        mu_summary=pd.DataFrame([fit]),
        msd_late=empty,
        metrics=metrics,
    )


def test_one_constant_mu_is_tested_with_the_intervals_as_errors():
    same = sweeps.constant_mu([0.7, 0.7, 0.7], [0.6, 0.65, 0.5], [0.8, 0.75, 0.9])
    assert (
        same["mean"] == pytest.approx(0.7) and same["chi2"] == pytest.approx(0) and same["p"] == 1
    )
    # symmetric intervals of half-width 1.96·σ: χ² by hand
    sigma = np.array([0.05, 0.1])
    mu = np.array([0.6, 0.9])
    test = sweeps.constant_mu(mu, mu - sweeps.Z95 * sigma, mu + sweeps.Z95 * sigma)
    mean = np.average(mu, weights=sigma**-2)
    chi2 = (((mu - mean) / sigma) ** 2).sum()
    assert test["mean"] == pytest.approx(mean) and test["chi2"] == pytest.approx(chi2)
    assert test["p"] == pytest.approx(stats.chi2.sf(chi2, 1)) and test["dof"] == 1
    # the side facing the common value counts: a long tail away from it does not help
    lopsided = sweeps.constant_mu([0.5, 0.9], [0.49, 0.89], [0.51, 2.0])
    assert lopsided["p"] < 1e-6
    # undefined μ are left out and counted; fewer than two defined: no test
    some = sweeps.constant_mu([0.7, np.nan, 0.71], [0.6, np.nan, 0.6], [0.8, np.nan, 0.8])
    assert (some["n"], some["n_undefined"]) == (2, 1)
    none = sweeps.constant_mu([0.7, np.nan], [0.6, np.nan], [0.8, np.nan])
    assert np.isnan(none["p"]) and none["n_undefined"] == 1


def test_the_collapse_spread_is_the_rms_std_of_log_delta():
    x = np.logspace(0, 3, 50)
    assert scaling.spread([(x, x), (x, x)]) == pytest.approx(0)
    # a factor 10 between two curves: log10 values 0 and 1 apart, standard deviation 0.5
    assert scaling.spread([(x, x), (x, 10 * x)]) == pytest.approx(0.5)
    # only the common range counts, and one curve is no collapse
    assert scaling.spread([(x, x), (x[10:30], x[10:30])]) == pytest.approx(0)
    assert np.isnan(scaling.spread([(x, x)]))


def test_superposition_rescales_by_the_lag_where_delta_reaches_delta_star():
    taus = [20.0, 50.0, 200.0]
    cells = [
        cell(f"e{k}", delta=lambda t, tau=tau: 1e-2 * (t / tau) ** 1.5)
        for k, tau in enumerate(taus)
    ]
    never = cell("flat", delta=lambda t: np.full_like(t, 1e-3))
    result = sweeps.superposition([*cells, never], t_w=10, delta_star=1e-2)
    assert result["tau"][:3] == pytest.approx(taus, rel=1e-9)  # a power law interpolates exactly
    assert np.isnan(result["tau"][3]) and result["n"] == 3
    assert result["scaled"] == pytest.approx(0, abs=1e-9) and result["raw"] > 0.5


def test_sweep_claims_test_one_mu_and_compare_gradient_descent_with_sgd():
    members = {
        "b_B10": dict(axis="batch_size", family="b", variant="B10", base=False),
        "b_B100": dict(axis="batch_size", family="b", variant="B100", base=True),
        "b_B1000": dict(axis="batch_size", family="b", variant="B1000", base=False),
        "p_tau10": dict(axis="persistence", family="p", variant="tau10", base=False),
        "p_tau100": dict(axis="persistence", family="p", variant="tau100", base=False),
    }
    cells = [
        cell("b_B10", 0.70, 0.65, 0.75, batch_size=10),
        cell("b_B100", 0.72, 0.67, 0.77),
        cell("b_B1000", np.nan, np.nan, np.nan, batch_size=1000, t_sgd=1e-19),
        cell("p_tau10", 0.3, 0.25, 0.35, noise="persistent", persistence=10),
        cell("p_tau100", 0.7, 0.65, 0.75, noise="persistent", persistence=100),
        cell("other", 0.1, 0.0, 0.2),  # not a sweep's: ignored
    ]
    found = sweeps.families(cells, members)
    assert [f.name for f in found] == ["b", "p"]
    assert found[0].cells[2].label == "GD (B = N), lr = 0.05"
    assert found[1].cells[0].label == "persistent τ = 10, B = 100"
    rows = {r["claim"]: r for r in sweeps.headline_rows(found, after=100, tti_mu=0.1)}
    lr_b = rows["μ independent of lr and B (ljat19)"]
    assert lr_b["verdict"] == "matches" and "1 cell(s) with B = N left out" in lr_b["where"]
    gd = rows["μ under gradient descent (GD (B = N), lr = 0.05, b)"]
    assert gd["verdict"] == "undefined" and gd["reproduced"] == "undefined"
    tau = rows["μ independent of the persistence τ (ljat19)"]
    assert tau["verdict"] == "differs" and "p = " in tau["reproduced"]
    frame = sweeps.table(found, after=100, tti_mu=0.1)
    assert frame["t_eff"].tolist() == pytest.approx([1e-4, 1e-4, 0, 1e-4, 1e-4])
    yaida = frame["yaida_ratio"].to_numpy()
    assert np.isnan(yaida[2]) and yaida[[0, 1, 3, 4]] == pytest.approx([0.5] * 4)  # GD: undefined
    assert frame["value"].tolist() == [10, 100, 1000, 10, 100]


def test_yaida_ratio_is_undefined_for_gradient_descent_only():
    """Yaida's late ratio: sum of θ·g_B over sum of (lr/2)|g_B|² + T·P (here 2/4) for every noisy
    dynamics, Langevin included; NaN for gradient descent (full batch, or B = N), whose two sides
    both vanish at a minimum."""
    assert sweeps.late_stationarity(cell("sgd"), 10) == pytest.approx(0.5)
    langevin = cell("langevin", noise="langevin", temperature=1e-5)
    assert sweeps.late_stationarity(langevin, 10) == pytest.approx(0.5)
    assert np.isnan(sweeps.late_stationarity(cell("gd", noise="full_batch"), 10))
    assert np.isnan(sweeps.late_stationarity(cell("b_eq_n", batch_size=1000), 10))
    rows = sweeps.table(
        [sweeps.Family("f", "batch_size", [("B1000", cell("x", batch_size=1000))])], 10, 0.1
    )
    assert np.isnan(rows["yaida_ratio"].iloc[0])
