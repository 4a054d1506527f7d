"""Memory of one training job on 60,000 images, the current code against GIT_REF, side by side.

    python bench/train_memory.py [--ref GIT_REF] [--experiment fashion_alpha] [--arch h11-11-11]
                                 [--steps 3000] [--repeats 2] [--networks E]

It writes a table of N = 60,000 random 28×28 uint8 images in 10 classes (the shape of MNIST's and
Fashion-MNIST's training sets) and a 10,000-image test table, then runs ``glassynets train`` on
them as the workflow's train rule does: the experiment's settings from config.yaml, one block of
E networks (default: its seeds_per_job), STEPS steps (the start-up, data loading and buffers are those of a full
job; a full job's snapshots and two-time grid grow further, and costs.train_mem_mb models them).
The current package and the one at GIT_REF (extracted with git archive, put first on PYTHONPATH)
alternate, REPEATS times each. The RSS of each job is read from /proc every 20 ms: the peak
(VmHWM) and the RSS held while it trains (the median of the second half of the samples).
Prints one row per run, the medians per code and their ratio, and the workflow's request
(costs.train_mem_mb) for the same job at the full number of steps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glassynets import config, storage  # noqa: E402
from glassynets import settings as job_settings  # noqa: E402
from glassynets.costs import Costs  # noqa: E402


def write_image_tables(folder: Path) -> tuple[Path, Path]:
    """Random images, the shapes of the real training (60,000) and test (10,000) tables."""
    rng = np.random.default_rng(0)
    paths = []
    for name, n in (("train", 60_000), ("test", 10_000)):
        pixels = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.int8)
        paths.append(storage.write_images(folder / f"{name}.parquet", labels, pixels, {}))
    return paths[0], paths[1]


def package_at(ref: str) -> Path:
    """A folder holding the glassynets package as of git REF."""
    folder = Path(tempfile.mkdtemp())
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "glassynets"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(code: Path, args: list[str], out: Path) -> dict:
    """Run one training job with ``code`` first on the path; peak and training RSS in MB."""
    command = [
        sys.executable,
        "-c",
        "import sys; from glassynets.cli import main; sys.exit(main())",
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": str(code)}
    start = time.perf_counter()
    with open(out / "job.log", "w") as log:
        job = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=out)
        rss, peak = [], 0
        while job.poll() is None:
            now, high = status_kb(job.pid, "VmRSS"), status_kb(job.pid, "VmHWM")
            if now is not None:
                rss.append(now)
                peak = max(peak, high or 0)
            time.sleep(0.02)
    if job.returncode:
        raise SystemExit(
            f"training job with {code} first on the path failed: see {out / 'job.log'}"
        )
    training = rss[len(rss) // 2 :]
    return {
        "peak_mb": peak * 1024 / 1e6,
        "training_mb": statistics.median(training) * 1024 / 1e6,
        "wall_s": time.perf_counter() - start,
    }


def train_job(code: Path, settings: dict, args, per_job: int, train: Path, test: Path) -> list:
    """The arguments of ``glassynets train`` as the workflow's train rule gives them to ``code``:
    the stage form (the cell inside --settings, --in/--out), or the options of a GIT_REF from
    before it (--n-train, --arch, --seeds, --out-snapshots, ...)."""
    if not (code / "glassynets/training/stage.py").exists():
        return [
            "train", "--settings", job_settings.as_json(settings), "--train", str(train),
            "--test", str(test), "--n-train", "60000", "--arch", args.arch,
            "--seeds", f"0-{per_job - 1}", "--threads", "1", "--checkpoint-every-s", "600",
            "--out-snapshots", "snapshots.parquet", "--out-metrics", "metrics.parquet",
            "--out-two-time", "two_time.parquet",
        ]  # fmt: skip
    cell = {"n_train": 60000, "arch": args.arch, "seeds": [0, per_job - 1]}
    return [
        "train", "--settings", job_settings.as_json(job_settings.with_cell(settings, **cell)),
        "--in", f"train={train}", "--in", f"test={test}", "--threads", "1",
        "--checkpoint-every-s", "600", "--out", "snapshots=snapshots.parquet",
        "--out", "metrics=metrics.parquet", "--out", "two_time=two_time.parquet",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="HEAD", help="git revision of the baseline")
    parser.add_argument("--experiment", default="fashion_alpha")
    parser.add_argument("--arch", default="h11-11-11")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--networks", type=int, default=None, help="networks per job (default: seeds_per_job)"
    )
    args = parser.parse_args()

    cfg = config.check_files([ROOT / "config.yaml"], ROOT / "workflow/schemas/config.schema.yaml")
    settings = job_settings.train(cfg, args.experiment)
    per_job = args.networks or cfg["experiments"][args.experiment]["seeds_per_job"]
    wildcards = SimpleNamespace(
        experiment=args.experiment, n="60000", arch=args.arch, first="0", last=str(per_job - 1)
    )
    request = Costs(cfg).train_mem_mb(wildcards)
    settings = {**settings, "steps": args.steps}
    work = Path(tempfile.mkdtemp())
    train, test = write_image_tables(work)
    codes = {"current": ROOT, args.ref: package_at(args.ref)}
    rows = []
    for repeat in range(args.repeats):
        for name, code in codes.items():
            out = work / f"{name.replace('/', '_')}-{repeat}"
            out.mkdir()
            job = train_job(code, settings, args, per_job, train, test)
            row = {"code": name, "repeat": repeat, **measure(code, job, out)}
            rows.append(row)
            print(
                f"{name:>10} #{repeat}: peak {row['peak_mb']:7.0f} MB, while training "
                f"{row['training_mb']:7.0f} MB, {row['wall_s']:5.1f} s",
                flush=True,
            )
    medians = {
        name: {
            k: statistics.median(r[k] for r in rows if r["code"] == name)
            for k in ("peak_mb", "training_mb")
        }
        for name in codes
    }
    ref = medians[args.ref]
    print(
        f"{args.experiment}/{args.arch}, {per_job} networks, N = 60,000, {args.steps} steps; "
        f"medians of {args.repeats}:"
    )
    for name, m in medians.items():
        print(
            f"  {name:>10}: peak {m['peak_mb']:.0f} MB ({m['peak_mb'] / ref['peak_mb']:.2f}x "
            f"{args.ref}), while training {m['training_mb']:.0f} MB "
            f"({m['training_mb'] / ref['training_mb']:.2f}x)"
        )
    print(f"  request of the full job (costs.train_mem_mb): {request} MB")
    print(json.dumps({"medians_mb": medians, "request_mb": request, "rows": rows}))


if __name__ == "__main__":
    main()
