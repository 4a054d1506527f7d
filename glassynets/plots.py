"""The paper's figures, drawn from cell tables (:mod:`glassynets.cells`).

Each figure function takes the cells it shows and an output PDF path, and writes the PDF and a
PNG beside it. Times are SGD steps on log axes (step 0, the initialisation, is left out).
Bands are the 16th–84th percentiles over runs; lines are ensemble means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .cells import CellTables  # noqa: E402
from .schedule import nearest_steps  # noqa: E402
from .scorecard import PAPER_MU_MNIST  # noqa: E402

plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "legend.fontsize": 7, "figure.dpi": 150})
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _save(fig: plt.Figure, out: str | Path) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    for path in (out, out.with_suffix(".png")):
        tmp = path.with_name(f".tmp-{path.name}")
        fig.savefig(tmp, format=path.suffix[1:])
        tmp.replace(path)
    plt.close(fig)


def ensemble(metrics: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean and 16/50/84th percentiles of a metric over seeds, per step (step > 0)."""
    grouped = metrics[metrics["step"] > 0].groupby("step")[column]
    return pd.DataFrame({"mean": grouped.mean(), "lo": grouped.quantile(0.16), "hi": grouped.quantile(0.84)})


def _metric_panel(ax: plt.Axes, cells: list[CellTables], column: str, ylabel: str, test_column: str | None = None,
                  logy: bool = False, names: tuple[str, str] = ("train", "test")) -> None:
    for color, cell in zip(COLORS, cells):
        curve = ensemble(cell.metrics, column)
        ax.plot(curve.index, curve["mean"], color=color, label=f"{cell.label} {names[0]}" if test_column else cell.label)
        ax.fill_between(curve.index, curve["lo"], curve["hi"], color=color, alpha=0.2, lw=0)
        if test_column:
            test = ensemble(cell.metrics, test_column)
            ax.plot(test.index, test["mean"], color=color, ls="--", label=f"{cell.label} {names[1]}")
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(ylabel)
    ax.legend()


def _msd_panel(ax: plt.Axes, cell: CellTables, plot_tw: list[float]) -> None:
    msd = cell.msd
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(plot_tw)))
    for color, tw in zip(colors, nearest_steps(msd["t_w"].unique(), plot_tw)):
        rows = msd[msd["t_w"] == tw]
        ax.plot(rows["t"], rows["delta_mean"], color=color, label=f"$t_w$ = {tw:g}")
    d_star = float(cell.tstar["delta_star"].iloc[0])
    ax.axhline(d_star, color="grey", ls=":", lw=1, label=f"Δ* = {d_star:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("t (steps after $t_w$)")
    ax.set_ylabel(r"$\Delta(t_w, t_w + t)$")
    ax.set_title(cell.label)
    ax.legend()


def _tstar_axes(ax: plt.Axes, cells: list[CellTables]) -> None:
    d_star = float(cells[0].tstar["delta_star"].iloc[0])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("$t_w$ (steps)")
    ax.set_ylabel(f"t* (steps), Δ* = {d_star:g}")
    ax.legend()


def _tstar_panel(ax: plt.Axes, cells: list[CellTables]) -> None:
    for color, cell in zip(COLORS, cells):
        curve = cell.tstar_curve.dropna()
        ax.plot(curve["t_w"], curve["t_star"], "o", ms=2.5, color=color)
        fit = cell.fit
        if np.isfinite(fit["mu"]):
            inside = curve[(curve["t_w"] >= fit["tw_min"]) & (curve["t_w"] <= fit["tw_max"])]["t_w"]
            if len(inside):
                tw = np.geomspace(inside.min(), inside.max(), 50)
                ax.plot(tw, 10 ** fit["intercept"] * tw ** fit["mu"], color=color, lw=1,
                        label=f"{cell.label}: μ = {fit['mu']:.2f} [{fit['ci_low']:.2f}, {fit['ci_high']:.2f}]")
    _tstar_axes(ax, cells)


def fig1(cells: list[CellTables], out: str | Path, **_) -> None:
    """Loss and accuracy vs step, one curve per architecture: the paper's Fig 1 (LJAT19) and Fig 4 (MNIST)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(7.5, 3.2))
    _metric_panel(a, cells, "train_loss", "cross-entropy loss (nats)", "test_loss")
    _metric_panel(b, cells, "train_acc", "accuracy", "test_acc")
    a.set_title("(a) loss")
    b.set_title("(b) accuracy")
    _save(fig, out)


def fig2(cells: list[CellTables], out: str | Path, plot_tw: list[float], **_) -> None:
    """(a–c) Δ(t_w, t_w + t) vs t per architecture; (d) t*(t_w) with power-law fits: Fig 2 (LJAT19), Fig 5 (MNIST)."""
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 6.2))
    for ax, cell, letter in zip(axes.flat, cells, "abc"):
        _msd_panel(ax, cell, plot_tw)
        ax.set_title(f"({letter}) {cell.label}")
    _tstar_panel(axes.flat[3], cells)
    axes.flat[3].set_title("(d) t*($t_w$), ensemble mean")
    _save(fig, out)


def fig3(cells: list[CellTables], out: str | Path, plot_tw: list[float], **_) -> None:
    """The chain of one unit per layer: loss, accuracy, Δ per depth and t*(t_w): Fig 3."""
    fig, axes = plt.subplots(2, 3, figsize=(10, 6.2))
    _metric_panel(axes[0, 0], cells, "train_loss", "cross-entropy loss (nats)", "test_loss")
    _metric_panel(axes[0, 1], cells, "train_acc", "accuracy", "test_acc")
    axes[0, 0].set_title("(a) loss")
    axes[0, 1].set_title("(b) accuracy")
    for ax, cell, letter in zip([axes[0, 2], axes[1, 0], axes[1, 1]], cells, "cde"):
        _msd_panel(ax, cell, plot_tw)
        ax.set_title(f"({letter}) {cell.label}")
    _tstar_panel(axes[1, 2], cells)
    axes[1, 2].set_title("(f) t*($t_w$), ensemble mean")
    _save(fig, out)


def figA3(cells: list[CellTables], out: str | Path, **_) -> None:
    """Gradient norm vs step: full-batch (solid) and minibatch (dashed): Fig A.3."""
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    _metric_panel(ax, cells, "grad_norm", "gradient norm ‖∇L‖", "batch_grad_norm", logy=True,
                  names=("full batch", "minibatch"))
    _save(fig, out)


def fig6(cells: list[CellTables], out: str | Path, **_) -> None:
    """The α sweep: (a) ensemble-mean t*(t_w) per α; (b) μ(α) with 95% bootstrap intervals, their
    mean (dashed) and the paper's MNIST band μ = 0.709 ± 0.017 (grey): the paper's Fig 6."""
    cells = sorted(cells, key=lambda c: c.alpha)
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.5, 3.6))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(cells)))
    for color, cell in zip(colors, cells):
        curve = cell.tstar_curve.dropna()
        a.plot(curve["t_w"], curve["t_star"], "o-", ms=2.5, lw=0.8, color=color,
               label=f"α = {cell.alpha:.3g} ({cell.meta['arch']}, N = {cell.meta['n_train']})")
    _tstar_axes(a, cells)
    a.set_title("(a) t*($t_w$), ensemble mean")
    fits = pd.DataFrame([{"alpha": c.alpha, **c.fit[["mu", "ci_low", "ci_high"]].to_dict()} for c in cells])
    ok = fits[np.isfinite(fits["mu"])]
    lo, hi = (ok["mu"] - ok["ci_low"]).clip(lower=0), (ok["ci_high"] - ok["mu"]).clip(lower=0)
    b.errorbar(ok["alpha"], ok["mu"], yerr=[lo.fillna(0), hi.fillna(0)], fmt="o", color=COLORS[0], capsize=3,
               label="μ, 95% bootstrap interval")
    if len(ok):
        b.axhline(ok["mu"].mean(), color=COLORS[0], ls="--", lw=1, label=f"mean μ = {ok['mu'].mean():.3f}")
    mu_paper, mu_err = PAPER_MU_MNIST
    b.axhspan(mu_paper - mu_err, mu_paper + mu_err, color="grey", alpha=0.25, lw=0, label=f"paper: {mu_paper} ± {mu_err}")
    b.set_xlabel("α = P/N")
    b.set_ylabel("μ")
    b.set_title("(b) μ(α)")
    b.legend()
    _save(fig, out)


def fig7(cells: list[CellTables], out: str | Path, **_) -> None:
    """Boxplots of the Hessian eigenvalues (all recorded runs pooled) at several training steps,
    one row per data set (LJAT19 top, MNIST bottom); boxes: quartiles, whiskers: 1.5 IQR: Fig 7."""
    fig, axes = plt.subplots(len(cells), 1, figsize=(6, 2.8 * len(cells)), squeeze=False)
    for ax, cell in zip(axes[:, 0], cells):
        steps = sorted(cell.hessian["step"].unique())
        values = [cell.hessian.loc[cell.hessian["step"] == s, "eigenvalue"].to_numpy() for s in steps]
        ax.boxplot(values, whis=1.5, flierprops={"markersize": 1.5, "alpha": 0.4})
        ax.set_xticks(range(1, len(steps) + 1), [f"{s:g}" for s in steps])
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("training step")
        ax.set_ylabel("Hessian eigenvalue")
        n_runs = cell.hessian["seed"].nunique()
        ax.set_title(f"{cell.dataset.upper()} {cell.label}, {n_runs} runs")
    _save(fig, out)


def figA1(cells: list[CellTables], out: str | Path, **_) -> None:
    """Eigenvalues sorted from least to greatest at the first and last recorded step (first run),
    one panel per data set, with the count of negative eigenvalues: Fig A.1."""
    fig, axes = plt.subplots(1, len(cells), figsize=(4.2 * len(cells), 3.4), squeeze=False)
    for ax, cell in zip(axes[0], cells):
        h = cell.hessian[cell.hessian["seed"] == cell.hessian["seed"].min()]
        what = "eigenvalues" if cell.hessian_summary["exact"].all() else "Ritz values (stochastic)"
        for color, step in zip(COLORS, (h["step"].min(), h["step"].max())):
            ev = np.sort(h.loc[h["step"] == step, "eigenvalue"].to_numpy())
            ax.plot(np.arange(1, len(ev) + 1), ev, color=color, lw=1,
                    label=f"step {step:g}: {(ev < 0).sum()} of {len(ev)} {what} negative")
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("index (ascending)")
        ax.set_ylabel("Hessian eigenvalue")
        ax.set_title(f"{cell.dataset.upper()} {cell.label}")
        ax.legend()
    _save(fig, out)


def figA2(cells: list[CellTables], out: str | Path, **_) -> None:
    """Hessian trace / N against the generalization error (test − train loss) at the end of
    training, one point per network: markers per N, colours per architecture: Fig A.2."""
    fig, ax = plt.subplots(figsize=(5, 3.8))
    markers = "osD^v<>ph*"
    sizes = sorted({c.meta["n_train"] for c in cells})
    archs = list(dict.fromkeys(c.meta["arch"] for c in cells))
    for cell in cells:
        last = cell.final_hessians()
        ax.scatter(last["gen_error"], last["trace_per_n"], s=12, alpha=0.7,
                   marker=markers[sizes.index(cell.meta["n_train"]) % len(markers)],
                   color=COLORS[archs.index(cell.meta["arch"]) % len(COLORS)])
    for i, n in enumerate(sizes):
        ax.scatter([], [], marker=markers[i % len(markers)], color="grey", label=f"N = {n}")
    for i, a in enumerate(archs):
        ax.scatter([], [], marker="s", color=COLORS[i % len(COLORS)], label=a)
    ax.set_yscale("log")
    ax.set_xlabel("generalization error: test − train loss (nats)")
    ax.set_ylabel("Hessian trace / N")
    ax.legend(ncol=2)
    _save(fig, out)


FIGURES: dict[str, Callable[..., None]] = {
    "fig1": fig1, "fig2": fig2, "fig3": fig3, "figA3": figA3, "fig4": fig1, "fig5": fig2, "fig6": fig6,
    "fig7": fig7, "figA1": figA1, "figA2": figA2,
}
