"""Calibration of the regenerated LJAT19 data against every fact the subaging paper states.

The paper gives the data set's accuracy ceiling and loss floor, and facts about the training
dynamics of its networks on it (loss at t = 10³, an intermediate loss plateau, gradient noise,
the crossover of t*(t_w)). Each fact is compared on its own scale (``FACTS``: the claims of
:mod:`glassynets.claims` marked ``calibrated``, with the paper's value and a tolerance read off
how precisely the paper states it, the same the scorecard uses); the calibration score is the
root mean square of the deviations in tolerance units, so 1 means "on average one tolerance off".

Gradient convention: ``grad_norm`` is the L2 norm, over all parameters, of the full-batch
gradient of (mean cross-entropy + λ‖θ‖²) on the training set (`glassynets.training`); the
comparison uses its RMS over the logged steps t ≥ scorecard.grad_rms_after (the paper: 10⁴) and
over runs, in log ratio to the paper.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import claims
from .jobs import Job


def _facts() -> dict[str, claims.Claim]:
    """The claims of glassynets.claims marked ``calibrated``, by the key of their measured value;
    a claim by depth (the gradient-norm RMS) gives one fact per depth, <name>_<depth>."""
    out = {}
    for claim in claims.CLAIMS:
        if not claim.calibrated:
            continue
        if not isinstance(claim.value, tuple):
            out[claim.name] = claim
            continue
        for depth, value in enumerate(claim.value, start=1):
            name = f"{claim.name}_{depth}"
            out[name] = dataclasses.replace(claim, name=name, value=value)
    return out


#: The paper's facts (value and tolerance: the claims' own). Keys of measured values; "arch"
#: facts are means over the ljat_arch networks unless they name a depth.
FACTS: dict[str, claims.Claim] = _facts()


def mean_curve(metrics: pd.DataFrame, column: str = "train_loss") -> pd.Series:
    """Ensemble-mean of a metric column by step (index: step, sorted)."""
    return metrics.groupby("step")[column].mean().sort_index()


def value_at(curve: pd.Series, step: float) -> float:
    """A curve's value at a step, interpolated linearly in log10(step) (steps ≥ 1)."""
    s = curve[curve.index >= 1]
    return float(np.interp(np.log10(step), np.log10(s.index.to_numpy(float)), s.to_numpy()))


def first_log10_step_below(curve: pd.Series, level: float) -> float:
    """log10 of the first step at which the curve is ≤ level; NaN if never."""
    below = curve.index[(curve <= level).to_numpy()]
    below = below[below >= 1]
    return float(np.log10(below[0])) if len(below) else float("nan")


def plateau(
    curve: pd.Series, within: float, flat: float = 0.15, min_decades: float = 0.5
) -> tuple[float, float, float]:
    """The longest intermediate plateau of a log-time loss curve: (level, first, last log10 step).

    A plateau is a stretch, ending before the curve is within ``within`` (a fraction, the
    config's scorecard.loss_within) of its final value, over which
    the loss changes by less than ``flat`` per decade; it must last ``min_decades``. The level is
    the mean loss over the stretch. NaNs when there is none.
    """
    s = curve[curve.index >= 1]
    lt, y = np.log10(s.index.to_numpy(float)), s.to_numpy()
    end = np.flatnonzero(y <= y[-1] * (1 + within))
    stop = int(end[0]) if len(end) else len(y)
    slope = np.abs(np.diff(y[: stop + 1])) / np.maximum(np.diff(lt[: stop + 1]), 1e-12)
    best, i = (float("nan"),) * 3, 0
    while i < len(slope):
        j = i
        while j < len(slope) and slope[j] < flat:
            j += 1
        if (
            j > i
            and lt[j] - lt[i] >= min_decades
            and (not np.isfinite(best[0]) or lt[j] - lt[i] > best[2] - best[1])
        ):
            best = (float(y[i : j + 1].mean()), float(lt[i]), float(lt[j]))
        i = j + 1
    return best


def grad_rms(metrics: pd.DataFrame, after: float, column: str = "grad_norm") -> float:
    """RMS of a gradient-norm column over all runs and the logged steps ≥ after."""
    late = metrics.loc[metrics["step"] >= after, column].to_numpy()
    return float(np.sqrt(np.mean(late**2))) if late.size else float("nan")


def dynamics_facts(
    arch: dict[int, pd.DataFrame],
    chain: dict[int, pd.DataFrame] | None,
    loss_within: float,
    grad_rms_after: float,
) -> dict[str, float]:
    """Measured facts of the networks' training, from metrics tables by depth (1, 2, 3 layers).

    ``arch``: the ljat_arch networks (h10, h5-5, h4-4-4); ``chain``: ljat_chain (h1, h1-1,
    h1-1-1). The loss floor is reached within ``loss_within`` (fraction) of the final loss; the
    gradient-norm RMS is over steps >= ``grad_rms_after``. Plateaus are averaged over the deeper
    nets (2, 3 layers) that have one. Per-depth values are also returned (keys suffixed with the
    depth) so a table can show them.
    """
    out: dict[str, float] = {}
    for depth, m in sorted(arch.items()):
        out.update(_arch_facts(depth, m, loss_within, grad_rms_after))
    for key in ("final_train_loss", "final_train_acc", "loss_at_1e3", "log10_t_floor"):
        out[key] = float(np.mean([out[f"{key}_{d}"] for d in arch]))
    out["plateau"] = _mean_finite([out[f"plateau_{d}"] for d in arch if d >= 2])
    if 1 in arch and 3 in arch:
        out["grad_ratio_3_1"] = out["grad_rms_3"] / out["grad_rms_1"]
    if chain:
        for depth, m in sorted(chain.items()):
            level, lo, hi = plateau(mean_curve(m), loss_within)
            out[f"chain_plateau_{depth}"] = level
            out[f"chain_plateau_from_{depth}"], out[f"chain_plateau_to_{depth}"] = lo, hi
            out[f"chain_final_loss_{depth}"] = float(mean_curve(m).iloc[-1])
        out["chain_plateau"] = _mean_finite([out[f"chain_plateau_{d}"] for d in chain if d >= 2])
    return out


def _arch_facts(
    depth: int, m: pd.DataFrame, loss_within: float, grad_rms_after: float
) -> dict[str, float]:
    """The facts of one ljat_arch network (keys suffixed with its depth)."""
    loss = mean_curve(m)
    paper_loss = claims.get("final_train_loss").value
    at = 10 ** claims.get("log10_t_floor").value  # "L ≈ 0.5 reached at t ≈ 10³"
    level, lo, hi = plateau(loss, loss_within)
    return {
        f"final_train_loss_{depth}": float(loss.iloc[-1]),
        f"final_train_acc_{depth}": float(mean_curve(m, "train_acc").iloc[-1]),
        f"final_test_acc_{depth}": float(mean_curve(m, "test_acc").iloc[-1]),
        f"loss_at_1e3_{depth}": value_at(loss, at),
        f"log10_t_loss_0.5_{depth}": first_log10_step_below(loss, paper_loss),
        f"log10_t_floor_{depth}": first_log10_step_below(loss, (1 + loss_within) * loss.iloc[-1]),
        f"plateau_{depth}": level,
        f"plateau_from_{depth}": lo,
        f"plateau_to_{depth}": hi,
        f"grad_rms_{depth}": grad_rms(m, grad_rms_after),
        f"batch_grad_rms_{depth}": grad_rms(m, grad_rms_after, column="batch_grad_norm"),
    }


def _mean_finite(values: list[float]) -> float:
    """Mean of the finite values; NaN when there is none (e.g. no net had a plateau)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def score(measured: dict[str, float]) -> tuple[float, dict[str, float]]:
    """(RMS deviation over the measured facts of ``FACTS``, deviation of each in tolerance units).

    Facts not measured (absent or NaN) are left out of the RMS; an absent plateau counts as
    NaN, so compare candidates on the same set of facts.
    """
    dev = {k: f.deviation(measured.get(k, float("nan"))) for k, f in FACTS.items()}
    z = np.array([v for v in dev.values() if np.isfinite(v)])
    return (float(np.sqrt(np.mean(z**2))) if z.size else float("nan")), dev


def measure(
    arch: list[pd.DataFrame],
    chain: list[pd.DataFrame],
    limits: dict | None,
    fits: list[pd.Series],
    loss_within: float,
    grad_rms_after: float,
) -> dict[str, float]:
    """Every measured fact: the networks' (metrics tables of 1, 2, 3 layers, dynamics_facts),
    the data's limits (the ljat19-limits JSON) and the crossover of t*(t_w) (the mu_summary
    rows of the ljat_arch cells: the start of the asymptotic regime, the scorecard's; the
    break of a two-segment fit, "hinge", shown beside it)."""

    def by_depth(frames: list[pd.DataFrame]) -> dict[int, pd.DataFrame]:
        return dict(enumerate(frames, start=1))

    measured = dynamics_facts(by_depth(arch), by_depth(chain), loss_within, grad_rms_after)
    if limits is not None:
        measured["bayes_ceiling"] = limits["accuracy_ceiling"]
        measured["entropy_floor"] = limits["entropy_floor_nats"]
    if fits:
        for depth, fit in enumerate(fits, start=1):
            measured[f"crossover_{depth}"] = float(fit["crossover_log10_tw"])
            measured[f"hinge_{depth}"] = float(fit["hinge_log10_tw"])
        measured["crossover"] = float(np.nanmean([f["crossover_log10_tw"] for f in fits]))
    return measured


def calibrate(job: Job) -> None:
    """Score regenerated LJAT19 data against the paper's facts (docs/ljat19.md, calibration):
    inputs arch* (metrics tables of the 1-, 2-, 3-layer ljat_arch nets, in that order), chain*
    (of h1, h1-1, h1-1-1), limits? (ljat19-limits JSON), mu_summary* (of the ljat_arch cells);
    output calibration (JSON: score, deviations, measured). Settings: settings.calibration."""
    from . import storage

    path = job.optional_input("limits")
    measured = measure(
        [storage.read_frame(p, "metrics") for p in job.input_list("arch")],
        [storage.read_frame(p, "metrics") for p in job.input_list("chain")],
        json.loads(Path(path).read_text()) if path else None,
        [storage.read_frame(p, "mu_summary").iloc[0] for p in job.input_list("mu_summary")],
        job.settings["loss_within"],
        job.settings["grad_rms_after"],
    )
    total, deviations = score(measured)
    result = {"score": total, "deviations": deviations, "measured": measured}
    job.log(f"LJAT19 calibration score {total:.3g}: {deviations}")
    storage.atomic_write_text(job.output("calibration"), json.dumps(result, indent=2) + "\n")
