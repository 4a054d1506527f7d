"""The paper's figures, drawn from cell tables (:mod:`glassynets.cells`).

Each figure function takes the cells it shows and an output PDF path, and writes the PDF and a
PNG beside it. Times are SGD steps on log axes (step 0, the initialisation, is left out).
Bands are the 16th–84th percentiles over runs, drawn from step BAND_FROM on (before it the runs
are still near their random initial values, and the band would fill the panel); lines are
ensemble means.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .cells import CellTables, phases  # noqa: E402
from .claims import MU_MNIST, TITLES  # noqa: E402
from .schedule import nearest_steps  # noqa: E402
from .storage import replace_atomically  # noqa: E402

plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "legend.fontsize": 7, "figure.dpi": 150})
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
BAND_FROM = 5


def _paper_band(ax: plt.Axes) -> None:
    """The paper's MNIST exponent μ = 0.709 ± 0.017 as a grey band."""
    mu, err = MU_MNIST
    ax.axhspan(
        mu - err, mu + err, color="grey", alpha=0.25, lw=0, label=f"paper (MNIST): {mu} ± {err}"
    )


def _data_title(fig: plt.Figure, cells: list[CellTables]) -> None:
    """Name the data set(s) drawn above the panels (the same figure code draws MNIST and Fashion-MNIST)."""
    fig.suptitle(
        " and ".join(sorted({TITLES.get(c.dataset, c.dataset) for c in cells})), fontsize=9
    )


def _save(fig: plt.Figure, out: str | Path) -> None:
    out = Path(out)
    for ax in fig.axes:
        _mark_nothing_to_draw(ax)
    fig.tight_layout()
    for path in (out, out.with_suffix(".png")):
        replace_atomically(path, lambda tmp: fig.savefig(tmp, format=path.suffix[1:]))
    plt.close(fig)


def _mark_nothing_to_draw(ax: plt.Axes) -> None:
    """A log axis with no value > 0 on it, nor on the axes sharing it (Δ = 0 when θ does not move,
    t* undefined at every t_w), cannot be drawn: make it linear and say so in the panel."""
    empty = [
        setter
        for axis, setter, shared, minpos in (
            (ax.xaxis, ax.set_xscale, ax.get_shared_x_axes(), lambda a: a.dataLim.minposx),
            (ax.yaxis, ax.set_yscale, ax.get_shared_y_axes(), lambda a: a.dataLim.minposy),
        )
        if axis.get_scale() == "log"
        and not any(np.isfinite(minpos(a)) for a in shared.get_siblings(ax))
    ]
    for setter in empty:
        setter("linear")
    if empty:
        ax.text(
            0.5,
            0.5,
            "nothing > 0 to draw here\n(all zero or undefined)",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            color="grey",
        )


def tidy(x: float) -> str:
    """A time for a legend: 500, 2·10⁴, 10⁵, 1.6·10³ (two significant digits at most)."""
    if x < 1000:
        return f"{x:.3g}"
    exponent = int(np.floor(np.log10(x) + 1e-9))
    mantissa = float(f"{x / 10**exponent:.2g}")
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    power = f"10$^{{{exponent}}}$"
    return power if mantissa == 1 else f"{mantissa:g}·{power}"


def ensemble(metrics: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean and 16/50/84th percentiles of a metric over seeds, per step (step > 0)."""
    grouped = metrics[metrics["step"] > 0].groupby("step")[column]
    return pd.DataFrame(
        {"mean": grouped.mean(), "lo": grouped.quantile(0.16), "hi": grouped.quantile(0.84)}
    )


def _metric_panel(
    ax: plt.Axes,
    cells: list[CellTables],
    column: str,
    ylabel: str,
    test_column: str | None = None,
    logy: bool = False,
    names: tuple[str, str] = ("train", "test"),
    legend: str = "best",
) -> None:
    for color, cell in zip(COLORS, cells):
        curve = ensemble(cell.metrics, column)
        ax.plot(
            curve.index,
            curve["mean"],
            color=color,
            label=f"{cell.label} {names[0]}" if test_column else cell.label,
        )
        band = curve[curve.index >= BAND_FROM]
        ax.fill_between(band.index, band["lo"], band["hi"], color=color, alpha=0.2, lw=0)
        if test_column:
            test = ensemble(cell.metrics, test_column)
            ax.plot(
                test.index, test["mean"], color=color, ls="--", label=f"{cell.label} {names[1]}"
            )
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(ylabel)
    ax.legend(loc=legend, fontsize=6, framealpha=0.8)


def _time_label(cell: CellTables) -> str:
    """The unit of the cell's time axis (meta's ``time_label`` where a figure rescales it)."""
    return cell.meta.get("time_label", "time units" if cell.is_glass else "steps")


def _two_time_panel(
    ax: plt.Axes,
    cell: CellTables,
    plot_tw: list[float],
    column: str,
    ylabel: str,
    logy: bool = True,
    beside: CellTables | None = None,
) -> None:
    """A two-time quantity of the msd table (delta_mean, fourth_mean, y) against t, from t = 1 step,
    for the waiting time nearest each of plot_tw (in the cell's time unit: steps, or Langevin time
    for a glass); ``beside``'s curves (the CK solution on the same grid) dashed, in the same colours."""
    msd, unit = cell.msd, cell.time_unit
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(plot_tw)))
    for color, tw in zip(colors, nearest_steps(msd["t_w"].unique(), [w / unit for w in plot_tw])):
        rows = msd[msd["t_w"] == tw]
        ax.plot(
            rows["t"] * unit, rows[column], color=color, lw=1.2, label=f"$t_w$ = {tidy(tw * unit)}"
        )
        if beside is not None:
            other = beside.msd[beside.msd["t_w"] == tw]
            ax.plot(other["t"] * unit, other[column], color=color, lw=0.9, ls="--")
    if beside is not None:
        ax.plot([], [], color="grey", lw=0.9, ls="--", label=beside.label)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(f"t ({_time_label(cell)} after $t_w$)")
    ax.set_ylabel(ylabel)
    ax.set_title(cell.label)


def _msd_panel(
    ax: plt.Axes, cell: CellTables, plot_tw: list[float], beside: CellTables | None = None
) -> None:
    _two_time_panel(ax, cell, plot_tw, "delta_mean", r"$\Delta(t_w, t_w + t)$", beside=beside)
    d_star = float(cell.tstar["delta_star"].iloc[0])
    ax.axhline(d_star, color="grey", ls=":", lw=1, label=f"Δ* = {d_star:.3g}")
    ax.legend(loc="upper left", fontsize=6, framealpha=0.8)


def _tstar_axes(ax: plt.Axes, cells: list[CellTables]) -> None:
    stars = sorted({float(c.tstar["delta_star"].iloc[0]) for c in cells})
    units = sorted({_time_label(c) for c in cells})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"$t_w$ ({', '.join(units)})")
    ax.set_ylabel(f"t* ({', '.join(units)})\nΔ* = {', '.join(f'{d:.3g}' for d in stars)}")
    ax.legend(loc="upper left", fontsize=6, framealpha=0.8)


def _mu_label(fit: pd.Series) -> str:
    """μ with its total interval and goodness of fit, or why it is undefined."""
    if not np.isfinite(fit["mu"]):
        return "μ undefined"
    return (
        f"μ = {fit['mu']:.2f} [{fit['total_low']:.2f}, {fit['total_high']:.2f}], "
        f"res. {fit['residual_dex']:.3f} dex"
    )


def _tstar_panel(ax: plt.Axes, cells: list[CellTables]) -> plt.Axes:
    """t*(t_w) of the ensemble-mean Δ per cell; each power-law fit drawn only over the t_w it used,
    the crossover (the last break of t*(t_w)) dotted, with its bootstrap interval as a bar along the
    bottom, and the fit's residuals log10(t*/fit) in a strip below (``ax``'s slot is split in two).
    Returns the t* axes."""
    fig, spec = (
        ax.figure,
        ax.get_subplotspec().subgridspec(2, 1, height_ratios=[3.2, 1], hspace=0.06),
    )
    ax.remove()
    ax = fig.add_subplot(spec[0])
    residual_ax = fig.add_subplot(spec[1], sharex=ax)
    for k, (color, cell) in enumerate(zip(COLORS, cells)):
        curve, unit = cell.tstar_curve.dropna(), cell.time_unit
        fit = cell.fit
        ax.plot(
            curve["t_w"] * unit,
            curve["t_star"] * unit,
            "o",
            ms=2.5,
            color=color,
            mfc="none",
            mew=0.7,
        )
        label = f"{cell.label}: {_mu_label(fit)}"
        if np.isfinite(fit["mu"]):
            used = curve[(curve["t_w"] >= fit["tw_min"]) & (curve["t_w"] <= fit["tw_max"])]
            tw = used["t_w"].to_numpy(float)
            line = 10 ** fit["intercept"] * tw ** fit["mu"]
            ax.plot(tw * unit, line * unit, color=color, lw=1.2, label=label)
            residual_ax.plot(
                tw * unit, np.log10(used["t_star"] / line), "o-", ms=2, lw=0.6, color=color
            )
        else:
            ax.plot([], [], "o", ms=2.5, color=color, mfc="none", label=label)
        if np.isfinite(fit["crossover_log10_tw"]):
            ax.axvline(10 ** fit["crossover_log10_tw"] * unit, color=color, ls=":", lw=0.8)
            if np.isfinite(fit["crossover_low"]):
                ax.plot(
                    np.array([10 ** fit["crossover_low"], 10 ** fit["crossover_high"]]) * unit,
                    [0.03 + 0.03 * k] * 2,
                    color=color,
                    lw=2,
                    solid_capstyle="butt",
                    transform=ax.get_xaxis_transform(),
                )
    residual_ax.axhline(0, color="grey", lw=0.5)
    residual_ax.set_ylabel("residual\n(dex)", fontsize=7)
    fig.align_ylabels([ax, residual_ax])
    residual_ax.tick_params(labelsize=6)
    _tstar_axes(ax, cells)
    residual_ax.set_xlabel(ax.get_xlabel())
    ax.set_xlabel("")
    ax.tick_params(labelbottom=False)
    return ax


def _limit_lines(loss_ax: plt.Axes, acc_ax: plt.Axes, limits: dict | None) -> None:
    """The data's entropy floor (no model's expected cross-entropy is lower) and Bayes accuracy
    ceiling, estimated on a large independent sample (ljat19.bayes_limits)."""
    if not limits:
        return
    loss_ax.axhline(
        limits["entropy_floor_nats"],
        color="k",
        ls="-.",
        lw=0.8,
        label=f"entropy floor {limits['entropy_floor_nats']:.3f}",
    )
    acc_ax.axhline(
        limits["accuracy_ceiling"],
        color="k",
        ls="-.",
        lw=0.8,
        label=f"Bayes ceiling {limits['accuracy_ceiling']:.3f}",
    )
    loss_ax.legend(loc="upper right", fontsize=6, framealpha=0.8)
    acc_ax.legend(loc="lower right", fontsize=6, framealpha=0.8)


def fig1(cells: list[CellTables], out: str | Path, limits: dict | None = None, **_) -> None:
    """Loss and accuracy vs step, one curve per architecture, with the data's entropy floor and
    Bayes ceiling where known: the paper's Fig 1 (LJAT19) and Fig 4 (MNIST)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(7.5, 3.2))
    _metric_panel(
        a, cells, "train_loss", "cross-entropy loss (nats)", "test_loss", legend="upper right"
    )
    _metric_panel(b, cells, "train_acc", "accuracy", "test_acc", legend="lower right")
    _limit_lines(a, b, limits)
    a.set_title("(a) loss")
    b.set_title("(b) accuracy")
    _data_title(fig, cells)
    _save(fig, out)


def fig2(cells: list[CellTables], out: str | Path, plot_tw: list[float], **_) -> None:
    """(a–c) Δ(t_w, t_w + t) vs t per architecture; (d) t*(t_w) with power-law fits: Fig 2 (LJAT19), Fig 5 (MNIST)."""
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 7))
    for ax, cell, letter in zip(axes.flat, cells, "abc"):
        _msd_panel(ax, cell, plot_tw)
        ax.set_title(f"({letter}) {cell.label}")
    _tstar_panel(axes.flat[3], cells).set_title("(d) t*($t_w$), ensemble mean")
    _data_title(fig, cells)
    _save(fig, out)


def fig_runs(cells: list[CellTables], out: str | Path, plot_tw: list[float], **_) -> None:
    """Fig 2 for runs of any model (``glassynets analyse``): (a) Δ(t_w, t_w + t) vs t of the first
    cell (one panel per cell), (b) t*(t_w) with the fit over its window only, the crossover and
    the residuals, (c) μ(Δ*) on that window (the Δ* scan), the configured Δ* marked."""
    n = len(cells)
    fig, axes = plt.subplots(1, n + 2, figsize=(3.7 * (n + 2), 3.6))
    letters = "abcdefgh"
    for ax, cell, letter in zip(axes, cells, letters):
        _msd_panel(ax, cell, plot_tw)
        ax.set_title(f"({letter}) {cell.label}")
    _tstar_panel(axes[n], cells).set_title(f"({letters[n]}) t*($t_w$), ensemble mean")
    ax = axes[n + 1]
    for color, cell in zip(COLORS, cells):
        scan = cell.mu[cell.mu["variant"] == "delta_star_scan"]
        ok = scan[np.isfinite(scan["mu"])]
        ax.errorbar(
            ok["delta_star"],
            ok["mu"],
            # a percentile interval of few resamples may miss the estimate: no bar on that side
            yerr=[
                (ok["mu"] - ok["ci_low"]).clip(lower=0),
                (ok["ci_high"] - ok["mu"]).clip(lower=0),
            ],
            fmt="o-",
            ms=3,
            lw=0.8,
            capsize=2,
            color=color,
            label=cell.label,
        )
        fit = cell.fit
        if np.isfinite(fit["mu"]):
            ax.errorbar(
                [fit["delta_star"]],
                [fit["mu"]],
                yerr=[[fit["mu"] - fit["total_low"]], [fit["total_high"] - fit["mu"]]],
                fmt="s",
                ms=5,
                mfc="none",
                capsize=3,
                color="k",
                label=f"Δ* = {fit['delta_star']:.3g}: total interval",
            )
    ax.axhline(1, color="grey", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("Δ*")
    ax.set_ylabel("μ (fit window of Δ*)")
    ax.set_title(f"({letters[n + 1]}) μ(Δ*), bootstrap 95%")
    if ax.has_data():
        ax.legend(loc="best", fontsize=6, framealpha=0.8)
    title = ", ".join(sorted({str(c.meta["dataset"]) for c in cells if "dataset" in c.meta}))
    if title:
        fig.suptitle(title, fontsize=9)
    _save(fig, out)


def fig3(
    cells: list[CellTables], out: str | Path, plot_tw: list[float], limits: dict | None = None, **_
) -> None:
    """The chain of one unit per layer: loss, accuracy, Δ per depth and t*(t_w): Fig 3."""
    fig, axes = plt.subplots(2, 3, figsize=(10, 7))
    _metric_panel(
        axes[0, 0],
        cells,
        "train_loss",
        "cross-entropy loss (nats)",
        "test_loss",
        legend="upper right",
    )
    _metric_panel(axes[0, 1], cells, "train_acc", "accuracy", "test_acc", legend="lower right")
    _limit_lines(axes[0, 0], axes[0, 1], limits)
    axes[0, 0].set_title("(a) loss")
    axes[0, 1].set_title("(b) accuracy")
    for ax, cell, letter in zip([axes[0, 2], axes[1, 0], axes[1, 1]], cells, "cde"):
        _msd_panel(ax, cell, plot_tw)
        ax.set_title(f"({letter}) {cell.label}")
    _tstar_panel(axes[1, 2], cells).set_title("(f) t*($t_w$), ensemble mean")
    _save(fig, out)


def figA3(cells: list[CellTables], out: str | Path, **_) -> None:
    """Gradient norm vs step: full-batch (solid) and minibatch (dashed): Fig A.3."""
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    _metric_panel(
        ax,
        cells,
        "grad_norm",
        "‖∇(CE + λ‖θ‖²)‖, all weights and biases",
        "batch_grad_norm",
        logy=True,
        names=("full batch", "minibatch"),
    )
    _save(fig, out)


def fig6(cells: list[CellTables], out: str | Path, **_) -> None:
    """The α sweep: (a) ensemble-mean t*(t_w) per α; (b) μ(α) with total intervals (bootstrap and
    window/convention), their mean (dashed) and the paper's MNIST band μ = 0.709 ± 0.017 (grey):
    the paper's Fig 6."""
    cells = sorted(cells, key=lambda c: c.alpha)
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.5, 3.6))
    _tstar_panel(a, cells).set_title("(a) t*($t_w$), ensemble mean")
    fits = pd.DataFrame(
        [{"alpha": c.alpha, **c.fit[["mu", "total_low", "total_high"]].to_dict()} for c in cells]
    )
    ok = fits[np.isfinite(fits["mu"])]
    lo, hi = (ok["mu"] - ok["total_low"]).clip(lower=0), (ok["total_high"] - ok["mu"]).clip(lower=0)
    b.errorbar(
        ok["alpha"],
        ok["mu"],
        yerr=[lo.fillna(0), hi.fillna(0)],
        fmt="o",
        color=COLORS[0],
        capsize=3,
        label="μ, 95% bootstrap ⊕ window/convention",
    )
    undefined = fits.loc[~np.isfinite(fits["mu"]), "alpha"]
    for k, alpha in enumerate(undefined):
        # named in the legend too: a note at the line alone can hide behind the legend
        b.axvline(alpha, color="grey", ls=":", lw=0.8, label="μ undefined" if k == 0 else None)
        b.text(
            alpha,
            0.98,
            " μ undefined",
            transform=b.get_xaxis_transform(),
            rotation=90,
            fontsize=6,
            va="top",
        )
    if len(ok):
        mean = f"mean μ = {ok['mu'].mean():.3f}" + (
            f" ({len(ok)} of {len(fits)} α)" if len(undefined) else ""
        )
        b.axhline(ok["mu"].mean(), color=COLORS[0], ls="--", lw=1, label=mean)
    _paper_band(b)
    b.set_xlabel("α = P/N")
    b.set_ylabel("μ")
    b.set_title("(b) μ(α)")
    b.legend()
    _data_title(fig, cells)
    _save(fig, out)


def fig7(cells: list[CellTables], out: str | Path, **_) -> None:
    """Boxplots of the Hessian eigenvalues (all recorded runs pooled) at several training steps,
    one row per data set (LJAT19 top, MNIST bottom); boxes: quartiles, whiskers: 1.5 IQR: Fig 7."""
    fig, axes = plt.subplots(len(cells), 1, figsize=(6, 2.8 * len(cells)), squeeze=False)
    for ax, cell in zip(axes[:, 0], cells):
        steps = sorted(cell.hessian["step"].unique())
        values = [
            cell.hessian.loc[cell.hessian["step"] == s, "eigenvalue"].to_numpy() for s in steps
        ]
        ax.boxplot(values, whis=1.5, flierprops={"markersize": 1.5, "alpha": 0.4})
        ax.set_xticks(range(1, len(steps) + 1), [f"{s:g}" for s in steps])
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("training step")
        ax.set_ylabel("Hessian eigenvalue")
        n_runs = cell.hessian["seed"].nunique()
        ax.set_title(f"{TITLES.get(cell.dataset, cell.dataset)} {cell.label}, {n_runs} runs")
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
            ax.plot(
                np.arange(1, len(ev) + 1),
                ev,
                color=color,
                lw=1,
                label=f"step {step:g}: {(ev < 0).sum()} of {len(ev)} {what} negative",
            )
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("index (ascending)")
        ax.set_ylabel("Hessian eigenvalue")
        ax.set_title(f"{TITLES.get(cell.dataset, cell.dataset)} {cell.label}")
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
        ax.scatter(
            last["gen_error"],
            last["trace_per_n"],
            s=12,
            alpha=0.7,
            marker=markers[sizes.index(cell.meta["n_train"]) % len(markers)],
            color=COLORS[archs.index(cell.meta["arch"]) % len(COLORS)],
        )
    for i, n in enumerate(sizes):
        ax.scatter([], [], marker=markers[i % len(markers)], color="grey", label=f"N = {n}")
    for i, a in enumerate(archs):
        ax.scatter([], [], marker="s", color=COLORS[i % len(COLORS)], label=a)
    ax.set_yscale("log")
    ax.set_xlabel("generalization error: test − train loss (nats)")
    ax.set_ylabel("Hessian trace / N")
    ax.legend(ncol=2)
    _save(fig, out)


def _by_experiment(cells: list[CellTables]) -> dict[str, list[CellTables]]:
    groups: dict[str, list[CellTables]] = {}
    for cell in cells:
        groups.setdefault(cell.meta["experiment"], []).append(cell)
    return groups


def _phase_title(cell: CellTables) -> str:
    return f"{cell.meta['experiment']}: α = {cell.alpha:.3g}, train acc {cell.final('train_acc')[0]:.3f}"


def representative_cells(
    cells: list[CellTables], accuracy_max: float
) -> list[tuple[str, CellTables]]:
    """Three cells of an α sweep: the smallest α (deep underparametrized), the one nearest in log α
    to the transition α* of cells.phases (the median α when there is none), and the largest α."""
    ordered = sorted(cells, key=lambda c: c.alpha)
    _, _, alpha_star = phases(cells, accuracy_max)
    if np.isfinite(alpha_star):
        near = min(ordered, key=lambda c: abs(np.log(c.alpha / alpha_star)))
    else:
        near = ordered[len(ordered) // 2]
    return [
        ("deep underparametrized", ordered[0]),
        ("near the transition", near),
        ("overparametrized", ordered[-1]),
    ]


def figB1(
    cells: list[CellTables],
    out: str | Path,
    plot_tw: list[float],
    underparametrized_accuracy: float,
    **_,
) -> None:
    """Δ(t_w, t_w + t) across the transition: for each α sweep (one row per experiment), the cell
    deepest in the underparametrized phase (final train accuracy below
    ``underparametrized_accuracy``), the one nearest the transition and the most
    overparametrized (representative_cells)."""
    groups = _by_experiment(cells)
    fig, axes = plt.subplots(len(groups), 3, figsize=(10, 3.2 * len(groups)), squeeze=False)
    for row, group in zip(axes, groups.values()):
        for ax, (what, cell), letter in zip(
            row, representative_cells(group, underparametrized_accuracy), "abc"
        ):
            _msd_panel(ax, cell, plot_tw)
            ax.set_title(f"({letter}) {what}\n{_phase_title(cell)}")
    _save(fig, out)


def figB2(cells: list[CellTables], out: str | Path, underparametrized_accuracy: float, **_) -> None:
    """The jamming picture: μ (filled, 95% bootstrap ⊕ window/convention intervals; left axis) and final train accuracy
    (open, right axis) against α for every cell of each α sweep, the transition α* of each sweep
    (dotted; the train accuracy crossing ``underparametrized_accuracy``, also drawn dashed) and
    the paper's MNIST band μ = 0.709 ± 0.017 (grey)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    acc_ax = ax.twinx()
    _paper_band(ax)
    for (name, group), color, marker in zip(_by_experiment(cells).items(), COLORS, "osD^v"):
        group = sorted(group, key=lambda c: c.alpha)
        alpha = np.array([c.alpha for c in group])
        fits = pd.DataFrame([c.fit[["mu", "total_low", "total_high"]] for c in group])
        ok = np.isfinite(fits["mu"].to_numpy(float))
        lo = (fits["mu"] - fits["total_low"]).clip(lower=0).fillna(0)
        hi = (fits["total_high"] - fits["mu"]).clip(lower=0).fillna(0)
        ax.errorbar(
            alpha[ok],
            fits["mu"][ok],
            yerr=[lo[ok], hi[ok]],
            fmt=marker + "-",
            color=color,
            ms=4,
            capsize=2,
            lw=0.8,
            label=f"{name}: μ",
        )
        if (~ok).any():  # undefined μ: a mark along the bottom, never a number
            ax.plot(
                alpha[~ok],
                np.full((~ok).sum(), 0.03),
                "x",
                color=color,
                ms=5,
                transform=ax.get_xaxis_transform(),
                label=f"{name}: μ undefined",
            )
        acc_ax.plot(
            alpha,
            [c.final("train_acc")[0] for c in group],
            marker,
            ls="--",
            color=color,
            mfc="none",
            ms=5,
            lw=0.8,
            label=f"{name}: train accuracy",
        )
        alpha_star = phases(group, underparametrized_accuracy)[2]
        if np.isfinite(alpha_star):
            ax.axvline(alpha_star, color=color, ls=":", lw=1)
    ax.set_xscale("log")
    low, high = ax.get_ylim()
    ax.set_ylim(
        min(low, -0.1), max(high, 1.3)
    )  # μ = 0 (no aging) and 1 (simple aging) always in view
    ax.set_xlabel("α = P/N")
    ax.set_ylabel("μ (filled; x: undefined)")
    acc_ax.set_ylabel("final train accuracy (open)")
    acc_ax.axhline(underparametrized_accuracy, color="grey", ls="--", lw=0.5)
    handles = ax.get_legend_handles_labels()
    more = acc_ax.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=6, loc="best")
    _save(fig, out)


def _histogram_panel(ax: plt.Axes, cell: CellTables, plot_tw: list[float]) -> None:
    hist = cell.weight_hist
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(plot_tw)))
    for color, step in zip(colors, nearest_steps(hist["step"].unique(), plot_tw)):
        rows = hist[hist["step"] == step]
        ax.stairs(
            rows["density"],
            np.append(rows["bin_low"].to_numpy(), rows["bin_high"].iloc[-1]),
            color=color,
            label=f"step {step:g}",
        )
    ax.set_yscale("log")
    ax.set_xlabel("parameter value")
    ax.set_ylabel("density")
    ax.set_title(cell.label)
    ax.legend()


def figB3(cells: list[CellTables], out: str | Path, plot_tw: list[float], **_) -> None:
    """Baity-Jesi et al.'s observables for the smallest and the largest α of each sweep (rows):
    the fourth moment D(t_w, t_w + t) = (1/P) Σ Δθ⁴, Y = D/Δ² (3 for Gaussian displacements),
    and the histogram of all parameters at the snapshots nearest plot_tw."""
    picks = [
        c
        for group in _by_experiment(cells).values()
        for c in (min(group, key=lambda c: c.alpha), max(group, key=lambda c: c.alpha))
    ]
    fig, axes = plt.subplots(len(picks), 3, figsize=(10, 3 * len(picks)), squeeze=False)
    for row, cell in zip(axes, picks):
        _two_time_panel(row[0], cell, plot_tw, "fourth_mean", r"$D(t_w, t_w + t)$")
        _two_time_panel(row[1], cell, plot_tw, "y", r"$Y = D / \Delta^2$")
        row[1].axhline(3, color="grey", ls=":", lw=1, label="Gaussian: 3")
        _histogram_panel(row[2], cell, plot_tw)
        for ax in row:
            ax.set_title(_phase_title(cell))
        for ax in row[:2]:
            ax.legend()
    _save(fig, out)


def figB4(
    cells: list[CellTables], out: str | Path, plot_tw: list[float], glass_plot_tw: list[float], **_
) -> None:
    """A glass through the same lens: Δ(t_w, t_w + t) of the p-spin below T_d (its plateau
    2(1 − q_EA) dashed) and above T_d, a network's Δ, and t*(t_w) of both with their μ; where the
    CK curves are configured, those mapped to the simulated N dashed beside each glass."""
    from .glass_theory import mu_comparison, partners, split
    from .pspin import plateau_q

    glasses, theories = split(cells)
    networks = [c for c in cells if not c.is_glass]
    panels = [glasses[0], glasses[-1], *networks[:1]]
    fig, axes = plt.subplots(2, 2, figsize=(8.5, 6.6))
    for ax, cell, letter in zip(axes.flat, panels, "abc"):
        ck = partners(cell, theories).mapped if cell.is_glass else None
        _msd_panel(ax, cell, glass_plot_tw if cell.is_glass else plot_tw, ck)
        q = plateau_q(cell.meta["temperature"]) if cell.is_glass else float("nan")
        if np.isfinite(q):
            ax.axhline(2 * (1 - q), color="k", ls="--", lw=0.8, label="2(1 − $q_{EA}$)")
        if cell.is_glass:  # the curves rise to Δ ≈ 2 along the top: the lower right is free
            ax.legend(loc="lower right", fontsize=6, framealpha=0.8)
        ax.set_title(f"({letter}) {cell.label}", fontsize=9)
    ax = _tstar_panel(axes[1, 1], [*glasses, *networks[:1]])
    for color, cell in zip(COLORS, glasses):
        ck = partners(cell, theories).mapped
        if ck is None:
            continue
        curve, unit = ck.tstar_curve.dropna(), cell.time_unit
        compared = mu_comparison(cell, ck)
        ax.plot(
            curve["t_w"] * unit,
            curve["t_star"] * unit,
            ls="--",
            lw=0.9,
            color=color,
            label=f"CK → N = {cell.meta['n_spins']}, T = {cell.meta['temperature']:g}: "
            + (
                f"μ = {compared['mu_ck']:.2f} on the same $t_w$ as the simulation"
                if np.isfinite(compared["mu_ck"])
                else "μ undefined on the same $t_w$"
            ),
        )
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 10**3)  # three decades of headroom above the data hold the legend
    ax.legend(loc="upper left", fontsize=5.5, framealpha=0.8)
    ax.set_title("(d) t*($t_w$), ensemble mean; CK dashed")
    _save(fig, out)
