"""The command line as the workflow calls it: data files, verified fetches, and kill-and-resume."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import MNIST_FILES, aging_settings, job_settings, pspin_settings
from glassynets import cli, data, ljat19, storage
from glassynets.settings import as_json, with_cell


def stage(name: str, settings: dict, inputs: dict | None = None, outputs: dict | None = None):
    """A stage's command line (glassynets.jobs): --settings JSON, --in and --out NAME=PATH."""
    files = [("--in", k, v) for k, v in (inputs or {}).items()]
    files += [("--out", k, v) for k, v in (outputs or {}).items()]
    return [
        name,
        "--settings",
        json.dumps(settings),
        *(x for o, k, v in files for x in (o, f"{k}={v}")),
    ]


def ljat19_table(n: int, seed: int, out) -> list[str]:
    """`glassynets ljat19-dataset`: n regenerated samples of stream ``seed`` (default geometry)."""
    chosen = {"n": n, "source": "regenerate", "seed": seed, **ljat19.DEFAULT_START.params()}
    return stage("ljat19-dataset", chosen, outputs={"table": out})


@pytest.fixture(scope="module")
def ljat_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ljat")
    assert cli.main(ljat19_table(300, 1, folder / "train.parquet")) == 0
    assert cli.main(ljat19_table(200, 2, folder / "test.parquet")) == 0
    return folder


def test_regenerated_sets_are_nested_prefixes(ljat_files, tmp_path):
    assert cli.main(ljat19_table(100, 1, tmp_path / "small.parquet")) == 0
    small = storage.read_frame(tmp_path / "small.parquet", "ljat19")
    big = storage.read_frame(ljat_files / "train.parquet", "ljat19")
    assert small.equals(big.iloc[:100])
    assert storage.metadata(tmp_path / "small.parquet")["seed"] == 1


def test_fetch_verifies_the_checksum_for_paths_and_urls(ljat_files, tmp_path):
    source = ljat_files / "train.parquet"
    good = storage.file_digest(source)

    def fetch(source, sha256, dest):
        return data.fetch_verified(
            dest,
            [source],
            data.sha256_check(sha256),
            what="LJAT19 file",
            hint="",
            log=lambda m: None,
        )

    out = fetch(source.as_uri(), good, tmp_path / "a.verified")  # the download path, via file://
    assert storage.file_digest(out) == good
    with pytest.raises(data.DataError, match="sha256 is .* the config expects 0000"):
        fetch(str(source), "0" * 64, tmp_path / "b.verified")
    with pytest.raises(data.DataError, match="LJAT19 file is missing.*No such file"):
        fetch((tmp_path / "missing.csv").as_uri(), good, tmp_path / "c.verified")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.verified"
    ]  # nothing partial left behind


def test_published_format_is_checked(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("r12,r13,label\n1.1,1.2,0\n")
    with pytest.raises(data.DataError, match="missing columns \\['r23'\\]"):
        data.read_ljat19_published(bad)
    good = tmp_path / "good.csv"
    good.write_text("r12,r13,r23,label\n1.1,1.2,1.3,0\n1.2,1.1,2.2,3\n")
    published = {"n": 0, "source": "published", "sha256": "unused: the file is verified upstream"}
    command = stage(
        "ljat19-dataset", published, {"published": good}, {"table": tmp_path / "g.parquet"}
    )
    assert cli.main(command) == 0
    assert storage.read_frame(tmp_path / "g.parquet", "ljat19")["label"].tolist() == [0, 3]


def train_settings(cell: dict, **experiment) -> str:
    """A train job's --settings as the workflow's train rule builds them: with its cell."""
    return as_json(with_cell(json.loads(job_settings(**experiment)), **cell))


def _train_args(ljat_files, out, checkpoint=None, steps=40000, seeds=(0, 3), every_s="0.3"):
    """`glassynets train` options for an LJAT19 h5-5 cell on N = 300, writing into ``out``."""
    cell = {"n_train": 300, "arch": "h5-5", "seeds": list(seeds)}
    job = train_settings(cell, steps=steps, snapshots_per_decade=20, overlap_eps=[0.01])
    data = [
        "--in",
        f"train={ljat_files / 'train.parquet'}",
        "--in",
        f"test={ljat_files / 'test.parquet'}",
    ]
    resume = ["--checkpoint", str(checkpoint)] if checkpoint else []
    files = zip(("snapshots", "metrics", "two_time"), ("s.parquet", "m.parquet", "tt.parquet"))
    outs = [x for kind, name in files for x in ("--out", f"{kind}={out / name}")]
    return ["train", "--settings", job, *data, "--threads", "1", *resume,
            "--checkpoint-every-s", every_s, *outs]  # fmt: skip


def _train_command(ljat_files, out, checkpoint, steps=40000):
    return [
        sys.executable, "-m", "glassynets.cli", *_train_args(ljat_files, out, checkpoint, steps)
    ]  # fmt: skip


# Long enough that five kills, each some 0.3-0.8 s of training after a resume, land before the end.
KILLED_STEPS = 100000


def test_a_training_job_killed_five_times_resumes_to_the_same_bits(ljat_files, tmp_path):
    """Fault injection: SIGKILL the job at five random moments in a row (each after it has written
    a checkpoint), then let it finish: its files hold the bits of an uninterrupted run."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(
        _train_command(ljat_files, whole, tmp_path / "w.pt", KILLED_STEPS),
        check=True,
        capture_output=True,
    )
    checkpoint = tmp_path / "k.pt"
    rng = np.random.default_rng(int(time.time()))
    steps_at_kill = []
    for _ in range(5):
        before = checkpoint.stat().st_mtime_ns if checkpoint.exists() else 0
        job = subprocess.Popen(
            _train_command(ljat_files, killed, checkpoint, KILLED_STEPS),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.time() + 60
        while (
            not checkpoint.exists() or checkpoint.stat().st_mtime_ns == before
        ) and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.5))
        job.send_signal(signal.SIGKILL)
        out, _ = job.communicate()
        assert job.returncode == -signal.SIGKILL, (
            "the job finished before it could be killed; make it longer"
        )
        assert not (killed / "s.parquet").exists(), "the job finished before it could be killed"
        assert checkpoint.exists(), out
        steps_at_kill.append(torch_step(checkpoint))
    assert len(set(steps_at_kill)) == 5 and steps_at_kill == sorted(
        steps_at_kill
    )  # five kills at five places
    resumed = subprocess.run(
        _train_command(ljat_files, killed, checkpoint, KILLED_STEPS),
        check=True,
        capture_output=True,
        text=True,
    )
    assert "resumed from" in resumed.stdout
    for name, kind in (
        ("s.parquet", "snapshots"),
        ("m.parquet", "metrics"),
        ("tt.parquet", "two_time"),
    ):
        assert storage.read(whole / name, kind).equals(storage.read(killed / name, kind)), name
    assert not checkpoint.exists()
    steps, _, theta = storage.read_snapshots(killed / "s.parquet")
    assert steps[-1] == KILLED_STEPS and np.isfinite(theta).all()


def torch_step(checkpoint: Path) -> int:
    """The step a training checkpoint resumes at."""
    import torch

    return int(torch.load(checkpoint, weights_only=True)["step"])


@pytest.fixture(scope="module")
def mnist_t10k(tmp_path_factory):
    """The real t10k split converted through the CLI, as the workflow does it."""
    if not MNIST_FILES.is_dir():
        pytest.skip(
            f"{MNIST_FILES} is absent (a user's clone has no ../shared): real-MNIST CLI tests not run"
        )
    folder = tmp_path_factory.mktemp("mnist")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        source = {"dataset": "mnist", "source_dir": str(MNIST_FILES), "mirrors": []}
        assert cli.main(stage("images-fetch", source, outputs={"file": folder / "raw" / name})) == 0
    raw = {
        "images": folder / "raw/t10k-images-idx3-ubyte.gz",
        "labels": folder / "raw/t10k-labels-idx1-ubyte.gz",
    }
    assert (
        cli.main(
            stage("images-convert", {"dataset": "mnist"}, raw, {"table": folder / "t10k.parquet"})
        )
        == 0
    )
    return folder


def subset(split, n: int, out) -> list[str]:
    """`glassynets images-subset`: a stratified subset of n images (seed 0) of a converted split."""
    chosen = {"n": n, "train_split": "t10k", "subset": "stratified", "subset_seed": 0}
    return stage("images-subset", chosen, {"split": split}, {"table": out})


def test_mnist_convert_and_subset_on_the_real_test_files(mnist_t10k, tmp_path):
    pixels, labels = storage.read_images(mnist_t10k / "t10k.parquet")
    assert pixels.shape == (10000, 784) and np.bincount(labels).tolist()[:3] == [980, 1135, 1032]
    out = tmp_path / "train_N1000.parquet"
    assert cli.main(subset(mnist_t10k / "t10k.parquet", 1000, out)) == 0
    sub_pixels, sub_labels = storage.read_images(out)
    assert sub_pixels.shape == (1000, 784)
    assert (
        np.abs(np.bincount(sub_labels, minlength=10) - np.bincount(labels) / 10).max() <= 1
    )  # stratified
    assert storage.metadata(out)["subset"] == "stratified"


def test_mnist_convert_refuses_a_file_with_the_wrong_md5(mnist_t10k, tmp_path, capsys):
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes((mnist_t10k / "raw/t10k-labels-idx1-ubyte.gz").read_bytes()[:-10])
    raw = {"images": mnist_t10k / "raw/t10k-images-idx3-ubyte.gz", "labels": bad}
    code = cli.main(
        stage("images-convert", {"dataset": "mnist"}, raw, {"table": tmp_path / "t.parquet"})
    )
    assert (
        code == 1 and "md5 is" in capsys.readouterr().err and not (tmp_path / "t.parquet").exists()
    )


def test_train_on_real_mnist_images(mnist_t10k, tmp_path):
    split = str(mnist_t10k / "t10k.parquet")
    assert cli.main(subset(split, 500, tmp_path / "train.parquet")) == 0
    job = train_settings(
        {"n_train": 500, "arch": "h5", "seeds": [0, 2]},
        dataset="mnist", batch_size=50, steps=300, snapshots_per_decade=20, device="auto",
    )  # fmt: skip
    outs = {"snapshots": "s.parquet", "metrics": "m.parquet", "two_time": "tt.parquet"}
    assert (
        cli.main(
            [
                "train",
                "--settings",
                job,
                "--in",
                f"train={tmp_path / 'train.parquet'}",
                "--in",
                f"test={split}",
                "--threads",
                "1",
                "--checkpoint-every-s",
                "60",
                *(x for kind, name in outs.items() for x in ("--out", f"{kind}={tmp_path / name}")),
            ]
        )  # fmt: skip
        == 0
    )
    steps, seeds, theta = storage.read_snapshots(tmp_path / "s.parquet")
    assert theta.shape == (len(steps), 3, 785 * 5 + 6 * 10) and steps[-1] == 300
    metrics = storage.read_frame(tmp_path / "m.parquet", "metrics")
    last = metrics[metrics["step"] == 300]
    assert (
        last["train_loss"] < metrics[metrics["step"] == 0]["train_loss"].mean() - 0.5
    ).all()  # it learns
    assert (last["test_acc"] > 0.5).all()
    meta = storage.metadata(tmp_path / "s.parquet")
    assert meta["dataset"] == "mnist" and meta["alpha"] == pytest.approx(3985 / 500)


def test_hessian_of_a_trained_cell(ljat_files, tmp_path):
    """Spectra at chosen steps of the first runs: exact, all P eigenvalues, 2λ above those without L2."""
    out = tmp_path / "run"
    assert cli.main(_train_args(ljat_files, out, steps=2000, seeds=(0, 2), every_s="60")) == 0
    settings = job_settings("hessian", hessian={"steps": [0, 100, "end"], "seeds": 2})
    assert (
        cli.main(
            [
                "hessian",
                "--settings",
                settings,
                "--in",
                f"snapshots={out / 's.parquet'}",
                "--in",
                f"train={ljat_files / 'train.parquet'}",
                "--in",
                f"test={ljat_files / 'test.parquet'}",
                "--threads",
                "1",
                "--out",
                f"eigenvalues={out / 'h.parquet'}",
                "--out",
                f"summary={out / 'hs.parquet'}",
            ]
        )
        == 0
    )
    eig = storage.read_frame(out / "h.parquet", "hessian")
    summary = storage.read_frame(out / "hs.parquet", "hessian_summary")
    assert sorted(summary["seed"].unique()) == [0, 1] and sorted(summary["step"].unique()) == [
        0,
        100,
        2000,
    ]
    assert (eig.groupby(["seed", "step"]).size() == 69).all() and summary["exact"].all()
    for (seed, step), group in eig.groupby(["seed", "step"]):
        row = summary[(summary["seed"] == seed) & (summary["step"] == step)].iloc[0]
        assert row["trace"] == pytest.approx(group["eigenvalue"].sum(), rel=1e-10)
        assert row["frac_negative"] == pytest.approx((group["eigenvalue"] < 0).mean())
    metrics = storage.read_frame(out / "m.parquet", "metrics")
    last = metrics[(metrics["step"] == 2000) & (metrics["seed"] == 0)].iloc[0]
    row = summary[(summary["seed"] == 0) & (summary["step"] == 2000)].iloc[0]
    assert row["train_loss"] == pytest.approx(
        last["train_loss"], rel=1e-5
    )  # float64 vs the float32 run's metric
    assert row["test_loss"] == pytest.approx(last["test_loss"], rel=1e-5)


def _pspin_args(out, checkpoints, temperature="0.5"):
    settings = pspin_settings(
        samples=3,
        replicas=2,
        dt=0.05,
        time=200,
        snapshots_per_decade=8,
        seed=7,
        overlap_eps=[0.1],
        analysis={"fit_tw": [1, 200]},
    )
    cell = {"n": 24, "temperature": float(temperature)}  # the rule's wildcards
    return [
        sys.executable,
        "-m",
        "glassynets.cli",
        "pspin",
        "--settings",
        json.dumps({**json.loads(settings), "cell": cell}),
        "--threads",
        "1",
        "--checkpoint",
        str(checkpoints),
        "--out",
        f"snapshots={out / 's.parquet'}",
        "--out",
        f"energy={out / 'e.parquet'}",
        "--out",
        f"two_time={out / 'tt.parquet'}",
    ]


def test_a_killed_pspin_job_resumes_per_sample_to_the_same_bits(tmp_path):
    """Kill the job once a sample is checkpointed: the rerun takes it from disk and ends with the
    bits of an uninterrupted run; then the glass cell goes through the networks' aging command."""
    whole, killed, checkpoints = tmp_path / "whole", tmp_path / "killed", tmp_path / "ck"
    subprocess.run(_pspin_args(whole, tmp_path / "ck_whole"), check=True, capture_output=True)
    job = subprocess.Popen(
        _pspin_args(killed, checkpoints), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.time() + 60
    while not (checkpoints / "sample0.npz").exists() and time.time() < deadline:
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL, (
        "the job finished before it could be killed; make it longer"
    )
    assert not (killed / "s.parquet").exists()
    resumed = subprocess.run(
        _pspin_args(killed, checkpoints), check=True, capture_output=True, text=True
    )
    assert "sample 0: resumed from" in resumed.stdout
    for name, kind in (
        ("s.parquet", "snapshots"),
        ("e.parquet", "energy"),
        ("tt.parquet", "two_time"),
    ):
        assert storage.read(whole / name, kind).equals(storage.read(killed / name, kind)), name
    assert not list(checkpoints.iterdir())
    steps, runs, spins = storage.read_snapshots(killed / "s.parquet")
    assert spins.shape == (len(steps), 6, 24) and np.allclose((spins**2).sum(-1), 24)
    assert storage.metadata(killed / "s.parquet")["model"] == "pspin"

    tables = tmp_path / "tables"
    settings = aging_settings(
        delta_star=1.0,
        fit_tw=[20, 2000],
        plot_tw=[20],
        delta_star_scan=[0.8, 1.2],
        scan_points=3,
        n_boot=20,
    )
    assert (
        cli.main(
            [
                "aging",
                "--settings",
                settings,
                "--in",
                f"two_time={killed / 'tt.parquet'}",
                "--in",
                f"snapshots={killed / 's.parquet'}",
                "--out",
                f"folder={tables}",
            ]
        )
        == 0
    )
    msd = storage.read_frame(tables / "msd.parquet", "msd")
    assert msd["delta_mean"].between(0, 4).all() and not (tables / "metrics.parquet").exists()


def test_aging_with_delta_star_per_network_divides_it_by_p(tmp_path):
    """delta_star_unit network: Δ* bounds |Δθ|² = P·Δ, so each cell uses Δ*/P per parameter."""
    _random_walks(tmp_path, 0, {"experiment": "t"}, {"experiment": "t", "n_params": 50})
    args = [
        "aging",
        "--in",
        f"two_time={tmp_path / 'tt.parquet'}",
        "--in",
        f"snapshots={tmp_path / 's.parquet'}",
    ]
    common = dict(
        fit_tw=[10, 500], plot_tw=[10], delta_star_scan=[0.2, 1], scan_points=3, n_boot=10
    )
    network = aging_settings(delta_star=0.5, delta_star_unit="network", **common)
    assert cli.main([*args, "--settings", network, "--out", f"folder={tmp_path / 'net'}"]) == 0
    assert (
        cli.main(
            [
                *args,
                "--settings",
                aging_settings(delta_star=0.01, **common),
                "--out",
                f"folder={tmp_path / 'par'}",
            ]
        )
        == 0
    )
    mu_net = storage.read_frame(tmp_path / "net/mu.parquet", "mu")
    mu_par = storage.read_frame(tmp_path / "par/mu.parquet", "mu")
    assert (
        mu_net["delta_star"].iloc[0] == pytest.approx(0.5 / 50)
        and mu_par["delta_star"].iloc[0] == 0.01
    )
    scan = mu_net[mu_net["variant"] == "delta_star_scan"]
    assert scan["delta_star"].min() == pytest.approx(0.2 / 50)
    assert mu_net["mu"].iloc[0] == mu_par["mu"].iloc[0]  # the same threshold, given two ways
    # a random walk does not age: Δ = σ² t whatever t_w, so t* is flat in t_w
    summary = storage.read_frame(tmp_path / "par/mu_summary.parquet", "mu_summary").iloc[0]
    assert summary["status"] == "ok" and abs(summary["mu"]) < 0.15
    overlap = storage.read_frame(tmp_path / "par/overlap.parquet", "overlap")
    assert overlap["overlap_mean"].between(0, 1).all() and set(overlap["epsilon"]) == {0.01}


def _random_walks(tmp_path: Path, seed: int, snapshot_meta: dict, meta: dict) -> None:
    """Snapshots (s.parquet) and two-time observables (tt.parquet) of 3 random walks of 50
    parameters over 1,000 steps, as a training job writes them."""
    from glassynets import two_time
    from glassynets.schedule import log_steps

    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(scale=0.01, size=(1001, 3, 50)), axis=0).astype(np.float32)
    steps = log_steps(1000, 10)
    storage.write_snapshots(tmp_path / "s.parquet", steps, np.arange(3), walk[steps], snapshot_meta)
    recorder = two_time.Recorder(*two_time.grid(1000, 10, 20), 1000, [0.01], 3, 50)
    for step in sorted(recorder.steps):
        recorder.record(step, walk[step])
    columns = recorder.columns(np.arange(3))
    storage.write_two_time(tmp_path / "tt.parquet", columns, recorder.eps, {**meta, "steps": 1000})


def _random_walk_cell(tmp_path: Path) -> Path:
    """The aging tables of a cell of 3 random walks of 50 parameters (arch h5), as the workflow
    writes them."""
    meta = {"experiment": "t", "arch": "h5", "n_params": 50}
    _random_walks(tmp_path, 1, meta, meta)
    analysis = aging_settings(
        delta_star=0.01, fit_tw=[10, 500], plot_tw=[10], delta_star_scan=[0.2, 1], scan_points=3,
        n_boot=10,
    )  # fmt: skip
    cell = tmp_path / "cell"
    files = {"two_time": tmp_path / "tt.parquet", "snapshots": tmp_path / "s.parquet"}
    assert cli.main(stage("aging", json.loads(analysis), files, {"folder": cell})) == 0
    return cell


def test_the_figure_stage_draws_a_figure_from_its_settings_and_cells(tmp_path, capsys):
    from glassynets import lineage

    cell = _random_walk_cell(tmp_path)
    figure = {"name": "fig2", "plot_tw": [10.0, 100.0], "glass_plot_tw": []}
    figure["underparametrized_accuracy"] = 0.99
    out = tmp_path / "figures/fig2.pdf"
    command = ["figure", "--settings", json.dumps(figure), "--in", f"cells={cell}"]
    assert cli.main(["--lineage", "abc123", *command, "--out", f"pdf={out}"]) == 0
    assert out.stat().st_size > 0 and lineage.stored(out.with_suffix(".png")) == "abc123"
    # a figure the registry does not have, an input the stage does not take: one line each
    unknown = json.dumps({**figure, "name": "fig99"})
    assert (
        cli.main(["figure", "--settings", unknown, "--in", f"cells={cell}", "--out", f"pdf={out}"])
        == 1
    )
    assert "no figure 'fig99' in the registry" in capsys.readouterr().err
    assert cli.main([*command, "--in", f"cell={cell}", "--out", f"pdf={out}"]) == 1
    assert "unknown --in cell=...; it takes cells, glass, limits" in capsys.readouterr().err


@pytest.mark.parametrize(
    "files, message",
    [
        ([], "ljat19-limits: --in sample=PATH is required"),
        (["--in", "sample=a", "--in", "sample=b"], "--in sample=... given 2 times, once wanted"),
        (["--in", "sample"], "--in 'sample': expected NAME=PATH"),
        (["--in", "samples=a"], "unknown --in samples=...; it takes sample"),
    ],
)
def test_a_stage_names_what_is_wrong_with_its_files(files, message, tmp_path, capsys):
    """The stage contract (glassynets.jobs): every --in/--out name checked against the stage's
    table entry before anything is read, with one line naming the option and the name."""
    out = ["--out", f"limits={tmp_path / 'limits.json'}"]
    code = cli.main(["ljat19-limits", "--settings", '{"features": ["r12"]}', *files, *out])
    assert code == 1 and message in capsys.readouterr().err
    assert not (tmp_path / "limits.json").exists()


def test_a_stage_refuses_settings_that_are_not_a_json_object(tmp_path, capsys):
    out = ["--out", f"limits={tmp_path / 'limits.json'}", "--in", f"sample={tmp_path / 's'}"]
    assert cli.main(["ljat19-limits", "--settings", "settings.json", *out]) == 1
    assert "--settings: not a JSON object" in capsys.readouterr().err
    assert cli.main(["ljat19-limits", "--settings", "[1, 2]", *out]) == 1
    assert "--settings: expected a JSON object" in capsys.readouterr().err
