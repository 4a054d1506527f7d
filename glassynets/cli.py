"""Command line of the pipeline: one subcommand per workflow step (``glassynets <step> --help``).

Snakemake rules call these; every hyperparameter arrives as an option so that the rule's shell
command (which Snakemake tracks) changes whenever a setting does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _seed_range(text: str) -> tuple[int, ...]:
    first, _, last = text.partition("-")
    return tuple(range(int(first), int(last or first) + 1))


# --- LJAT19 data -------------------------------------------------------------------------------


def cmd_ljat19_dataset(args: argparse.Namespace) -> None:
    """Write an LJAT19 table: regenerated from the physics, or the first n rows of a verified file."""
    from . import data, ljat19, storage

    if args.from_file:
        frame = data.read_ljat19_published(args.from_file)
        if args.n > len(frame):
            raise data.DataError(f"{args.from_file}: holds {len(frame)} samples, {args.n} requested")
        frame = frame.iloc[: args.n] if args.n > 0 else frame
        meta = {"source": "published", "file": str(args.from_file)}
    else:
        start = time.perf_counter()
        frame, failed = _regenerate(args.n, args.seed, args.low, args.high)
        meta = {"source": "regenerated", "seed": args.seed, "failed_skipped": failed,
                **ljat19.generator_params(low=args.low, high=args.high)}
        _log(f"LJAT19: {args.n} samples in {time.perf_counter() - start:.1f} s; "
             f"{failed} starts whose minimisation failed were skipped")
    counts = np.bincount(frame["label"].to_numpy(), minlength=4)
    _log(f"label counts (triangle, chain centred on 1, 2, 3): {counts.tolist()}")
    storage.write(args.out, "ljat19", {c: frame[c].to_numpy() for c in storage.SCHEMAS["ljat19"].names}, {**meta, "n": len(frame)})


def _regenerate(n: int, seed: int, low: float, high: float):
    """The first n samples of the stream whose minimisation succeeded, and the number skipped.

    Skipping keeps the prefix property (the N = 100 set is the start of the N = 1000 set);
    failures are rare (see docs/ljat19.md), and more than 1% stops with an error.
    """
    from . import data, ljat19

    margin = max(16, n // 100)
    frame = ljat19.generate(n + margin, seed, low=low, high=high)
    kept = np.flatnonzero(frame["label"].to_numpy() >= 0)
    if len(kept) < n:
        raise data.DataError(f"{n + margin - len(kept)} of {n + margin} LJAT19 minimisations failed (seed {seed}); "
                             "check ljat19.start_low/start_high")
    return frame.iloc[kept[:n]].reset_index(drop=True), int(kept[n - 1] + 1 - n)


def cmd_ljat19_fetch(args: argparse.Namespace) -> None:
    """Copy or download a published LJAT19 file and keep it only if its sha256 matches."""
    from . import data

    data.fetch_verified(args.out, [args.source], data.sha256_check(args.sha256), what=f"LJAT19 file {args.source}",
                        hint="Check ljat19.published in the config, or download the file by hand and give its path.",
                        retries=1, log=_log)
    _log(f"verified {args.source} -> {args.out}")


def cmd_ljat19_limits(args: argparse.Namespace) -> None:
    """Bayes accuracy ceiling and conditional-entropy floor of the label given the input features."""
    from . import ljat19, storage

    frame = storage.read_frame(args.sample, "ljat19")
    frame = frame[frame["label"] >= 0]
    limits = ljat19.bayes_limits(frame[args.features].to_numpy(), frame["label"].to_numpy())
    limits = {**limits, "features": args.features, "sample": str(args.sample)}
    _log(f"LJAT19 limits from {len(frame)} samples: {limits}")
    storage.atomic_write_text(args.out, json.dumps(limits, indent=2) + "\n")


# --- image data sets (MNIST, Fashion-MNIST) ---------------------------------------------------


def cmd_images_fetch(args: argparse.Namespace) -> None:
    """Copy one official file of an image data set from a local folder, or download it; verified."""
    from . import images

    out = Path(args.out)
    images.fetch(args.dataset, out.name, out.parent, source_dir=args.source_dir, mirrors=args.mirrors, log=_log)


def cmd_images_convert(args: argparse.Namespace) -> None:
    """Check one split's two IDX files (checksums, magic numbers, sizes) and store it as an images table."""
    from . import data, images, storage

    for path in (args.images, args.labels):
        if (problem := images.verify(args.dataset, path)) is not None:
            raise data.DataError(f"{path}: {problem}; delete it and run again to fetch it")
    pixels, labels = images.read_split(args.images, args.labels)
    _log(f"{args.images}: {len(labels)} images, label counts {np.bincount(labels, minlength=10).tolist()}")
    storage.write_images(args.out, labels, pixels,
                         {"dataset": args.dataset, "source": [Path(args.images).name, Path(args.labels).name]})


def cmd_images_subset(args: argparse.Namespace) -> None:
    """Draw a deterministic training subset of N images from a converted split."""
    from . import images, storage

    pixels, labels = storage.read_images(args.split)
    stratified = args.subset == "stratified"
    idx = images.subset_indices(labels, args.n, args.seed, stratified=stratified)
    meta = {**storage.metadata(args.split), "split_file": str(args.split), "n": args.n, "subset": args.subset,
            "subset_seed": args.seed}
    _log(f"{args.n} of {len(labels)} images ({args.subset}, seed {args.seed}); "
         f"label counts {np.bincount(labels[idx], minlength=10).tolist()}")
    storage.write_images(args.out, labels[idx], pixels[idx], meta)


# --- training -----------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> None:
    """Train one block of seeds of one cell and write its snapshots and metrics."""
    import torch

    from . import storage, training, two_time
    from .nets import Architecture
    from .schedule import log_steps

    torch.set_num_threads(args.threads)
    device = training.resolve_device(args.device)
    _log(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) "
         f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}); one thread per job avoids oversubscription; "
         f"device {device}" + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else "")
         + (f" (asked: {args.device})" if args.device != device else ""))
    dtype = getattr(torch, args.dtype)
    x_train, y_train = _dataset_tensors(args.dataset, args.train, args.features, args.preprocess, args.n_train, dtype)
    x_test, y_test = _dataset_tensors(args.dataset, args.test, args.features, args.preprocess, None, dtype)
    arch = Architecture.from_name(args.arch, x_train.shape[1], args.n_out)
    waiting_times, lags = two_time.grid(args.steps, args.waiting_times_per_decade, args.lags_per_decade)
    spec = training.TrainSpec(
        arch=arch, lr=args.lr, batch_size=args.batch_size, weight_decay=args.weight_decay, steps=args.steps,
        seeds=_seed_range(args.seeds), snapshot_steps=log_steps(args.steps, args.snapshots_per_decade),
        metric_steps=log_steps(args.steps, args.metrics_per_decade), dtype=args.dtype,
        data_order=args.data_order, activation=args.activation, loss=args.loss, output=args.output,
        momentum=args.momentum, init=args.init, device=device,
        waiting_times=waiting_times, lags=lags, overlap_eps=args.overlap_eps,
    )
    n_train = len(y_train)
    _log(f"cell {args.experiment}/N{n_train}/{arch.name}: P = {arch.n_params}, α = P/N = {arch.n_params / n_train:.4g}, "
         f"seeds {args.seeds}, {args.steps} steps, {len(spec.snapshot_steps)} snapshots, {len(spec.metric_steps)} metric points, "
         f"two-time observables at {len(waiting_times)} t_w × {len(lags)} lags from t = 1")
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    if checkpoint:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)

    def run():
        return training.train_ensemble(spec, x_train, y_train, x_test, y_test, checkpoint=checkpoint,
                                       checkpoint_every_s=args.checkpoint_every_s, log=_log)

    try:
        result = run()
    except training.StaleCheckpointError as err:
        _log(f"{err}: the settings changed since it was written, so training starts afresh")
        checkpoint.unlink()
        result = run()
    meta = {
        "experiment": args.experiment, "dataset": args.dataset, "arch": arch.name, "widths": list(arch.widths),
        "n_params": arch.n_params, "n_train": n_train, "alpha": arch.n_params / n_train,
        "lr": args.lr, "batch_size": args.batch_size, "weight_decay": args.weight_decay,
        "steps": args.steps, "dtype": args.dtype, "data_order": args.data_order, "activation": args.activation,
        "loss": args.loss, "output": args.output, "momentum": args.momentum, "init": args.init,
        "features": args.features if args.dataset == "ljat19" else None,
        "preprocess": args.preprocess if args.dataset != "ljat19" else None, "device": device,
        "train_file": str(args.train), "test_file": str(args.test),
        "waiting_times_per_decade": args.waiting_times_per_decade, "lags_per_decade": args.lags_per_decade,
        "overlap_eps": list(spec.overlap_eps), "seeds": list(spec.seeds),
    }
    meta.update(storage.provenance([args.train, args.test], meta))
    seeds = np.asarray(spec.seeds)
    storage.write_snapshots(args.out_snapshots, result.snapshot_steps, seeds, result.snapshots, meta)
    n_metric = len(result.metric_steps)
    columns = {"seed": np.tile(seeds, n_metric), "step": np.repeat(result.metric_steps, len(seeds))}
    columns.update({name: values.reshape(-1) for name, values in result.metrics.items()})
    storage.write(args.out_metrics, "metrics", columns, meta)
    storage.write_two_time(args.out_two_time, result.two_time.columns(seeds), result.two_time.eps, meta)
    if checkpoint:
        checkpoint.unlink(missing_ok=True)
    _log(f"wrote {args.out_snapshots}, {args.out_metrics} and {args.out_two_time}")


# --- aging analysis -----------------------------------------------------------------------------


def cmd_aging(args: argparse.Namespace) -> None:
    """Merge a cell's seed blocks; write Δ, D, Y and Q_ε from t = 1, t*(t_w), μ with its crossover and
    full uncertainty, the Δ* scan, the late-time behaviour of Δ and the parameter histograms."""
    import pandas as pd

    from . import aging, storage, two_time

    blocks = [storage.read_two_time(p) for p in args.two_time]
    eps = blocks[0][1]
    if any(not np.array_equal(b[1], eps) for b in blocks):
        raise ValueError("seed blocks of one cell have different overlap_eps; retrain them with one config")
    rows = {k: np.concatenate([b[0][k] for b in blocks]) for k in blocks[0][0]}
    if len(np.unique(rows["seed"])) * len(set(zip(rows["t_w"], rows["t"]))) != len(rows["seed"]):
        raise ValueError(f"seed blocks overlap or have different (t_w, t) grids: {', '.join(args.two_time)}")
    values = np.column_stack([rows["delta"], rows["fourth"], rows["overlap"]])
    waiting_times, lags, seeds, dense = two_time.dense(rows["t_w"], rows["t"], rows["seed"], values)
    delta, fourth, overlap = dense[..., 0], dense[..., 1], dense[..., 2:]  # [E, W, L], [E, W, L, K]
    meta = {**storage.metadata(args.two_time[0]), "seeds": seeds.tolist()}
    meta.pop("overlap_eps", None)
    settings = {k: v for k, v in vars(args).items() if k not in ("func", "two_time", "snapshots", "metrics", "out")}
    meta.update(storage.provenance([*args.two_time, *args.snapshots, *args.metrics], settings))
    n_runs, n_params = len(seeds), int(meta["n_params"])
    _log(f"{n_runs} runs, {len(waiting_times)} t_w × {len(lags)} lags from t = 1, P = {n_params}")
    out = Path(args.out)
    msd, overlaps = aging.ensemble_tables(waiting_times, lags, delta, fourth, overlap, eps)
    storage.write(out / "msd.parquet", "msd", msd, meta)
    storage.write(out / "overlap.parquet", "overlap", overlaps, meta)

    # Δ* per parameter; given per network (a threshold on |Δθ|² = P·Δ), it is divided by P, which
    # compares networks of very different widths at the same total distance travelled.
    per = 1 / n_params if args.delta_star_unit == "network" else 1.0
    delta_star, scan_range = args.delta_star * per, [d * per for d in args.delta_star_scan]
    if per != 1:
        _log(f"Δ* = {args.delta_star:g} per network = {delta_star:.4g} per parameter (P = {n_params})")
    curves = aging.t_star(lags, np.concatenate([delta.mean(axis=0)[None], delta]), delta_star)  # row 0: mean
    storage.write(out / "tstar.parquet", "tstar", {
        "seed": np.repeat(np.concatenate([[-1], seeds]), len(waiting_times)), "t_w": np.tile(waiting_times, n_runs + 1),
        "delta_star": np.full(curves.size, delta_star), "t_star": curves.reshape(-1)}, meta)

    rules = aging.FitRules(fit_tw=tuple(args.fit_tw), window=args.fit_window, point_residual_dex=args.point_residual_dex,
                           max_residual_dex=args.max_residual_dex, shift_dex=args.window_shift_dex,
                           min_points=args.min_fit_points, min_decades=args.min_fit_decades, n_boot=args.n_boot)
    summary, fits = aging.estimate_mu(waiting_times, lags, delta, delta_star, rules)
    scan = np.geomspace(scan_range[0], scan_range[1], args.scan_points)
    fits += aging.delta_star_scan(waiting_times, lags, delta, scan, (summary["tw_min"], summary["tw_max"]),
                                  args.n_boot // 4)
    storage.write(out / "mu.parquet", "mu", {c: [f[c] for f in fits] for c in storage.SCHEMAS["mu"].names}, meta)
    storage.write(out / "mu_summary.parquet", "mu_summary", {c: [summary[c]] for c in storage.SCHEMAS["mu_summary"].names},
                  meta)
    _log(f"Δ* = {delta_star:.4g}: asymptotic regime from log10 t_w = {summary['crossover_log10_tw']:.2f} "
         f"[{summary['crossover_low']:.2f}, {summary['crossover_high']:.2f}] (two-segment break at "
         f"{summary['hinge_log10_tw']:.2f}, p = {summary['hinge_p']:.2g}); "
         f"μ = {summary['mu']:.3f} [{summary['total_low']:.3f}, {summary['total_high']:.3f}] over t_w in "
         f"[{summary['tw_min']:.3g}, {summary['tw_max']:.3g}], {summary['n_points']} points, "
         f"residual {summary['residual_dex']:.3f} dex; {summary['status']}")

    late_tw = args.late_tw if args.late_tw is not None else float(meta.get("steps", lags[-1])) / 100
    late = aging.late_msd(msd["t_w"], msd["t"], msd["delta_mean"], late_tw, args.diffusive_tolerance)
    storage.write(out / "msd_late.parquet", "msd_late",
                  {**{k: [v] for k, v in late.items()}, "diffusive": [bool(late["diffusive"])],
                   "tolerance": [args.diffusive_tolerance]}, meta)
    _log(f"late Δ at t_w = {late['t_w']:g}: slope {late['slope']:.3f} over t in [{late['t_min']:g}, {late['t_max']:g}]"
         + (f", diffusive, D = {late['diffusion']:.3g} per step" if late["diffusive"] else ""))

    snapshot_blocks = [storage.read_snapshots(p) for p in args.snapshots]
    steps = snapshot_blocks[0][0]
    if any(not np.array_equal(b[0], steps) for b in snapshot_blocks):
        raise ValueError("seed blocks of one cell have different snapshot steps; retrain them with one config")
    edges, counts = aging.weight_histograms(np.concatenate([b[2] for b in snapshot_blocks], axis=1), args.hist_bins)
    density = counts / (counts.sum(axis=1, keepdims=True) * np.diff(edges))
    storage.write(out / "weight_hist.parquet", "weight_hist", {
        "step": np.repeat(steps, args.hist_bins), "bin_low": np.tile(edges[:-1], len(steps)),
        "bin_high": np.tile(edges[1:], len(steps)), "count": counts.reshape(-1), "density": density.reshape(-1)}, meta)

    if args.metrics:
        metrics = pd.concat([storage.read_frame(p, "metrics") for p in args.metrics], ignore_index=True)
        storage.write(out / "metrics.parquet", "metrics", {c: metrics[c].to_numpy() for c in metrics}, meta)


# --- Hessian spectra ----------------------------------------------------------------------------


def cmd_hessian(args: argparse.Namespace) -> None:
    """Hessian spectra of the full-batch training loss at chosen snapshot steps of a cell's first runs."""
    import torch

    from . import hessian, storage, training
    from .nets import Architecture
    from .schedule import nearest_steps

    torch.set_num_threads(args.threads)
    blocks = [storage.read_snapshots(p) for p in args.snapshots]
    steps, meta = blocks[0][0], storage.metadata(args.snapshots[0])
    settings = {k: v for k, v in vars(args).items() if k not in ("func", "snapshots", "train", "test", "out_eigenvalues",
                                                                 "out_summary", "threads")}
    meta = {**meta, **storage.provenance([*args.snapshots, args.train, args.test], settings)}
    seeds = np.concatenate([b[1] for b in blocks])
    snapshots = np.concatenate([b[2] for b in blocks], axis=1)
    arch = Architecture.from_widths(meta["widths"])
    x, y = _dataset_tensors(args.dataset, args.train, args.features, args.preprocess, meta["n_train"], torch.float64)
    x_test, y_test = _dataset_tensors(args.dataset, args.test, args.features, args.preprocess, None, torch.float64)
    wanted = [steps[-1] if w == "end" else float(w) for w in args.steps]
    chosen = nearest_steps(steps, wanted)
    picks = [(k, s) for k, s in enumerate(seeds) if k < args.seeds]
    _log(f"{meta['experiment']}/N{meta['n_train']}/{arch.name}: P = {arch.n_params}, seeds {[int(s) for _, s in picks]}, "
         f"steps {chosen} (asked {args.steps}); {'exact' if arch.n_params <= args.max_exact_params else 'stochastic'}")
    eig_rows, summary = [], []
    for k, seed in picks:
        for step in chosen:
            start = time.perf_counter()
            theta = torch.from_numpy(snapshots[np.searchsorted(steps, step), k].astype(np.float64))
            spec = hessian.spectrum(theta, x, y, arch, meta["weight_decay"], meta["activation"],
                                    max_exact_params=args.max_exact_params, n_probes=args.n_probes,
                                    lanczos_steps=args.lanczos_steps, seed=int(seed))
            values = spec.eigenvalues if spec.eigenvalues is not None else spec.ritz
            weights = np.full(len(values), 1 / len(values)) if spec.eigenvalues is not None else spec.weights
            eig_rows.append((np.full(len(values), seed), np.full(len(values), step), values, weights))
            losses = [float(training.evaluate(theta[None], xx, yy, arch, meta["activation"])[0][0])
                      for xx, yy in ((x, y), (x_test, y_test))]
            summary.append({"seed": seed, "step": step, "exact": spec.method == "exact", "n_params": arch.n_params,
                            "trace": spec.trace, "trace_stderr": spec.trace_stderr, "frac_negative": spec.frac_negative,
                            "lambda_min": spec.lambda_min, "lambda_max": spec.lambda_max, "n_train": len(y),
                            "train_loss": losses[0], "test_loss": losses[1]})
            _log(f"seed {seed} step {step}: {spec.method}, trace {spec.trace:.4g}, {spec.frac_negative:.1%} negative, "
                 f"λ in [{spec.lambda_min:.3g}, {spec.lambda_max:.3g}] ({time.perf_counter() - start:.1f} s)")
    columns = dict(zip(("seed", "step", "eigenvalue", "weight"), (np.concatenate(c) for c in zip(*eig_rows))))
    storage.write(args.out_eigenvalues, "hessian", columns, meta)
    storage.write(args.out_summary, "hessian_summary", {c: [r[c] for r in summary] for c in summary[0]}, meta)


# --- the p-spin glass ---------------------------------------------------------------------------


def cmd_pspin(args: argparse.Namespace) -> None:
    """Quench the spherical p-spin (p = 3) and integrate its Langevin dynamics; write the spins as a
    snapshots table (θ = s) and the energy per spin.

    Each coupling sample is checkpointed to --checkpoint-dir when done (not a workflow output), so
    a killed job resumes at the next sample; a sample depends only on (seed, sample), so the
    result has the same bits either way."""
    import torch

    from . import pspin, storage, two_time
    from .schedule import log_steps

    torch.set_num_threads(args.threads)
    record = log_steps(args.steps, args.snapshots_per_decade)
    waiting_times, lags = two_time.grid(args.steps, args.waiting_times_per_decade, args.lags_per_decade)
    dtype = getattr(torch, args.dtype)
    meta = {"model": "pspin", "experiment": "pspin", "p": 3, "n_spins": args.n, "n_params": args.n,
            "temperature": args.temperature, "dt": args.dt, "steps": args.steps, "time": args.steps * args.dt,
            "samples": args.samples, "replicas": args.replicas, "seed": args.seed, "dtype": args.dtype,
            "waiting_times_per_decade": args.waiting_times_per_decade, "lags_per_decade": args.lags_per_decade,
            "overlap_eps": args.overlap_eps}
    meta.update(storage.provenance([], meta))
    glassy = "below" if args.temperature < pspin.T_DYNAMICAL else "above"
    _log(f"p-spin N = {args.n}, T = {args.temperature:g} ({glassy} T_d = {pspin.T_DYNAMICAL:.3f}), "
         f"{args.samples} samples × {args.replicas} replicas, dt = {args.dt:g}, {args.steps} steps "
         f"(time {args.steps * args.dt:g}), {len(record)} snapshots; torch {torch.get_num_threads()} thread(s)")
    folder = Path(args.checkpoint_dir) if args.checkpoint_dir else None
    snapshots, energies, pairs = [], [], []
    for k in range(args.samples):
        done = folder / f"sample{k}.npz" if folder else None
        if done is not None and done.exists():
            saved = np.load(done, allow_pickle=False)
            if json.loads(str(saved["meta"])) == meta:
                _log(f"sample {k}: resumed from {done}")
                snapshots.append(saved["snapshots"])
                energies.append(saved["energies"])
                pairs.append([saved[name] for name in ("delta", "fourth", "overlap")])
                continue
            _log(f"sample {k}: {done} belongs to other settings; simulating afresh")
        start = time.perf_counter()
        sim = pspin.simulate(args.n, args.temperature, [k], args.replicas, args.dt, args.steps, record, args.seed,
                             log=_log, dtype=dtype, waiting_times=waiting_times, lags=lags, overlap_eps=args.overlap_eps)
        _log(f"sample {k}: final energy per spin {sim.energies[-1].mean():.4f} ({time.perf_counter() - start:.1f} s)")
        snapshots.append(sim.snapshots)
        energies.append(sim.energies)
        tt = sim.two_time
        pairs.append([tt.delta, tt.fourth, tt.overlap])
        if done is not None:
            storage.replace_atomically(done, lambda tmp: _save_npz(
                tmp, snapshots=sim.snapshots, energies=sim.energies, delta=tt.delta, fourth=tt.fourth,
                overlap=tt.overlap, meta=json.dumps(meta)))
    snaps, e = np.concatenate(snapshots, axis=1), np.concatenate(energies, axis=1)
    runs = np.arange(snaps.shape[1])  # run = sample · replicas + replica
    storage.write_snapshots(args.out_snapshots, record, runs, snaps, meta)
    merged = two_time.Recorder(waiting_times, lags, args.steps, args.overlap_eps, 0, 0).joined(pairs)
    storage.write_two_time(args.out_two_time, merged.columns(runs), merged.eps, meta)
    storage.write(args.out_energy, "energy", {"seed": np.tile(runs, len(record)), "step": np.repeat(record, len(runs)),
                                              "energy": e.reshape(-1)}, meta)
    if folder is not None:
        for k in range(args.samples):
            (folder / f"sample{k}.npz").unlink(missing_ok=True)
    _log(f"wrote {args.out_snapshots} and {args.out_energy}; mean final energy per spin {e[-1].mean():.4f}")


def _save_npz(path: Path, **arrays) -> None:
    """np.savez to exactly ``path`` (given a name, np.savez appends .npz when it is missing)."""
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _dataset_tensors(dataset, path, features, preprocess, limit, dtype):
    from . import data

    if dataset != "ljat19":
        return data.image_tensors(path, dataset, preprocess, limit=limit, dtype=dtype)
    return data.ljat19_tensors(path, features, limit=limit, dtype=dtype)


# --- figures and scorecard ----------------------------------------------------------------------


def cmd_figure(args: argparse.Namespace) -> None:
    """Draw one figure of the paper from cell table folders."""
    from . import cells, plots

    tables = [cells.load(folder) for folder in args.cells + args.glass_cells]
    limits = json.loads(Path(args.limits).read_text()) if args.limits else None
    plots.FIGURES[args.name](tables, args.out, plot_tw=args.plot_tw, glass_plot_tw=args.glass_plot_tw,
                             accuracy_max=args.underparametrized_accuracy, limits=limits)
    _log(f"wrote {args.out} and its .png")


def cmd_scorecard(args: argparse.Namespace) -> None:
    """Write the paper-vs-reproduction scorecard (Markdown and CSV)."""
    from . import cells, scorecard

    limits = json.loads(Path(args.limits).read_text()) if args.limits else None
    groups = {}
    for spec in args.cells or []:
        experiment, _, folder = spec.partition("=")
        groups.setdefault(experiment, []).append(cells.load(folder))
    table = scorecard.build(limits, groups, loss_within=args.loss_within, grad_rms_after=args.grad_rms_after,
                            alpha_max=args.underparametrized[0], accuracy_max=args.underparametrized[1],
                            tti_mu=args.tti_mu, glasses=[cells.load(folder) for folder in args.glass_cells])
    glasses = [cells.load(folder) for folder in args.glass_cells]
    top = scorecard.headline(limits, groups, grad_rms_after=args.grad_rms_after, tti_mu=args.tti_mu,
                             accuracy_max=args.underparametrized[1], glasses=glasses)
    scorecard.write(table, args.out_md, args.out_csv, top)
    _log(f"wrote {args.out_md} and {args.out_csv} ({len(table)} rows)")


def cmd_check_config(args: argparse.Namespace) -> None:
    """Check config files as snakemake --configfile would merge them (later ones override earlier
    ones): YAML syntax with file and line, then the schema; prints the experiments found."""
    from . import config

    schema = Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml"
    checked = config.check_files(args.files, schema)
    _log(f"{', '.join(args.files)}: valid; experiments {', '.join(checked['experiments'])}")


def cmd_describe(args: argparse.Namespace) -> None:
    """Print what a Parquet file of the pipeline holds: its table kind, rows, every column's type,
    unit and meaning, and its provenance."""
    import pyarrow.parquet as pq

    from . import storage

    try:
        schema, rows = pq.read_schema(args.file), pq.ParquetFile(args.file).metadata.num_rows
    except Exception as err:  # pyarrow raises several kinds for a file that is not Parquet
        raise ValueError(f"{args.file}: not a readable Parquet file ({err})") from err
    kinds = [k for k, s in storage.SCHEMAS.items() if schema.names[: len(s.names)] == s.names]
    print(f"{args.file}: {'/'.join(kinds) or 'unknown'} table, {rows} rows")
    for field in schema:
        doc = (field.metadata or {}).get(b"description", b"").decode() or storage.COLUMN_DOCS.get(field.name, "")
        print(f"  {field.name:20s} {str(field.type):28s} {doc}")
    print(json.dumps(storage.metadata(args.file), indent=2, ensure_ascii=False))


# --- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from . import images, ljat19, training

    parser = argparse.ArgumentParser(prog="glassynets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ljat19-dataset", help=cmd_ljat19_dataset.__doc__)
    p.add_argument("--n", type=int, required=True, help="number of samples (0 with --from-file: all of them)")
    p.add_argument("--seed", type=int, default=1, help="seed of the sample stream (regenerated data)")
    p.add_argument("--low", type=float, default=ljat19.DEFAULT_LOW, help="smallest starting distance (σ)")
    p.add_argument("--high", type=float, default=ljat19.DEFAULT_HIGH, help="largest starting distance (σ)")
    p.add_argument("--from-file", help="take the samples from this verified published-format file instead")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_ljat19_dataset)

    p = sub.add_parser("ljat19-fetch", help=cmd_ljat19_fetch.__doc__)
    p.add_argument("--source", required=True, help="path or URL")
    p.add_argument("--sha256", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_ljat19_fetch)

    p = sub.add_parser("ljat19-limits", help=cmd_ljat19_limits.__doc__)
    p.add_argument("--sample", required=True, help="LJAT19 table to estimate from")
    p.add_argument("--features", nargs="+", default=["r12", "r13"])
    p.add_argument("--out", required=True, help="JSON file")
    p.set_defaults(func=cmd_ljat19_limits)

    p = sub.add_parser("images-fetch", help=cmd_images_fetch.__doc__)
    p.add_argument("--dataset", choices=sorted(images.IMAGE_SETS), required=True)
    p.add_argument("--source-dir", help="folder that may already hold the file (nothing is downloaded then)")
    p.add_argument("--mirrors", nargs="*", help="base URLs, tried in turn (default: the data set's official ones)")
    p.add_argument("--out", required=True, help="destination; its name is the official file name")
    p.set_defaults(func=cmd_images_fetch)

    p = sub.add_parser("images-convert", help=cmd_images_convert.__doc__)
    p.add_argument("--dataset", choices=sorted(images.IMAGE_SETS), required=True)
    p.add_argument("--images", required=True, help="*-images-idx3-ubyte.gz")
    p.add_argument("--labels", required=True, help="*-labels-idx1-ubyte.gz")
    p.add_argument("--out", required=True, help="images table (Parquet)")
    p.set_defaults(func=cmd_images_convert)

    p = sub.add_parser("images-subset", help=cmd_images_subset.__doc__)
    p.add_argument("--split", required=True, help="converted split (images table)")
    p.add_argument("--n", type=int, required=True, help="subset size (the whole split: its size)")
    p.add_argument("--subset", choices=["stratified", "random"], default="stratified")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_images_subset)

    p = sub.add_parser("train", help=cmd_train.__doc__)
    p.add_argument("--experiment", required=True)
    p.add_argument("--dataset", choices=["ljat19", *sorted(images.IMAGE_SETS)], default="ljat19")
    p.add_argument("--train", required=True, help="training table")
    p.add_argument("--test", required=True, help="test table")
    p.add_argument("--features", nargs="+", default=["r12", "r13"], help="LJAT19 input distances")
    p.add_argument("--preprocess", choices=images.PREPROCESS, default="unit", help="image pixels: unit ([0, 1]) or standardize")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.add_argument("--n-train", type=int, required=True)
    p.add_argument("--n-out", type=int, default=4, help="number of classes")
    p.add_argument("--arch", required=True, help="hidden layers, e.g. h5-5")
    p.add_argument("--activation", choices=training.ACTIVATIONS, default="tanh", help="hidden units")
    p.add_argument("--loss", choices=training.LOSSES, default="cross_entropy", help="data term (mse: on one-hot 0/1 targets)")
    p.add_argument("--output", choices=training.OUTPUTS, default="linear", help="output units (sigmoid: with --loss mse)")
    p.add_argument("--init", choices=training.INITS, default="glorot", help="glorot (Keras) or fan_in (torch.nn.Linear)")
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum, as torch.optim.SGD (0: plain SGD)")
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--weight-decay", type=float, required=True, help="λ in λ‖θ‖²")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--seeds", required=True, help="inclusive range, e.g. 0-49")
    p.add_argument("--snapshots-per-decade", type=int, default=20)
    p.add_argument("--metrics-per-decade", type=int, default=20)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--data-order", choices=["independent", "shared"], default="independent")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", help="resume file (not a workflow output); deleted after success")
    p.add_argument("--checkpoint-every-s", type=float, default=60.0)
    p.add_argument("--waiting-times-per-decade", type=int, default=10, help="t_w of the two-time observables, from 1")
    p.add_argument("--lags-per-decade", type=int, default=20, help="lags t of the two-time observables, from 1")
    p.add_argument("--overlap-eps", type=float, nargs="*", default=[], help="ε of the overlaps Q_ε (parameter units)")
    p.add_argument("--out-snapshots", required=True)
    p.add_argument("--out-metrics", required=True)
    p.add_argument("--out-two-time", required=True)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("aging", help=cmd_aging.__doc__)
    p.add_argument("--two-time", nargs="+", required=True, help="two_time tables of the seed blocks")
    p.add_argument("--snapshots", nargs="+", required=True, help="snapshots of the seed blocks (for the histograms)")
    p.add_argument("--metrics", nargs="*", default=[], help="metrics files of the seed blocks (merged); none for a glass")
    p.add_argument("--delta-star", type=float, required=True)
    p.add_argument("--fit-tw", type=float, nargs=2, required=True, metavar=("MIN", "MAX"))
    p.add_argument("--delta-star-scan", type=float, nargs=2, required=True, metavar=("MIN", "MAX"))
    p.add_argument("--delta-star-unit", choices=["parameter", "network"], default="parameter",
                   help="Δ* (and its scan) per parameter, or per network: a threshold on |Δθ|² = P·Δ")
    p.add_argument("--fit-window", choices=["asymptotic", "fixed"], default="asymptotic",
                   help="fit μ on the last power-law regime of t*(t_w), or over all of --fit-tw")
    p.add_argument("--point-residual-dex", type=float, default=0.03,
                   help="the asymptotic regime takes in an earlier t_w while its log10 t* is this close to the fit")
    p.add_argument("--window-shift-dex", type=float, default=0.2, help="window variants for the systematic error")
    p.add_argument("--min-fit-points", type=int, default=5, help="fewer defined t* in the window: μ undefined")
    p.add_argument("--min-fit-decades", type=float, default=0.7, help="a narrower window (log10 t_w): μ undefined")
    p.add_argument("--max-residual-dex", type=float, default=0.05,
                   help="a fit window whose RMS residual exceeds this is not one power law: μ undefined")
    p.add_argument("--scan-points", type=int, default=9)
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--late-tw", type=float, help="t_w (steps) of the late-time slope of Δ; default 1%% of the last step")
    p.add_argument("--diffusive-tolerance", type=float, default=0.15, help="Δ is diffusive where |slope − 1| <= this")
    p.add_argument("--hist-bins", type=int, default=40, help="bins of the parameter histograms")
    p.add_argument("--out", required=True, help="cell table folder")
    p.set_defaults(func=cmd_aging)

    p = sub.add_parser("hessian", help=cmd_hessian.__doc__)
    p.add_argument("--snapshots", nargs="+", required=True, help="the cell's snapshot files (seed blocks)")
    p.add_argument("--dataset", choices=["ljat19", *sorted(images.IMAGE_SETS)], default="ljat19")
    p.add_argument("--train", required=True, help="the training table the cell was trained on")
    p.add_argument("--test", required=True, help="the test table")
    p.add_argument("--features", nargs="+", default=["r12", "r13"], help="LJAT19 input distances")
    p.add_argument("--preprocess", choices=images.PREPROCESS, default="unit", help="image pixels: unit or standardize")
    p.add_argument("--steps", nargs="+", required=True, help="steps (nearest snapshot is used) or 'end'")
    p.add_argument("--seeds", type=int, required=True, help="the first this many runs of the cell")
    p.add_argument("--max-exact-params", type=int, default=5000)
    p.add_argument("--n-probes", type=int, default=8)
    p.add_argument("--lanczos-steps", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-eigenvalues", required=True)
    p.add_argument("--out-summary", required=True)
    p.set_defaults(func=cmd_hessian)

    p = sub.add_parser("pspin", help=cmd_pspin.__doc__.splitlines()[0])
    p.add_argument("--n", type=int, required=True, help="number of spins N")
    p.add_argument("--temperature", type=float, required=True)
    p.add_argument("--samples", type=int, default=4, help="samples of the couplings")
    p.add_argument("--replicas", type=int, default=8, help="runs per sample (initial configuration and noise)")
    p.add_argument("--dt", type=float, default=0.05, help="Euler–Maruyama time step")
    p.add_argument("--steps", type=int, required=True, help="integration steps (time = steps · dt)")
    p.add_argument("--snapshots-per-decade", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint-dir", help="where finished samples are kept until the outputs are written")
    p.add_argument("--out-snapshots", required=True)
    p.add_argument("--waiting-times-per-decade", type=int, default=10, help="t_w of the two-time observables (steps)")
    p.add_argument("--lags-per-decade", type=int, default=20, help="lags of the two-time observables (steps), from 1")
    p.add_argument("--overlap-eps", type=float, nargs="*", default=[], help="ε of the overlaps Q_ε")
    p.add_argument("--out-energy", required=True)
    p.add_argument("--out-two-time", required=True)
    p.set_defaults(func=cmd_pspin)

    p = sub.add_parser("figure", help=cmd_figure.__doc__)
    p.add_argument("name")
    p.add_argument("--cells", nargs="*", default=[], help="network cell table folders")
    p.add_argument("--glass-cells", nargs="*", default=[], help="p-spin cell table folders")
    p.add_argument("--plot-tw", type=float, nargs="+", default=[1e3, 1e4], help="t_w (steps) drawn for networks")
    p.add_argument("--glass-plot-tw", type=float, nargs="+", default=[10, 100], help="t_w (time units) drawn for p-spin cells")
    p.add_argument("--underparametrized-accuracy", type=float, default=0.99,
                   help="a cell is underparametrized when its final train accuracy is below this")
    p.add_argument("--limits", help="LJAT19 limits JSON: entropy floor and Bayes ceiling drawn as reference lines")
    p.add_argument("--out", required=True, help="PDF path; a PNG is written beside it")
    p.set_defaults(func=cmd_figure)

    p = sub.add_parser("scorecard", help=cmd_scorecard.__doc__)
    p.add_argument("--limits", help="LJAT19 limits JSON (when LJAT19 cells are scored)")
    p.add_argument("--cells", nargs="*", default=[], help="EXPERIMENT=FOLDER for every network cell")
    p.add_argument("--glass-cells", nargs="*", default=[], help="table folders of p-spin cells")
    p.add_argument("--tti-mu", type=float, default=0.1,
                   help="t* grows with t_w when μ's 95%% interval is above this, not when it is below")
    p.add_argument("--loss-within", type=float, default=0.1)
    p.add_argument("--grad-rms-after", type=float, default=1e4)
    p.add_argument("--underparametrized", type=float, nargs=2, default=[0.3, 0.99], metavar=("ALPHA_MAX", "ACCURACY_MAX"),
                   help="criterion of the underparametrized phase: α <= ALPHA_MAX and train accuracy < ACCURACY_MAX")
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-csv", required=True)
    p.set_defaults(func=cmd_scorecard)

    p = sub.add_parser("check-config", help=cmd_check_config.__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", help="config.yaml, then any --configfile files in the order given")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("describe", help=cmd_describe.__doc__.splitlines()[0])
    p.add_argument("file", help="a Parquet file written by the pipeline")
    p.set_defaults(func=cmd_describe)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, RuntimeError, OSError) as err:  # OSError: disk full, read-only, missing folder (names the path)
        print(f"glassynets {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
