"""Parquet tables of the pipeline: their schemas (the one place they are written down), atomic
writes and checked reads.

Every table is a flat Parquet file. Parameter snapshots keep θ as a fixed-size list column so
that one row is one (seed, step) and the whole file reads back as an array [rows, P].
Free-form provenance (config values, generator parameters, the sha256 of the input files, a hash
of the settings) travels in the file's key-value metadata under ``glassynets`` as JSON, with the
package version, git commit, library versions and a UTC timestamp added to every file written;
each column's unit and meaning travel as its field metadata (``description``), which pandas,
polars and duckdb read (``glassynets describe FILE`` prints it all).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import functools
import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

F64, I64, I32, I8 = pa.float64(), pa.int64(), pa.int32(), pa.int8()
# Rows decoded at a time when reading a table (see read): bounds the decoder's scratch memory.
READ_BATCH_ROWS = 4096

#: Column schemas by table kind. ``theta``'s list size (P) and float width vary per cell and are
#: checked separately (see :func:`read_snapshots`), as is ``pixels``' list size (see
#: :func:`read_images`).
SCHEMAS: dict[str, pa.Schema] = {
    # LJAT19 samples: starting interatomic distances (σ units), basin label 0..3 (−1 = failed),
    # energy of the minimum reached (ε units).
    "ljat19": pa.schema(
        [("r12", F64), ("r13", F64), ("r23", F64), ("label", I8), ("final_energy", F64)]
    ),
    # Labelled images, one row each: class label (MNIST: digit 0..9), then column 'pixels', a
    # fixed-size list of D uint8 intensities (MNIST: D = 784, 28×28 row-major, 0..255).
    "images": pa.schema([("label", I8)]),
    # θ(step) of network `seed`, before that step's update (step 0 = initialisation).
    "snapshots": pa.schema([("seed", I32), ("step", I64)]),
    # Per network and step: full-batch train/test cross-entropy (nats, without the L2 term) and
    # accuracy; L2 norm of the full-batch gradient of CE + λ‖θ‖²; the minibatch's CE and the
    # norm of its gradient (incl. the L2 term) at that step; the SGD noise temperature and the
    # two sides of Yaida's stationarity relation (docs/noise.md; columns of LATER_COLUMNS).
    "metrics": pa.schema(
        [
            ("seed", I32),
            ("step", I64),
            ("train_loss", F64),
            ("train_acc", F64),
            ("test_loss", F64),
            ("test_acc", F64),
            ("grad_norm", F64),
            ("batch_loss", F64),
            ("batch_grad_norm", F64),
            ("t_sgd", F64),
            ("theta_grad", F64),
            ("theta_batch_grad", F64),
            ("yaida_rhs", F64),
        ]
    ),
    # Online two-time observables of run `seed` (two_time.py), measured at every (t_w, t) of a log grid
    # with t from 1: Δ(t_w, t_w + t) = (1/P) Σ (θ_i(t_w) − θ_i(t_w + t))², D = (1/P) Σ Δθ_i⁴, then column 'overlap', a fixed-size list of Q_ε(t_w, t_w + t)
    # (fraction of parameters that moved less than ε) for the ε listed in the metadata ('overlap_eps').
    "two_time": pa.schema(
        [("seed", I32), ("t_w", I64), ("t", I64), ("delta", F64), ("fourth", F64)]
    ),
    # Ensemble mean and standard error over runs of the overlap Q_ε(t_w, t_w + t), per ε (parameter units).
    "overlap": pa.schema(
        [("t_w", I64), ("t", I64), ("epsilon", F64), ("overlap_mean", F64), ("overlap_sem", F64)]
    ),
    # Ensemble over runs: mean, standard deviation and standard error of Δ; mean of D;
    # Y = mean(D) / mean(Δ)²; number of runs.
    "msd": pa.schema(
        [
            ("t_w", I64),
            ("t", I64),
            ("delta_mean", F64),
            ("delta_std", F64),
            ("delta_sem", F64),
            ("fourth_mean", F64),
            ("y", F64),
            ("n_runs", I32),
        ]
    ),
    # Late-time behaviour of the ensemble-mean Δ at one t_w (aging.late_msd): log–log slope in t over
    # t in [t_min, t_max] (steps), diffusion constant D = Δ/(2t) per parameter (parameter² per step;
    # NaN unless diffusive, i.e. |slope − 1| <= tolerance).
    # The aging scaling collapse over μ's fit window (glassynets.scaling.collapse): one row.
    "collapse": pa.schema(
        [
            ("tw_min", F64),
            ("tw_max", F64),
            ("n_tw", I32),
            ("mu", F64),
            ("spread_mu", F64),
            ("spread_raw", F64),
            ("mu_collapse", F64),
            ("collapse_low", F64),
            ("collapse_high", F64),
            ("spread_min", F64),
            ("agree", F64),
        ]
    ),
    # Δ ≈ D_β·t^β at long lags, one row per t_w with a window of constant local β (scaling.long_lag).
    "long_lag": pa.schema(
        [
            ("t_w", F64),
            ("t_min", F64),
            ("t_max", F64),
            ("n_points", I32),
            ("beta", F64),
            ("beta_low", F64),
            ("beta_high", F64),
            ("d_beta", F64),
            ("d_beta_low", F64),
            ("d_beta_high", F64),
        ]
    ),
    "msd_late": pa.schema(
        [
            ("t_w", F64),
            ("t_min", F64),
            ("t_max", F64),
            ("slope", F64),
            ("diffusion", F64),
            ("diffusive", pa.bool_()),
            ("n_points", I32),
            ("tolerance", F64),
        ]
    ),
    # Histogram of all parameters of all runs at each snapshot step: bin [bin_low, bin_high), count of
    # parameters in it, and density = count / (total count × bin width). One set of bins per cell.
    "weight_hist": pa.schema(
        [("step", I64), ("bin_low", F64), ("bin_high", F64), ("count", I64), ("density", F64)]
    ),
    # Energy per spin H/N of a spherical p-spin run (`seed`) at integration step `step` (pspin.py).
    "energy": pa.schema([("seed", I32), ("step", I64), ("energy", F64)]),
    # t*(t_w) at Δ*: seed −1 is the ensemble-mean curve, others single runs (NaN: never reached).
    "tstar": pa.schema([("seed", I32), ("t_w", I64), ("delta_star", F64), ("t_star", F64)]),
    # Hessian of the full-batch training loss (mean CE + λ‖θ‖²) of run `seed` at `step`: its
    # eigenvalues (nats per parameter², ascending) with weight 1/P each when exact, or the Ritz
    # values and quadrature weights of stochastic Lanczos quadrature (weights sum to 1 per step).
    "hessian": pa.schema([("seed", I32), ("step", I64), ("eigenvalue", F64), ("weight", F64)]),
    # Per (seed, step): exact or lanczos; trace (exact, or Hutchinson ± stderr); fraction of
    # negative eigenvalues; extreme eigenvalues; N and the train/test CE at that step (nats).
    "hessian_summary": pa.schema(
        [
            ("seed", I32),
            ("step", I64),
            ("exact", pa.bool_()),
            ("n_params", I32),
            ("trace", F64),
            ("trace_stderr", F64),
            ("frac_negative", F64),
            ("lambda_min", F64),
            ("lambda_max", F64),
            ("n_train", I32),
            ("train_loss", F64),
            ("test_loss", F64),
        ]
    ),
    # Every fit log10 t* = μ log10 t_w + c made for a cell (aging.estimate_mu): the primary one, its
    # variants (window start earlier/later, window end earlier, per-run t* averaged in log) and the Δ*
    # scan on the primary's window; bootstrap-over-runs percentile interval where n_boot > 0; RMS
    # residual of log10 t* about the line (dex); tw_min/tw_max bound the t_w used (steps).
    "mu": pa.schema(
        [
            ("delta_star", F64),
            ("variant", pa.string()),
            ("mu", F64),
            ("ci_low", F64),
            ("ci_high", F64),
            ("intercept", F64),
            ("tw_min", F64),
            ("tw_max", F64),
            ("n_points", I32),
            ("residual_dex", F64),
            ("n_boot", I32),
            ("primary", pa.bool_()),
        ]
    ),
    # The cell's μ with its full uncertainty (aging.estimate_mu): the bootstrap interval (stat), the
    # largest deviations of the variants (syst, >= 0), their combination in quadrature (total); the
    # crossover (log10 of the fit window's start, with its bootstrap interval); the continuous
    # two-segment fit over fit_tw for reference (break, F-test p against one line, slopes); goodness
    # of fit (RMS and largest residual, dex); the t_w window used (steps); status "ok" or why μ is
    # undefined (then μ and its intervals are NaN).
    "mu_summary": pa.schema(
        [
            ("delta_star", F64),
            ("mu", F64),
            ("stat_low", F64),
            ("stat_high", F64),
            ("syst_low", F64),
            ("syst_high", F64),
            ("total_low", F64),
            ("total_high", F64),
            ("intercept", F64),
            ("tw_min", F64),
            ("tw_max", F64),
            ("n_points", I32),
            ("residual_dex", F64),
            ("max_residual_dex", F64),
            ("n_boot", I32),
            ("window_rule", pa.string()),
            ("crossover_log10_tw", F64),
            ("crossover_low", F64),
            ("crossover_high", F64),
            ("hinge_log10_tw", F64),
            ("hinge_p", F64),
            ("slope_before", F64),
            ("slope_after", F64),
            ("n_tw", I32),
            ("n_tw_defined", I32),
            ("status", pa.string()),
        ]
    ),
}

#: Columns appended to a schema after files of it had been written: a table without them is still
#: of its kind, so that earlier results stay readable (written: NaN where not given; read: NaN where
#: the file has none).
LATER_COLUMNS: dict[str, tuple[str, ...]] = {
    "metrics": ("t_sgd", "theta_grad", "theta_batch_grad", "yaida_rhs"),
}


#: Unit and meaning of every column name, attached to each column as field metadata.
COLUMN_DOCS: dict[str, str] = {
    "spread_mu": "dex: RMS spread of log10 Δ across t_w at fixed t/t_w^μ, at the cell's μ",
    "spread_raw": "dex: the same spread at fixed t (no rescaling, μ = 0)",
    "mu_collapse": "1: the μ minimising the spread",
    "collapse_low": "1: 2.5% bootstrap quantile of mu_collapse over runs",
    "collapse_high": "1: 97.5% bootstrap quantile of mu_collapse over runs",
    "spread_min": "dex: the spread at mu_collapse",
    "agree": "1.0: the intervals of μ and mu_collapse overlap; 0.0: not; NaN: either undefined",
    "beta": "1: exponent of Δ ≈ D_β·t^β at long lags t (local d log Δ / d log t constant there)",
    "beta_low": "1: 2.5% bootstrap quantile of beta over runs",
    "beta_high": "1: 97.5% bootstrap quantile of beta over runs",
    "d_beta": "parameter² per step^β: D_β of Δ ≈ D_β·t^β",
    "d_beta_low": "2.5% bootstrap quantile of d_beta over runs",
    "d_beta_high": "97.5% bootstrap quantile of d_beta over runs",
    "r12": "σ: starting distance of atoms 1 and 2",
    "r13": "σ: starting distance of atoms 1 and 3",
    "r23": "σ: starting distance of atoms 2 and 3",
    "label": "class: LJAT19 minimum (0 triangle, 1-3 chain centred on atom 1-3; -1 failed) or image class",
    "final_energy": "ε: energy of the minimum reached",
    "pixels": "0..255: image intensities, row-major",
    "seed": "run id (network seed, or p-spin sample·replicas + replica; -1: the ensemble mean)",
    "step": "SGD steps (p-spin: integration steps): state before that step's update",
    "theta": "parameters θ of the run at that step, in the order of the file's 'theta_layout'",
    "train_loss": "nats (MSE for loss: mse): full-batch training loss without the L2 term, at θ(step)",
    "train_acc": "fraction: full-batch training accuracy at θ(step)",
    "test_loss": "nats (MSE for loss: mse): test loss at θ(step)",
    "test_acc": "fraction: test accuracy at θ(step)",
    "grad_norm": "L2 norm of the full-batch gradient of loss + λ‖θ‖² over all parameters, at θ(step)",
    "batch_loss": "loss of the minibatch that step uses, at θ(step)",
    "batch_grad_norm": "L2 norm of that minibatch's gradient of loss + λ‖θ‖²",
    "t_sgd": "nats: SGD noise temperature lr·|g_B − g|²/(2P), minibatch minus full-batch gradient",
    "theta_grad": "nats: θ·∇L, full-batch gradient of loss + λ‖θ‖², at θ(step)",
    "theta_batch_grad": "nats: θ·∇L_B, the gradient that step takes (with 2λθ), at θ(step)",
    "yaida_rhs": "nats: (lr/2)·|∇L_B|² + T·P (T: Langevin temperature); ⟨θ·∇L_B⟩ at stationarity",
    "t_w": "steps: waiting time",
    "t": "steps: lag after t_w",
    "delta": "parameter²: Δ(t_w, t_w + t) = (1/P) Σ (θ_i(t_w + t) − θ_i(t_w))²",
    "fourth": "parameter⁴: D(t_w, t_w + t) = (1/P) Σ Δθ_i⁴",
    "overlap": "fraction: Q_ε(t_w, t_w + t), parameters with |Δθ_i| < ε, one per 'overlap_eps'",
    "epsilon": "parameter units: ε of the overlap",
    "overlap_mean": "fraction: mean over runs of Q_ε",
    "overlap_sem": "fraction: standard error of overlap_mean",
    "delta_mean": "parameter²: mean over runs of Δ",
    "delta_std": "parameter²: standard deviation over runs of Δ",
    "delta_sem": "parameter²: standard error of delta_mean",
    "fourth_mean": "parameter⁴: mean over runs of D",
    "y": "1: Y = mean(D) / mean(Δ)² (3 for Gaussian displacements)",
    "n_runs": "runs averaged",
    "t_min": "steps: start of the late-time window",
    "t_max": "steps: end of that window",
    "slope": "1: log-log slope of Δ in t",
    "diffusion": "parameter² per step: Δ/(2t) where diffusive",
    "diffusive": "whether |slope − 1| <= tolerance",
    "n_points": "points in the fit",
    "tolerance": "1: of the slope",
    "bin_low": "parameter units: bin's lower edge",
    "bin_high": "parameter units: bin's upper edge",
    "count": "parameters in the bin (all runs)",
    "density": "1/parameter unit: count / (total · width)",
    "energy": "H/N of the p-spin",
    "delta_star": "parameter²: Δ* defining t*",
    "t_star": "steps: first lag at which Δ reaches Δ* (NaN: undefined)",
    "eigenvalue": "nats per parameter²: Hessian eigenvalue (or Ritz value)",
    "weight": "quadrature weight",
    "exact": "exact spectrum (else stochastic Lanczos)",
    "n_params": "P: parameters of the network",
    "trace": "nats per parameter²: Hessian trace",
    "trace_stderr": "standard error of a Hutchinson trace",
    "frac_negative": "fraction of negative eigenvalues",
    "lambda_min": "smallest eigenvalue",
    "lambda_max": "largest eigenvalue",
    "n_train": "N: training points",
    "variant": "which fit: primary, its window/convention variants, or the Δ* scan",
    "mu": "1: exponent of t* ∝ t_w^μ (NaN: undefined)",
    "ci_low": "1: 95% bootstrap lower bound of μ",
    "ci_high": "1: 95% bootstrap upper bound of μ",
    "intercept": "log10 steps: c in log10 t* = μ log10 t_w + c",
    "tw_min": "steps: first t_w of the fit window",
    "tw_max": "steps: last t_w of the fit window",
    "residual_dex": "dex: RMS residual of log10 t* about the fit",
    "n_boot": "bootstrap replicates",
    "primary": "the cell's μ fit",
    "stat_low": "1: 95% bootstrap lower bound of μ",
    "stat_high": "1: 95% bootstrap upper bound of μ",
    "syst_low": "1: largest deviation of a variant below μ",
    "syst_high": "1: largest deviation of a variant above μ",
    "total_low": "1: μ − stat ⊕ syst",
    "total_high": "1: μ + stat ⊕ syst",
    "max_residual_dex": "dex: largest residual of the fit",
    "window_rule": "how the fit window was chosen",
    "crossover_log10_tw": "log10 steps: the last break of t*(t_w)",
    "crossover_low": "log10 steps: its 95% bootstrap lower bound",
    "crossover_high": "log10 steps: upper bound",
    "hinge_log10_tw": "log10 steps: break of one two-segment fit over fit_tw",
    "hinge_p": "F-test p of that break",
    "slope_before": "1: slope before that break",
    "slope_after": "1: slope after it",
    "n_tw": "waiting times in fit_tw",
    "n_tw_defined": "of which t* is defined",
    "status": "'ok', or why μ is undefined",
}


@functools.lru_cache(maxsize=1)
def _software() -> dict[str, Any]:
    """Package version, git commit (when run from a checkout; '+dirty' with uncommitted changes)
    and library versions, once per process."""
    import torch

    from . import __version__

    root = Path(__file__).resolve().parents[1]
    commit = None
    if (root / ".git").exists():
        try:
            run = lambda *a: subprocess.run(
                ["git", "-C", str(root), *a],
                capture_output=True,
                text=True,  # noqa: E731
                timeout=10,
            ).stdout.strip()
            commit = run("rev-parse", "HEAD") + (
                "+dirty" if run("status", "--porcelain", "--untracked-files=no") else ""
            )
        except (OSError, subprocess.SubprocessError):
            commit = None
    return {
        "glassynets": __version__,
        "git_commit": commit or None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
    }


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``algorithm``: any name hashlib knows, e.g. sha256, md5)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def provenance(
    inputs: list[str | os.PathLike] = (), settings: dict | None = None
) -> dict[str, Any]:
    """What a written file came from: the sha256 of each input file and of the settings (sorted
    JSON). Stored beside the file's other metadata."""
    out: dict[str, Any] = {"inputs": {str(p): file_digest(p) for p in inputs}}
    if settings is not None:
        out["settings_sha256"] = hashlib.sha256(
            json.dumps(settings, sort_keys=True, default=_jsonable).encode()
        ).hexdigest()
    return out


class SchemaError(ValueError):
    """A table on disk does not have the columns and types this code expects."""


class LockedError(RuntimeError):
    """Another process holds the lock of a checkpoint."""


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a checkpoint file or folder) for the block, through the
    file ``<path>.lock`` holding this process's PID; removed at the end. A second process asking
    for it raises :class:`LockedError` naming the holder's PID. The lock dies with its holder
    (flock), so a killed job leaves nothing to clean up."""
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise LockedError(
            f"{path} is in use by another job (PID {holder}), perhaps one left running by a killed "
            f"snakemake: stop it (kill {holder}) or let it finish, then run again"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def replace_atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Create ``path`` (and its folder) by ``write(tmp)`` to a hidden temporary name beside it, then
    rename: readers never see a partial file. If ``write`` raises (e.g. a failed checksum), the
    temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except (
        OSError
    ) as err:  # disk full, read-only, no permission: say which file, whatever raised it
        cause = err.strerror or str(err)
        raise OSError(err.errno, f"cannot write {path}: {cause}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write(
    path: str | os.PathLike, table: pa.Table, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``table`` to ``path`` as Parquet, atomically. ``metadata`` goes into the schema as JSON,
    with the software versions and a UTC timestamp ('written'); each known column gets its unit
    and meaning (COLUMN_DOCS) as field metadata."""
    written = {
        **_software(),
        "utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    fields = [
        f.with_metadata({"description": COLUMN_DOCS[f.name]}) if f.name in COLUMN_DOCS else f
        for f in table.schema
    ]
    schema = pa.schema(
        fields,
        metadata={
            **(table.schema.metadata or {}),
            b"glassynets": json.dumps(
                {**(metadata or {}), "written": written}, default=_jsonable
            ).encode(),
        },
    )
    table = table.cast(schema)
    return replace_atomically(path, lambda tmp: pq.write_table(table, tmp))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text to ``path``, atomically."""
    return replace_atomically(path, lambda tmp: tmp.write_text(text))


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in Parquet metadata")


def write(
    path: str | os.PathLike, kind: str, columns: dict[str, Any], metadata: dict | None = None
) -> Path:
    """Write columns (name -> array) as a table of ``kind``, cast to its schema, atomically."""
    schema = SCHEMAS[kind]
    missing = set(schema.names) - set(columns) - set(LATER_COLUMNS.get(kind, ()))
    if missing:
        raise SchemaError(f"{kind} table is missing columns {sorted(missing)}")
    rows = len(np.asarray(columns[schema.names[0]]))
    arrays = [
        pa.array(
            np.asarray(columns[f.name]) if f.name in columns else np.full(rows, np.nan), f.type
        )
        for f in schema
    ]
    return atomic_write(path, pa.Table.from_arrays(arrays, schema=schema), metadata)


def read(path: str | os.PathLike, kind: str) -> pa.Table:
    """Read a table of ``kind`` and check that its leading columns match the schema exactly."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (expected a '{kind}' table)")
    try:
        # Batch by batch: decoding a whole nested column at once (images' pixel lists) peaks at
        # ~15x the table's size in Arrow's pool (measured: 0.8 GB for 60,000 images, 0.3 GB so).
        parquet = pq.ParquetFile(path)
        table = pa.Table.from_batches(
            parquet.iter_batches(batch_size=READ_BATCH_ROWS), schema=parquet.schema_arrow
        )
    except (pa.ArrowInvalid, OSError) as err:
        raise SchemaError(
            f"{path}: not a readable Parquet file ({err}); rebuild it and what was made from it: "
            f"snakemake --cores all --forcerun {path}"
        ) from err
    expected = SCHEMAS[kind]
    for i, field in enumerate(expected):
        later = field.name in LATER_COLUMNS.get(kind, ())
        if later and field.name not in table.schema.names and i <= table.num_columns:
            table = table.add_column(i, field, pa.array(np.full(len(table), np.nan), field.type))
    got = table.schema
    for i, field in enumerate(expected):
        if i >= len(got) or got.field(i).name != field.name or got.field(i).type != field.type:
            have = ", ".join(f"{f.name}:{f.type}" for f in got)
            want = ", ".join(f"{f.name}:{f.type}" for f in expected)
            raise SchemaError(
                f"{path}: not a '{kind}' table; columns are [{have}], expected [{want}]"
            )
    return table


def release_unused_memory() -> None:
    """Give back to the OS the pages Arrow's allocator (mimalloc) keeps after tables are freed: a
    long job that has read its inputs would otherwise hold them to its end (measured: 0.75 GB in a
    training job on 60,000 images)."""
    pa.default_memory_pool().release_unused()


def read_frame(path: str | os.PathLike, kind: str):
    """:func:`read` as a pandas DataFrame."""
    return read(path, kind).to_pandas()


def metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON provenance stored beside a table (empty if none)."""
    raw = (pq.read_schema(path).metadata or {}).get(b"glassynets")
    return json.loads(raw) if raw else {}


def write_snapshots(
    path: str | os.PathLike,
    steps: np.ndarray,
    seeds: np.ndarray,
    snapshots: np.ndarray,
    metadata: dict,
) -> Path:
    """Store θ for every (step, seed): ``snapshots`` [S, E, P] at ``steps`` [S] for ``seeds`` [E]."""
    n_steps, n_seeds, n_params = snapshots.shape
    float_type = pa.from_numpy_dtype(snapshots.dtype)
    values = pa.array(np.ascontiguousarray(snapshots).reshape(-1), type=float_type)
    theta = pa.FixedSizeListArray.from_arrays(values, n_params)
    layout = (
        "one value per spin"
        if metadata.get("model") == "pspin"
        else "layer by layer, input to output; each "
        "layer's weights W_l [out_l, in_l + 1] row-major with the bias as the last column (nets.flatten)"
    )
    metadata = {**metadata, "theta_layout": layout}
    table = pa.table(
        {
            "seed": pa.array(np.tile(np.asarray(seeds, dtype=np.int32), n_steps), type=I32),
            "step": pa.array(np.repeat(np.asarray(steps, dtype=np.int64), n_seeds), type=I64),
            "theta": theta,
        }
    )
    return atomic_write(path, table, {**metadata, "n_params": n_params})


def read_snapshots(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read θ back as (steps [S], seeds [E], snapshots [S, E, P]); checks shape and completeness."""
    table = read(path, "snapshots")
    n_params = metadata(path).get("n_params")
    theta_type = table.schema.field("theta").type if "theta" in table.schema.names else None
    if not isinstance(theta_type, pa.FixedSizeListType) or theta_type.list_size != n_params:
        raise SchemaError(
            f"{path}: column 'theta' must be a fixed-size list of n_params={n_params} floats"
        )
    seed = table["seed"].to_numpy()
    step = table["step"].to_numpy()
    steps, seeds = np.unique(step), np.unique(seed)
    if len(step) != len(steps) * len(seeds):
        raise SchemaError(
            f"{path}: {len(step)} rows is not one per (step, seed) for {len(steps)} steps × {len(seeds)} seeds"
        )
    values = table["theta"].combine_chunks().flatten().to_numpy()
    theta = values.reshape(len(step), n_params)
    order = np.lexsort((seed, step))  # rows sorted by step, then seed
    return steps, seeds, theta[order].reshape(len(steps), len(seeds), n_params)


def write_training(
    result,
    seeds: np.ndarray,
    snapshots_path: str | os.PathLike,
    metrics_path: str | os.PathLike,
    two_time_path: str | os.PathLike,
    metadata: dict,
) -> None:
    """The three tables of a training job (a training.TrainResult of runs ``seeds``)."""
    write_snapshots(snapshots_path, result.snapshot_steps, seeds, result.snapshots, metadata)
    n_metric = len(result.metric_steps)
    columns = {"seed": np.tile(seeds, n_metric), "step": np.repeat(result.metric_steps, len(seeds))}
    columns.update({name: values.reshape(-1) for name, values in result.metrics.items()})
    write(metrics_path, "metrics", columns, metadata)
    write_two_time(two_time_path, result.two_time.columns(seeds), result.two_time.eps, metadata)


def write_two_time(
    path: str | os.PathLike, columns: dict[str, np.ndarray], eps: np.ndarray, metadata: dict
) -> Path:
    """Store a two_time table: columns seed, t_w, t, delta, fourth [rows] and overlap [rows, K] for
    the K values of ``eps``."""
    overlap = np.asarray(columns["overlap"], dtype=np.float64)
    arrays = [pa.array(np.asarray(columns[f.name]), type=f.type) for f in SCHEMAS["two_time"]]
    names = list(SCHEMAS["two_time"].names)
    if overlap.shape[1]:  # no column without an ε (Arrow has no list of size 0)
        arrays.append(
            pa.FixedSizeListArray.from_arrays(
                pa.array(overlap.reshape(-1), type=F64), overlap.shape[1]
            )
        )
        names.append("overlap")
    table = pa.Table.from_arrays(arrays, names=names)
    return atomic_write(path, table, {**metadata, "overlap_eps": [float(e) for e in eps]})


def read_two_time(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Read a two_time table back as (columns, eps [K]); columns as :func:`write_two_time` takes them."""
    table = read(path, "two_time")
    eps = np.asarray(metadata(path).get("overlap_eps", []), dtype=np.float64)
    kind = table.schema.field("overlap").type if "overlap" in table.schema.names else None
    if len(eps) and (not isinstance(kind, pa.FixedSizeListType) or kind.list_size != len(eps)):
        raise SchemaError(
            f"{path}: column 'overlap' must be a fixed-size list of {len(eps)} floats (one per overlap_eps)"
        )
    columns = {name: table[name].to_numpy() for name in SCHEMAS["two_time"].names}
    columns["overlap"] = (
        table["overlap"].combine_chunks().flatten().to_numpy().reshape(len(table), len(eps))
        if len(eps)
        else np.zeros((len(table), 0))
    )
    return columns, eps


def write_images(
    path: str | os.PathLike, labels: np.ndarray, pixels: np.ndarray, metadata: dict
) -> Path:
    """Store images ``pixels`` uint8 [n, D] with their ``labels`` [n] (integers in −128..127)."""
    pixels, labels = np.asarray(pixels), np.asarray(labels)
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be a uint8 array [n, D], got {pixels.dtype} {pixels.shape}")
    if labels.shape != (len(pixels),):
        raise ValueError(
            f"labels must have shape [{len(pixels)}] like pixels' rows, got {labels.shape}"
        )
    if len(labels) and (labels.min() < -128 or labels.max() > 127):
        raise ValueError(f"labels must fit int8, got values in {labels.min()}..{labels.max()}")
    values = pa.array(np.ascontiguousarray(pixels).reshape(-1), type=pa.uint8())
    table = pa.table(
        {
            "label": pa.array(labels.astype(np.int8), type=I8),
            "pixels": pa.FixedSizeListArray.from_arrays(values, pixels.shape[1]),
        }
    )
    return atomic_write(path, table, metadata)


def read_images(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read images back as (pixels uint8 [n, D], labels int64 [n]).

    ``pixels`` is a read-only view of Arrow's buffer (no copy); copy it before writing to it.
    """
    table = read(path, "images")
    pixels_type = table.schema.field("pixels").type if "pixels" in table.schema.names else None
    if not isinstance(pixels_type, pa.FixedSizeListType) or pixels_type.value_type != pa.uint8():
        raise SchemaError(
            f"{path}: column 'pixels' must be a fixed-size list of uint8, got {pixels_type}"
        )
    column = table["pixels"].combine_chunks()
    if column.null_count or column.flatten().null_count or table["label"].null_count:
        raise SchemaError(f"{path}: 'images' table has missing values; write it again")
    pixels = column.flatten().to_numpy().reshape(len(table), pixels_type.list_size)
    labels = table["label"].to_numpy().astype(np.int64)
    return pixels, labels


def describe(path: str | os.PathLike) -> str:
    """What a Parquet file of the pipeline holds: its table kind, rows, every column's type, unit
    and meaning, and its provenance (``glassynets describe FILE``)."""
    try:
        schema, rows = pq.read_schema(path), pq.ParquetFile(path).metadata.num_rows
    except Exception as err:  # pyarrow raises several kinds for a file that is not Parquet
        raise ValueError(f"{path}: not a readable Parquet file ({err})") from err
    kinds = [k for k, s in SCHEMAS.items() if schema.names[: len(s.names)] == s.names]
    lines = [f"{path}: {'/'.join(kinds) or 'unknown'} table, {rows} rows"]
    for field in schema:
        doc = (field.metadata or {}).get(b"description", b"").decode()
        lines.append(
            f"  {field.name:20s} {str(field.type):28s} {doc or COLUMN_DOCS.get(field.name, '')}"
        )
    lines.append(json.dumps(metadata(path), indent=2, ensure_ascii=False))
    return "\n".join(lines)


def describe_command(args) -> None:
    """``glassynets describe FILE``."""
    print(describe(args.file))
