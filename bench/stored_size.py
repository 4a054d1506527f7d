"""Stored size of a configuration's training outputs, estimated from the config (and measured where
a run exists).

    python bench/stored_size.py [--config config.yaml [OVERRIDE.yaml ...]] [--results results]

Per training job: snapshots S × E × P float values (float32: 4 bytes), the two-time table (one row
per run and measured (t_w, t) pair: seed, t_w, t, Δ, D and one overlap per ε; ≈ 8 bytes per float
value and a few per key after Parquet's encoding) and the metrics table (M × E rows of 9 columns).
With --results, the files that exist are measured and shown beside the estimate.
Target (issue 13): the whole paper configuration's stored results ≤ 5 GB.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from glassynets import settings, storage, two_time
from glassynets.cells import seed_blocks
from glassynets.config import check_files
from glassynets.images import PIXELS
from glassynets.nets import Architecture
from glassynets.schedule import log_steps


def job_bytes(config: dict, exp: dict, arch: Architecture, n_runs: int) -> dict[str, int]:
    """Estimated bytes of one training job's three files."""
    get = lambda key: exp.get(key, config[key])  # noqa: E731
    value = 8 if config["dtype"] == "float64" else 4
    n_snapshots = len(log_steps(exp["steps"], get("snapshots_per_decade")))
    tws, lags = two_time.grid(exp["steps"], get("waiting_times_per_decade"), get("lags_per_decade"))
    pairs = int((tws[:, None] + lags[None, :] <= exp["steps"]).sum())
    n_metrics = len(log_steps(exp["steps"], get("metrics_per_decade")))
    return {
        "snapshots": n_snapshots * n_runs * (arch.n_params * value + 12),
        "two_time": pairs * n_runs * (8 * (2 + len(get("overlap_eps"))) + 4),
        "metrics": n_metrics * n_runs * ((len(storage.SCHEMAS["metrics"]) - 2) * 8 + 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        nargs="+",
        default=[str(ROOT / "config.yaml")],
        help="config files, later ones overriding earlier ones (as snakemake --configfile)",
    )
    parser.add_argument(
        "--results", help="a results/ folder whose existing run files are measured too"
    )
    args = parser.parse_args()
    config = check_files(args.config, ROOT / "workflow/schemas/config.schema.yaml")
    total, measured_total, estimated_of_measured = 0, 0, 0
    print(
        f"{'experiment':18s} {'snapshots MB':>13s} {'two_time MB':>12s} {'metrics MB':>11s} {'measured MB':>12s}"
    )
    for name, exp in config["experiments"].items():
        sums = {"snapshots": 0, "two_time": 0, "metrics": 0}
        measured = 0
        for n in exp["n_train"]:
            for arch_name in exp["architectures"]:
                data = settings.dataset_settings(config, exp["dataset"])
                n_in = len(data["features"]) if exp["dataset"] == "ljat19" else PIXELS
                arch = Architecture.from_name(arch_name, n_in, data["n_classes"])
                for lo, hi in seed_blocks(exp["seeds"], exp["seeds_per_job"]):
                    est = job_bytes(config, exp, arch, hi - lo + 1)
                    for k in sums:
                        sums[k] += est[k]
                    if args.results:
                        folder = Path(args.results) / f"runs/{name}/N{n}/{arch_name}/seeds{lo}-{hi}"
                        files = [folder / f"{k}.parquet" for k in sums]
                        if all(f.exists() for f in files):
                            measured += sum(f.stat().st_size for f in files)
                            estimated_of_measured += sum(est.values())
        total += sum(sums.values())
        measured_total += measured
        print(
            f"{name:18s} {sums['snapshots'] / 1e6:13.1f} {sums['two_time'] / 1e6:12.1f} {sums['metrics'] / 1e6:11.1f} "
            f"{measured / 1e6 if measured else float('nan'):12.1f}"
        )
    print(f"total estimated: {total / 1e9:.2f} GB (target ≤ 5 GB)")
    if measured_total:
        print(
            f"measured {measured_total / 1e6:.1f} MB where the estimate says {estimated_of_measured / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
