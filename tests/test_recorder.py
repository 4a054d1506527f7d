"""glassynets.AgingRecorder (a user's own loop) against the trainer's online recorder, its bad
uses, and `glassynets analyse` on its tables."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import glassynets
from conftest import SCHEMA, aging_settings
from glassynets import aging, cli, config, runs, storage, two_time
from glassynets.nets import Architecture, unflatten
from glassynets.recorder import AgingRecorder, AgingRecorderError
from glassynets.training import TrainSpec, train_ensemble


def _trainer_run(widths, steps, seeds, dtype="float32", eps=(1e-3, 1e-2)):
    g = torch.Generator().manual_seed(0)
    n, d, c = 100, widths[0], widths[-1]
    x, y = torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)
    tws, lags = two_time.grid(steps, 10, 20)  # the recorder's default grid
    spec = TrainSpec(
        arch=Architecture.from_widths(widths),
        lr=0.05,
        batch_size=20,
        weight_decay=1e-4,
        steps=steps,
        seeds=seeds,
        snapshot_steps=np.arange(steps + 1),
        metric_steps=[0, steps],
        waiting_times=tws,
        lags=lags,
        overlap_eps=eps,
        dtype=dtype,
    )
    return spec, train_ensemble(spec, x, y, x, y, log=lambda m: None)


def _replay(spec, snapshots, e, **kw) -> AgingRecorder:
    """A user's loop that holds network e's layers as its own tensors, updated in place, with the
    recorder attached: the same trajectory as the trainer's."""
    layers = [w[0].clone() for w in unflatten(torch.from_numpy(snapshots[0, e : e + 1]), spec.arch)]
    rec = AgingRecorder(layers, steps=spec.steps, overlap_eps=spec.overlap_eps, **kw)
    for step in range(spec.steps + 1):
        now = unflatten(torch.from_numpy(snapshots[step, e : e + 1]), spec.arch)
        for p, w in zip(layers, now):
            p.copy_(w[0])
        rec.observe(step)
    return rec


@pytest.mark.parametrize(
    "widths, dtype",
    [([2, 5, 5, 4], "float32"), ([784, 50, 10], "float32"), ([2, 5, 4], "float64")],
    ids=["ljat-shape", "P>PARAM_BLOCK", "float64"],
)
def test_public_recorder_equals_the_trainers_bit_for_bit(widths, dtype, tmp_path):
    """θ of each network replayed through AgingRecorder (its layers as the user's parameter
    tensors): the two_time rows equal the trainer's, bit for bit; the file has the trainer's
    schema, units and column docs."""
    steps, seeds = 300, (0, 5)
    spec, result = _trainer_run(widths, steps, seeds, dtype)
    assert spec.arch.n_params > two_time.PARAM_BLOCK or widths != [784, 50, 10]
    trainer = result.two_time.columns(np.array(seeds))
    storage.write_two_time(tmp_path / "trainer.parquet", trainer, result.two_time.eps, {})
    for e, seed in enumerate(seeds):
        rec = _replay(spec, result.snapshots, e)
        assert rec.memory_bytes == len(spec.waiting_times) * spec.arch.n_params * (
            4 if dtype == "float32" else 8
        )
        ours = rec.table(run=seed)
        mine = trainer["seed"] == seed
        for key in ("seed", "t_w", "t", "delta", "fourth", "overlap"):
            np.testing.assert_array_equal(ours[key], trainer[key][mine], err_msg=key)
        rec.to_parquet(tmp_path / "own.parquet", run=seed)
    read_ours, eps_ours = storage.read_two_time(tmp_path / "own.parquet")
    read_trainer, eps_trainer = storage.read_two_time(tmp_path / "trainer.parquet")
    np.testing.assert_array_equal(eps_ours, eps_trainer)
    for key in read_trainer:
        np.testing.assert_array_equal(read_ours[key], read_trainer[key], err_msg=key)
    a, b = pq.read_schema(tmp_path / "own.parquet"), pq.read_schema(tmp_path / "trainer.parquet")
    assert a.remove_metadata() == b.remove_metadata()  # names and types
    assert [f.metadata for f in a] == [f.metadata for f in b]  # units and meaning
    meta = storage.metadata(tmp_path / "own.parquet")
    assert meta["seeds"] == list(seeds) and meta["n_params"] == spec.arch.n_params
    assert meta["steps"] == steps and "written" in meta and "settings_sha256" in meta


def test_a_module_and_a_real_loop_and_off_grid_steps_cost_nothing(monkeypatch):
    """nn.Module + torch.optim.SGD: θ is read only at grid steps (once each); the numbers are
    those of two_time.moments on θ flattened in the module's parameter order."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    steps = 400
    rec = AgingRecorder(model, steps=steps, waiting_times_per_decade=5, lags_per_decade=10)
    reads = []
    real = rec._theta
    monkeypatch.setattr(rec, "_theta", lambda s, p: reads.append(s) or real(s, p))
    x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    thetas = []
    for step in range(steps + 1):
        rec.observe(step)
        thetas.append(torch.cat([p.detach().reshape(-1).clone() for p in model.parameters()]))
        if step < steps:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert reads == sorted(rec.recorder.steps) and len(reads) < steps / 2
    table = rec.table()
    theta = torch.stack(thetas).numpy()
    delta, fourth, q = two_time.moments(
        theta[table["t_w"]], theta[table["t_w"] + table["t"]], rec.recorder.eps
    )
    np.testing.assert_array_equal(table["delta"], delta)
    np.testing.assert_array_equal(table["fourth"], fourth)
    np.testing.assert_array_equal(table["overlap"], q)
    assert rec.recorder.eps.tolist() == config.default("overlap_eps")
    assert len(rec.waiting_times) == len(two_time.log_grid(1, steps - 1, 5))


def _message(call) -> str:
    with pytest.raises(AgingRecorderError) as err:
        call()
    text = str(err.value)
    assert "\n" not in text
    return text


def test_bad_use_gets_one_clear_line(tmp_path):
    p = torch.zeros(4, 3)
    rec = AgingRecorder([p], steps=100)
    rec.observe(0)
    rec.observe(1)
    assert "observe(1) after observe(1)" in _message(lambda: rec.observe(1))
    assert "observe(0) after observe(1)" in _message(lambda: rec.observe(0))
    msg = _message(lambda: rec.observe(5))
    assert "skipped step 2, a waiting time t_w" in msg
    for step in range(2, 101):
        rec.observe(step)
    assert "past the run's last step (steps=100)" in _message(lambda: rec.observe(101))

    rec = AgingRecorder([torch.zeros(3), torch.zeros(2, 2)], steps=50)
    rec.observe(0)
    msg = _message(lambda: rec.observe(1, [torch.zeros(3)]))
    assert "1 parameter tensors, but the recorder was made with 2" in msg
    msg = _message(lambda: rec.observe(1, [torch.zeros(3), torch.zeros(2, 3)]))
    assert "parameter 1 has shape (2, 3), but (2, 2)" in msg

    q = torch.zeros(10)
    rec = AgingRecorder([q], steps=50)
    rec.observe(0)
    rec.observe(1)
    q[3] = float("nan")
    msg = _message(lambda: rec.observe(2))
    assert "θ is not finite at step 2 (1 of 10 parameters NaN or inf; finite at step 1)" in msg
    assert "observed through step 1 of 50" in _message(lambda: rec.table())

    rec = AgingRecorder([torch.zeros(3)], steps=20)
    for step in range(21):
        rec.observe(step)
    rec.to_parquet(tmp_path / "r.parquet", run=2)
    msg = _message(lambda: rec.to_parquet(tmp_path / "r.parquet", run=2))
    assert "already holds run 2; give each run its own run=" in msg
    msg = _message(lambda: rec.to_parquet(tmp_path / "r.parquet", run=3, lr=0.1))
    assert "holds runs with lr = None, this one has 0.1" in msg
    rec.to_parquet(tmp_path / "r.parquet", run=0)
    assert storage.metadata(tmp_path / "r.parquet")["seeds"] == [0, 2]

    assert "steps must be an integer >= 2" in _message(lambda: AgingRecorder([p], steps=1))
    assert "no parameters given" in _message(lambda: AgingRecorder([], steps=10))
    assert "not floating point" in _message(lambda: AgingRecorder([torch.zeros(2, dtype=int)], 9))
    assert "not a torch tensor" in _message(lambda: AgingRecorder([np.zeros(2)], steps=10))


def test_the_cli_shows_a_bad_use_as_one_line(tmp_path, capsys):
    assert cli.main(["analyse", str(tmp_path / "none.parquet"), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]
    assert cli.main(["analyse", "x.parquet", "--out", "o", "--set", "bogus=1"]) == 1
    err = capsys.readouterr().err.strip()
    assert "unknown key 'bogus' in the analysis section" in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_parameters_keep_their_refs_on_the_gpu_and_agree_with_the_cpu():
    torch.manual_seed(0)
    steps, P = 300, 70_000
    cpu = torch.randn(P)
    gpu = cpu.cuda()
    a, b = AgingRecorder([cpu], steps=steps), AgingRecorder([gpu], steps=steps)
    assert b.recorder.refs.device.type == "cuda"
    g = torch.Generator().manual_seed(1)
    for step in range(steps + 1):
        a.observe(step)
        b.observe(step)
        kick = 0.01 * torch.randn(P, generator=g)
        cpu += kick
        gpu += kick.cuda()
    ta, tb = a.table(), b.table()
    np.testing.assert_allclose(tb["delta"], ta["delta"], rtol=1e-12)
    np.testing.assert_allclose(tb["fourth"], ta["fourth"], rtol=1e-12)
    np.testing.assert_array_equal(tb["overlap"], ta["overlap"])


def test_import_glassynets_is_light():
    code = (
        "import sys, glassynets; assert 'torch' not in sys.modules, 'torch'; "
        "glassynets.AgingRecorder; glassynets.analyse; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_the_schema_ships_with_the_package():
    assert config.SCHEMA.resolve() == SCHEMA.resolve()
    assert "analysis" in config.schema()["$defs"]


def _ensemble(tmp_path, n_runs=6, steps=3000):
    """Random walks whose steps shrink as s^-0.3: Δ ≈ 1e-3·t·t_w^-0.6 for t ≪ t_w, so that t* at
    Δ* = 1e-3 grows about as t_w^0.6 (subaging)."""
    files = []
    for run in range(n_runs):
        g = torch.Generator().manual_seed(run)
        theta = torch.zeros(500)
        rec = AgingRecorder([theta], steps=steps, overlap_eps=[0.01])
        for step in range(steps + 1):
            rec.observe(step)
            theta += torch.randn(500, generator=g) * 1e-3**0.5 * (step + 1) ** -0.3
        path = tmp_path / f"run{run}.parquet"
        rec.to_parquet(path, run=run, arch="toy")
        files.append(path)
    return files


def test_analyse_is_the_workflows_analysis_with_the_schemas_defaults(tmp_path):
    files = _ensemble(tmp_path)
    result = glassynets.analyse(files, tmp_path / "out", delta_star=1e-3, n_boot=50, log=print)
    # the defaults are the schema's (the same settings the workflow builds for an aging job); the
    # Δ* scan is the schema's range scaled to the Δ* given
    expected = json.loads(aging_settings(delta_star=1e-3, n_boot=50))
    scan = config.analysis_section()["delta_star_scan"]
    np.testing.assert_allclose(result.settings["delta_star_scan"], np.array(scan) / 10, rtol=1e-12)
    expected["delta_star_scan"] = result.settings["delta_star_scan"]
    assert result.settings == expected
    blocks = [storage.read_two_time(f) for f in files]
    tables = aging.analyse_cell(blocks, None, None, 500, 3000.0, expected, log=lambda m: None)
    assert np.isfinite(result.summary["mu"]) and 0.4 < result.summary["mu"] < 0.9
    for key, value in tables["mu_summary"].items():
        assert result.summary[key] == value[0] or (
            isinstance(value[0], float) and np.isnan(value[0]) and np.isnan(result.summary[key])
        ), key
    assert result.verdict == "subaging"
    for name in ("msd", "overlap", "tstar", "mu", "mu_summary", "msd_late", "summary.txt"):
        assert (tmp_path / "out" / (name if "." in name else f"{name}.parquet")).exists()
    assert not (tmp_path / "out" / "weight_hist.parquet").exists()
    assert (tmp_path / "out" / "aging.png").stat().st_size > 10_000
    text = (tmp_path / "out" / "summary.txt").read_text()
    assert "aging class: subaging" in text and "toy: 6 runs of 3000 steps, P = 500" in text
    # the command line: the same numbers
    argv = ["analyse", *map(str, files), "--delta-star", "1e-3", "--n-boot", "50"]
    assert cli.main([*argv, "--out", str(tmp_path / "cli")]) == 0
    again = storage.read_frame(tmp_path / "cli" / "mu_summary.parquet", "mu_summary")
    assert again["mu"][0] == result.summary["mu"]
    assert runs.settings_for({})["delta_star_scan"] == config.analysis_section()["delta_star_scan"]


def test_analyse_refuses_a_run_twice(tmp_path):
    files = _ensemble(tmp_path, n_runs=2, steps=200)
    (tmp_path / "copy.parquet").write_bytes(files[0].read_bytes())
    with pytest.raises(ValueError, match="run 0 is in both"):
        glassynets.analyse([*files, tmp_path / "copy.parquet"], tmp_path / "out")
