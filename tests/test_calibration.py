"""The LJAT19 calibration facts and score on synthetic training curves."""

import json

import numpy as np
import pandas as pd
import pytest

from glassynets import calibration as C
from glassynets import claims

#: The paper's protocol: loss floor within 10% of the final loss, gradient RMS after t = 10⁴.
PAPER = {"loss_within": 0.1, "grad_rms_after": 1e4}


def _metrics(loss, grad: float = 0.05, seeds: int = 3) -> pd.DataFrame:
    """Metrics table with a given mean loss curve (callable of log10 step) and constant grad."""
    steps = np.unique(np.round(np.logspace(0, 5, 101)).astype(int))
    rows = []
    for seed in range(seeds):
        for s in steps:
            value = loss(np.log10(s)) + 0.01 * (seed - (seeds - 1) / 2)  # mean over seeds: loss
            rows.append(
                dict(
                    seed=seed,
                    step=s,
                    train_loss=value,
                    train_acc=0.8,
                    test_acc=0.79,
                    grad_norm=grad,
                    batch_grad_norm=4 * grad,
                )
            )
    return pd.DataFrame(rows)


def _plateau_curve(lt):
    """1.4 at t = 1, a plateau at 0.85 from 10^1 to 10^2.5, then down to 0.5 by 10^3.5."""
    return np.interp(lt, [0, 1, 2.5, 3.5, 5], [1.4, 0.86, 0.84, 0.5, 0.48])


def test_curve_readings() -> None:
    curve = C.mean_curve(_metrics(_plateau_curve))
    assert C.value_at(curve, 1e3) == pytest.approx(_plateau_curve(3.0), abs=0.01)
    assert C.first_log10_step_below(curve, 0.5) == pytest.approx(3.5, abs=0.06)
    facts = C.dynamics_facts({1: _metrics(_plateau_curve)}, None, **PAPER)
    # within 10% of the final 0.48 (0.528): on the 0.84 -> 0.5 ramp at 10^3.42
    assert facts["log10_t_floor"] == pytest.approx(3.42, abs=0.06)
    assert np.isnan(C.first_log10_step_below(curve, 0.1))
    level, lo, hi = C.plateau(curve, 0.1)
    assert level == pytest.approx(0.85, abs=0.01)
    assert lo == pytest.approx(1.0, abs=0.1) and hi == pytest.approx(2.5, abs=0.1)
    # A curve that keeps falling has no plateau.
    assert np.isnan(C.plateau(C.mean_curve(_metrics(lambda lt: 1.4 - 0.25 * lt)), 0.1)[0])


def test_dynamics_facts_and_score() -> None:
    arch = {d: _metrics(_plateau_curve, grad=g) for d, g in ((1, 0.02), (2, 0.07), (3, 0.12))}
    facts = C.dynamics_facts(arch, arch, **PAPER)
    assert facts["grad_rms_2"] == pytest.approx(0.07)
    assert facts["batch_grad_rms_1"] == pytest.approx(0.08)
    assert facts["grad_ratio_3_1"] == pytest.approx(6.0)
    assert facts["plateau"] == pytest.approx(0.85, abs=0.01)
    assert facts["final_train_loss"] == pytest.approx(0.48, abs=0.01)
    total, dev = C.score({**facts, "bayes_ceiling": 0.8, "entropy_floor": 0.5, "crossover": 3.6})
    assert dev["grad_rms_3"] == pytest.approx(0.0, abs=1e-9)
    assert dev["bayes_ceiling"] == pytest.approx(0.0) and np.isnan(C.score({})[0])
    # Loss at 10³ is 0.67 here: (0.67 - 0.5) / 0.05 ≈ 3.4 tolerances; the score sees it.
    assert dev["loss_at_1e3"] == pytest.approx((_plateau_curve(3.0) - 0.5) / 0.05, abs=0.3)
    z = np.array([v for v in dev.values() if np.isfinite(v)])
    assert total == pytest.approx(np.sqrt(np.mean(z**2)))
    # Twice the paper's gradient is log10(2)/log10(1.5) = 1.71 tolerances off.
    assert C.FACTS["grad_rms_1"].deviation(0.04) == pytest.approx(np.log10(2) / np.log10(1.5))


def test_cli_scores_metrics_tables_and_limits(tmp_path) -> None:
    from glassynets import cli, storage

    paths = []
    for depth, g in ((1, 0.02), (2, 0.07), (3, 0.12)):
        frame = _metrics(_plateau_curve, grad=g)
        frame["test_loss"] = frame["train_loss"]
        frame["batch_loss"] = frame["train_loss"]
        paths.append(str(tmp_path / f"m{depth}.parquet"))
        storage.write(paths[-1], "metrics", {c: frame[c].to_numpy() for c in frame})
    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"accuracy_ceiling": 0.79, "entropy_floor_nats": 0.53}))
    out = tmp_path / "calibration.json"
    args = ["ljat19-calibrate", "--settings", json.dumps(PAPER), "--in", f"limits={limits}"]
    args += [f"--in=arch={p}" for p in paths] + ["--out", f"calibration={out}"]
    assert cli.main(args) == 0
    result = json.loads(out.read_text())
    assert result["measured"]["grad_rms_2"] == pytest.approx(0.07)
    assert result["deviations"]["bayes_ceiling"] == pytest.approx(-0.5)
    assert result["deviations"]["entropy_floor"] == pytest.approx(1.0)
    assert result["score"] == pytest.approx(C.score(result["measured"])[0])


def test_facts_are_the_claims_calibrated_with_their_tolerances() -> None:
    # one tolerance per claim: the scorecard's headline and the calibration read the same one
    assert C.FACTS["final_train_loss"] is claims.get("final_train_loss")
    assert C.FACTS["crossover"].tolerance == claims.get("crossover").tolerance == 0.3
    assert [C.FACTS[f"grad_rms_{d}"].value for d in (1, 2, 3)] == list(claims.get("grad_rms").value)
    assert list(C.FACTS)[:3] == ["bayes_ceiling", "entropy_floor", "final_train_loss"]


def test_the_settings_reach_the_measured_facts() -> None:
    arch = {1: _metrics(_plateau_curve, grad=0.02)}
    late = C.dynamics_facts(arch, None, loss_within=0.1, grad_rms_after=2e5)
    assert np.isnan(late["grad_rms_1"])  # the curves stop at 10⁵
    wide = C.dynamics_facts(arch, None, loss_within=0.5, grad_rms_after=1e4)
    narrow = C.dynamics_facts(arch, None, **PAPER)
    assert wide["log10_t_floor"] < narrow["log10_t_floor"]
