"""The scorecard: which experiments get a transition row, the claims' table, and its rows built
from a validated config's settings on synthetic cells (every ``scorecard`` setting reaches the
rows it names; an experiment renamed in the config keeps its rows)."""

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, SCHEMA
from glassynets import claims, config, settings
from glassynets.cells import CellTables
from glassynets.scorecard import sweeps_alpha
from glassynets.scorecard.headline import MEASURES
from glassynets.scorecard.stage import tables


def cells(*alphas: float) -> list:
    return [SimpleNamespace(alpha=a) for a in alphas]


def test_a_sweep_through_n_or_width_has_a_transition():
    assert sweeps_alpha(cells(0.04, 0.37, 3.7, 7.4))
    assert sweeps_alpha(cells(0.095, 0.16, 0.236))  # mnist_alpha: widths 7 … 17 at N = 60,000


def test_architectures_at_one_n_do_not_sweep_alpha():
    assert not sweeps_alpha(cells(0.399, 0.402, 0.405))  # mnist_arch: P = 3985, 4015, 4045
    assert not sweeps_alpha(cells(0.1, 10.0))  # two values cannot locate a crossing


# --- the claims' table


def test_every_claim_names_a_measure_there_is_and_roles_the_schema_has():
    roles = set(yaml.safe_load(SCHEMA.read_text())["properties"]["experiments"][
        "additionalProperties"]["properties"]["role"]["enum"]) | {claims.DATA}  # fmt: skip
    for claim in claims.CLAIMS:
        assert not claim.measure or claim.measure in MEASURES, claim.name
        assert set(claim.roles) <= roles, claim.name
        assert claim.tolerance is None or claim.value is not None, claim.name


def test_no_experiment_is_named_where_the_claims_are_scored():
    names = yaml.safe_load((ROOT / "config.yaml").read_text())["experiments"]
    sources = [ROOT / "glassynets/claims.py", *(ROOT / "glassynets/scorecard").glob("*.py")]
    for path in sources:
        text = path.read_text()
        assert not [n for n in names if re.search(rf"\b{n}\b", text)], path


def test_a_data_set_the_papers_did_not_run_is_compared_with_the_same_role_on_theirs():
    mnist, fashion = claims.texts("alpha", "mnist"), claims.texts("alpha", "fashion_mnist")
    assert mnist["mu"] == "0.709 ± 0.017"
    assert fashion["mu"] == "no paper value (MNIST: 0.709 ± 0.017)"
    assert fashion["criterion"] == mnist["criterion"]  # the criterion is tested as stated
    assert "mu" not in claims.texts("sizes", "ljat19")
    assert claims.texts("architectures", "ljat19")["grad_rms_2"] == "0.07"


# --- rows from a config's settings

BASE = dict(noise="minibatch", sampling="epochs", lr=0.05, batch_size=100, temperature=0,
            persistence=None, steps=10000)  # fmt: skip
EXPERIMENTS = {
    "depths": {"role": "architectures", "dataset": "ljat19", "n_train": [1000],
               "architectures": ["h10", "h5-5", "h4-4-4"]},
    "widths": {"role": "alpha", "dataset": "mnist", "n_train": [10000],
               "architectures": ["h7-7-7", "h9-9-9", "h11-11-11"]},
    "batches": {"role": "noise", "dataset": "ljat19", "n_train": [1000], "architectures": ["h5-5"],
                "sweep": {"axis": "batch_size", "variants": [{"name": "B10", "batch_size": 10},
                                                             {"name": "B100"}]}},
}  # fmt: skip


def network_cell(experiment: str, dataset: str, arch: str, n: int, seed: int) -> CellTables:
    """A network cell whose tables hold every column the scorecard reads, smooth in the step
    (so that every threshold on steps moves a value) and different per cell (``seed``)."""
    rng = np.random.default_rng(seed)
    widths = [2 if dataset == "ljat19" else 784, *map(int, arch[1:].split("-")), 4]
    steps = np.unique(np.round(np.logspace(0, 4, 41)))
    frames = []
    for run in range(3):
        decay = np.exp(-steps / 800.0)
        frames.append(pd.DataFrame({
            "seed": run, "step": steps, "train_loss": 0.45 + 0.9 * decay + 0.01 * run,
            "train_acc": 0.85 - 0.5 * decay + 0.004 * run, "test_acc": 0.8 - 0.5 * decay,
            "grad_norm": 0.05 * (1 + decay) * (1 + 0.1 * run) * widths[1] / 5,
            "batch_grad_norm": 0.2 * (1 + decay), "t_sgd": 1e-4 * (1 + decay),
            "theta_batch_grad": 2.0 + decay, "yaida_rhs": 4.0,
        }))  # fmt: skip
    mu = 0.7 + 0.05 * rng.standard_normal()
    fit = dict(mu=mu, status="ok", n_boot=100, stat_low=mu - 0.05, stat_high=mu + 0.05,
               total_low=mu - 0.1, total_high=mu + 0.1, syst_low=0.05, syst_high=0.05,
               window_rule="asymptotic", tw_min=100.0, tw_max=2000.0, n_points=8,
               residual_dex=0.01, max_residual_dex=0.02, delta_star=1e-2,
               crossover_log10_tw=3.5, crossover_low=3.3, crossover_high=3.7,
               hinge_log10_tw=3.0, hinge_p=0.01, slope_before=0.1, slope_after=mu)  # fmt: skip
    scan = pd.DataFrame({"variant": "delta_star_scan", "mu": mu + np.array([-0.01, 0.0, 0.01]),
                         "delta_star": [3e-3, 1e-2, 3e-2]})  # fmt: skip
    n_params = sum(a * b + b for a, b in zip(widths, widths[1:]))
    meta = {**BASE, "experiment": experiment, "dataset": dataset, "arch": arch, "n_train": n,
            "widths": widths, "n_params": n_params}  # fmt: skip
    empty = pd.DataFrame()
    return CellTables(meta=meta, msd=empty, overlap=empty, tstar=empty, mu=scan,
                      mu_summary=pd.DataFrame([fit]), msd_late=empty, long_lag=empty,
                      metrics=pd.concat(frames, ignore_index=True))  # fmt: skip


def scored(experiments: dict, **card) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows, headline) of the scorecard of a validated config of ``experiments`` on synthetic
    cells, with ``card`` overriding the schema's ``scorecard`` defaults."""
    cfg = config.validate({"experiments": experiments, "scorecard": card}, SCHEMA)
    made, seed = [], 0
    for name, exp in cfg["experiments"].items():
        for n in exp["n_train"]:
            for arch in exp["architectures"]:
                made.append(network_cell(name, exp["dataset"], arch, n, seed))
                seed += 1
    limits = {"accuracy_ceiling": 0.81, "entropy_floor_nats": 0.49, "n": 10, "features": ["r12"]}
    return tables(settings.scorecard(cfg), limits, made)


#: Each key of the schema's scorecard section: a value other than its default, and the rows
#: (quantity, or headline claim) that must change with it.
REACHES = {
    "loss_within": (0.3, "step where mean loss is within", "time to reach the loss floor"),
    "grad_rms_after": (3000, "gradient-norm RMS", "gradient-norm RMS"),
    "underparametrized_alpha": (0.8, "underparametrized criterion", "mean μ across α"),
    "underparametrized_accuracy": (0.5, "underparametrized criterion", None),
    "temperature_after": (3000, "T_SGD", None),
    "tti_mu": (0.65, "aging", "μ at Δ*"),
}


def _changed(before: pd.DataFrame, after: pd.DataFrame, column: str) -> set[str]:
    assert before.shape == after.shape
    differs = (before.astype(str) != after.astype(str)).any(axis=1)
    return set(before.loc[differs, column]) | set(after.loc[differs, column])


def test_every_scorecard_setting_reaches_the_rows_it_names():
    schema = yaml.safe_load(SCHEMA.read_text())["properties"]["scorecard"]["properties"]
    assert set(REACHES) == set(schema)
    rows, top = scored(EXPERIMENTS)
    for key, (value, quantity, claim) in REACHES.items():
        assert value != schema[key]["default"], key
        new_rows, new_top = scored(EXPERIMENTS, **{key: value})
        assert any(quantity in q for q in _changed(rows, new_rows, "quantity")), key
        if claim is not None:
            assert any(claim in c for c in _changed(top, new_top, "claim")), key


def test_an_experiment_renamed_in_the_config_keeps_its_rows():
    rows, top = scored(EXPERIMENTS)
    renamed = {("layers" if k == "depths" else k): v for k, v in EXPERIMENTS.items()}
    new_rows, new_top = scored(renamed)
    assert len(top) == len(new_top) and len(rows) == len(new_rows)
    assert top["claim"].str.startswith("LJAT19 final train loss").any()
    assert top["claim"].str.startswith("LJAT19 crossover").sum() == 3
    keep = ["claim", "paper", "reproduced", "uncertainty", "verdict"]
    pd.testing.assert_frame_equal(top[keep], new_top[keep])
    assert set(new_rows["experiment"]) - set(rows["experiment"]) == {"layers"}
    columns = [c for c in rows.columns if c != "experiment"]
    pd.testing.assert_frame_equal(rows[columns], new_rows[columns])
    ljat = new_rows[new_rows["experiment"] == "layers"]
    assert (ljat.loc[ljat["quantity"] == "final train accuracy", "paper"] == "≈ 0.8 max").all()


@pytest.mark.parametrize("dataset", [None, "ljat19", "mnist"])
def test_the_scorecard_settings_carry_the_roles_and_sweeps_of_its_experiments(dataset):
    cfg = config.validate({"experiments": EXPERIMENTS}, SCHEMA)
    job = settings.scorecard(cfg, dataset)
    names = [n for n, e in cfg["experiments"].items() if dataset in (None, e["dataset"])]
    assert list(job["roles"]) == names
    assert set(job["sweeps"]) == {n for n in names if n.startswith("batches")}
    assert job["tti_mu"] == cfg["scorecard"]["tti_mu"]
    assert Path(SCHEMA).exists()
