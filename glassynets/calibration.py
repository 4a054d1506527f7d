"""Calibration of the regenerated LJAT19 data against every fact the subaging paper states.

The paper gives the data set's accuracy ceiling and loss floor, and facts about the training
dynamics of its networks on it (loss at t = 10³, an intermediate loss plateau, gradient noise,
the crossover of t*(t_w)). Each fact is compared on its own scale (``FACTS``: the paper's value
and a tolerance read off how precisely the paper states it); the calibration score is the root
mean square of the deviations in tolerance units, so 1 means "on average one tolerance off".

Gradient convention: ``grad_norm`` is the L2 norm, over all parameters, of the full-batch
gradient of (mean cross-entropy + λ‖θ‖²) on the training set (`glassynets.training`); the
comparison uses its RMS over the logged steps t ≥ 10⁴ and over runs, in log ratio to the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fact:
    """One stated fact: the paper's value and the tolerance of the comparison.

    ``log`` facts are compared as log10(value / paper) in units of log10(tolerance); the others
    as (value - paper) / tolerance.
    """

    paper: float
    tolerance: float
    log: bool = False

    def deviation(self, value: float) -> float:
        """Signed deviation of a measured value in tolerance units (NaN when not measured)."""
        if not np.isfinite(value):
            return float("nan")
        if self.log:
            return float(np.log10(value / self.paper) / np.log10(self.tolerance))
        return float((value - self.paper) / self.tolerance)


#: The paper's facts (Herrera Segura et al. 2022). Keys of measured values; "arch" facts are
#: means over the three ljat_arch networks unless they name a depth.
FACTS: dict[str, Fact] = {
    "bayes_ceiling": Fact(0.8, 0.02),
    "entropy_floor": Fact(0.5, 0.03),
    "final_train_loss": Fact(0.5, 0.03),
    "final_train_acc": Fact(0.8, 0.02),
    "loss_at_1e3": Fact(0.5, 0.05),  # "L ≈ 0.5 reached at t ≈ 10³"
    # first step where the mean loss is within 10% of its final value (the floor), in dex; the
    # first step at ≤ 0.5 is reported too but not scored: it is undefined when the floor is 0.503
    "log10_t_floor": Fact(3.0, 0.3),
    "plateau": Fact(0.8, 0.05),  # intermediate loss plateau of the deeper (2-, 3-layer) nets
    "chain_plateau": Fact(0.8, 0.05),  # the same for the deeper chain nets (h1-1, h1-1-1)
    "grad_rms_1": Fact(0.02, 1.5, log=True),  # full-batch gradient-norm RMS after t = 10⁴
    "grad_rms_2": Fact(0.07, 1.5, log=True),
    "grad_rms_3": Fact(0.12, 1.5, log=True),
    "grad_ratio_3_1": Fact(6.0, 1.5, log=True),  # ratios 1 : 3.5 : 6
    "crossover": Fact(3.6, 0.3),  # log10 t_w of the crossover of t*(t_w)
}


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
    curve: pd.Series, flat: float = 0.15, min_decades: float = 0.5
) -> tuple[float, float, float]:
    """The longest intermediate plateau of a log-time loss curve: (level, first, last log10 step).

    A plateau is a stretch, ending before the curve is within 10% of its final value, over which
    the loss changes by less than ``flat`` per decade; it must last ``min_decades``. The level is
    the mean loss over the stretch. NaNs when there is none.
    """
    s = curve[curve.index >= 1]
    lt, y = np.log10(s.index.to_numpy(float)), s.to_numpy()
    end = np.flatnonzero(y <= y[-1] * 1.1)
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


def grad_rms(metrics: pd.DataFrame, after: float = 1e4, column: str = "grad_norm") -> float:
    """RMS of a gradient-norm column over all runs and the logged steps ≥ after."""
    late = metrics.loc[metrics["step"] >= after, column].to_numpy()
    return float(np.sqrt(np.mean(late**2))) if late.size else float("nan")


def dynamics_facts(
    arch: dict[int, pd.DataFrame], chain: dict[int, pd.DataFrame] | None = None
) -> dict[str, float]:
    """Measured facts of the networks' training, from metrics tables by depth (1, 2, 3 layers).

    ``arch``: the ljat_arch networks (h10, h5-5, h4-4-4); ``chain``: ljat_chain (h1, h1-1,
    h1-1-1). Plateaus are averaged over the deeper nets (2, 3 layers) that have one. Per-depth
    values are also returned (keys suffixed with the depth) so a table can show them.
    """
    out: dict[str, float] = {}
    for depth, m in sorted(arch.items()):
        loss = mean_curve(m)
        out[f"final_train_loss_{depth}"] = float(loss.iloc[-1])
        out[f"final_train_acc_{depth}"] = float(mean_curve(m, "train_acc").iloc[-1])
        out[f"final_test_acc_{depth}"] = float(mean_curve(m, "test_acc").iloc[-1])
        out[f"loss_at_1e3_{depth}"] = value_at(loss, 1e3)
        out[f"log10_t_loss_0.5_{depth}"] = first_log10_step_below(loss, 0.5)
        out[f"log10_t_floor_{depth}"] = first_log10_step_below(loss, 1.1 * loss.iloc[-1])
        level, lo, hi = plateau(loss)
        out[f"plateau_{depth}"], out[f"plateau_from_{depth}"], out[f"plateau_to_{depth}"] = (
            level,
            lo,
            hi,
        )
        out[f"grad_rms_{depth}"] = grad_rms(m)
        out[f"batch_grad_rms_{depth}"] = grad_rms(m, column="batch_grad_norm")
    for key in ("final_train_loss", "final_train_acc", "loss_at_1e3", "log10_t_floor"):
        out[key] = float(np.mean([out[f"{key}_{d}"] for d in arch]))
    out["plateau"] = _mean_finite([out[f"plateau_{d}"] for d in arch if d >= 2])
    if 1 in arch and 3 in arch:
        out["grad_ratio_3_1"] = out["grad_rms_3"] / out["grad_rms_1"]
    if chain:
        for depth, m in sorted(chain.items()):
            level, lo, hi = plateau(mean_curve(m))
            out[f"chain_plateau_{depth}"] = level
            out[f"chain_plateau_from_{depth}"], out[f"chain_plateau_to_{depth}"] = lo, hi
            out[f"chain_final_loss_{depth}"] = float(mean_curve(m).iloc[-1])
        out["chain_plateau"] = _mean_finite([out[f"chain_plateau_{d}"] for d in chain if d >= 2])
    return out


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
