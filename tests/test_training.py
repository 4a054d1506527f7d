"""Tests of the stacked ensemble trainer against autograd, a plain SGD loop, and its own bits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from glassynets import dynamics, training, two_time
from glassynets.nets import Architecture, flatten, init_layers, unflatten
from glassynets.schedule import log_steps
from glassynets.training import (
    DivergenceError,
    Objective,
    StaleCheckpointError,
    TrainSpec,
    batches,
    checkpoint,
    kernel,
    network_generator,
    train_ensemble,
)
from glassynets.training import objective as objectives  # "objective": a test parameter

LAM = 1e-4


def data(n: int, d: int, c: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)


def ref_loss(
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    arch: Architecture,
    act: str = "tanh",
    loss: str = "cross_entropy",
    output: str = "linear",
):
    """Objective (data term + λ‖θ‖²) of each network, written the plain way (autograd-able), [E]:
    torch's cross_entropy, or torch's mse_loss (mean over samples and outputs) on one-hot targets."""
    f = torch.tanh if act == "tanh" else torch.relu
    out = []
    for th in theta:
        h = x.to(theta.dtype)
        layers = unflatten(th[None], arch)
        for i, w in enumerate(layers):
            h = h @ w[0, :, :-1].T + w[0, :, -1]
            if i < len(layers) - 1:
                h = f(h)
        if loss == "cross_entropy":
            data_term = F.cross_entropy(h, y)
        else:
            o = torch.sigmoid(h) if output == "sigmoid" else h
            data_term = F.mse_loss(o, F.one_hot(y, arch.n_out).to(o.dtype))
        out.append(data_term + LAM * (th * th).sum())
    return torch.stack(out)


#: (hidden activation, loss, output units) of every objective the trainer offers.
OBJECTIVES = [
    (act, loss, output)
    for act in training.ACTIVATIONS
    for loss, output in (("cross_entropy", "linear"), ("mse", "linear"), ("mse", "sigmoid"))
]


def spec_for(widths, steps, seeds, n_snap=None, **kw) -> TrainSpec:
    """A spec with snapshots and metrics at log-spaced steps (every step with n_snap) and the online
    two-time observables on a coarse grid, so that every bit test covers them too."""
    sched = log_steps(steps, 10) if n_snap is None else np.arange(steps + 1)
    tws, lags = two_time.grid(steps, 5, 10)
    kw = {
        "lr": 0.05,
        "batch_size": 20,
        "weight_decay": LAM,
        "waiting_times": tws,
        "lags": lags,
        "overlap_eps": (1e-3, 1e-2),
        **kw,
    }
    return TrainSpec(
        arch=Architecture.from_widths(widths),
        steps=steps,
        seeds=tuple(seeds),
        snapshot_steps=sched,
        metric_steps=sched,
        **kw,
    )


@pytest.mark.parametrize("act, loss_name, output", OBJECTIVES)
@pytest.mark.parametrize(
    "widths", [[2, 10, 4], [2, 5, 5, 4], [2, 4, 4, 4, 4], [2, 1, 1, 1, 4], [784, 5, 5, 10]]
)
def test_loss_and_grad_matches_autograd(widths, act, loss_name, output, monkeypatch):
    monkeypatch.setattr(objectives, "EVAL_CHUNK", 16)  # exercise the chunked accumulation
    arch = Architecture.from_widths(widths)
    x, y = data(37 if widths[0] < 100 else 23, widths[0], widths[-1])
    g = torch.Generator().manual_seed(1)
    theta = torch.randn(3, arch.n_params, generator=g, dtype=torch.float64) * 0.7
    loss, grad = Objective(arch, act, loss_name, output, LAM).value_and_grad(theta, x, y)
    th = theta.clone().requires_grad_(True)
    ref = ref_loss(th, x, y, arch, act, loss_name, output)
    (ref_grad,) = torch.autograd.grad(ref.sum(), th)
    assert loss.shape == (3,) and grad.shape == (3, arch.n_params)
    torch.testing.assert_close(loss, ref.detach(), rtol=0, atol=1e-10)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("order", ["independent", "shared"])
@pytest.mark.parametrize(
    "act, loss_name, output, momentum, init",
    [
        ("tanh", "cross_entropy", "linear", 0.0, "glorot"),
        ("relu", "cross_entropy", "linear", 0.5, "glorot"),
        ("relu", "mse", "sigmoid", 0.5, "fan_in"),  # Baity-Jesi et al.'s toy model
        ("tanh", "mse", "linear", 0.0, "fan_in"),
    ],
)
def test_sgd_matches_plain_loop(order, act, loss_name, output, momentum, init):
    """7 steps, N=30, B=8 (3 batches per epoch, 6 points dropped): same init, same indices,
    autograd, and torch.optim.SGD's momentum rule written out."""
    widths, n, b, steps, seeds = [2, 5, 5, 4], 30, 8, 7, (4, 11, 2)
    arch = Architecture.from_widths(widths)
    x, y = data(n, 2, 4)
    xt, yt = data(13, 2, 4, seed=5)
    objective = dict(activation=act, loss=loss_name, output=output)
    spec = spec_for(
        widths,
        steps,
        seeds,
        n_snap=True,
        batch_size=b,
        lr=0.3,
        dtype="float64",
        data_order=order,
        momentum=momentum,
        init=init,
        **objective,
    )
    res = train_ensemble(spec, x, y, xt, yt, log=lambda m: None)

    gens = [network_generator(s) for s in seeds]
    theta = torch.stack(
        [flatten([w[None] for w in init_layers(arch, g, torch.float64, init)])[0] for g in gens]
    )
    velocity = torch.zeros_like(theta)
    order_gens = gens[:1] * len(seeds) if order == "shared" else gens
    perms: list[list[torch.Tensor]] = [[] for _ in seeds]
    batch_loss, batch_gn = [], []
    for s in range(steps + 1):
        np.testing.assert_allclose(res.snapshots[s], theta.numpy(), rtol=0, atol=1e-12)
        idx = []
        for e, g in enumerate(order_gens):
            if order == "shared" and e > 0:
                idx.append(idx[0])
                continue
            epoch, j = divmod(s, n // b)
            while len(perms[e]) <= epoch:
                perms[e].append(torch.randperm(n, generator=g))
            idx.append(perms[e][epoch][j * b : (j + 1) * b])
        th = theta.clone().requires_grad_(True)
        losses = [
            ref_loss(th[e : e + 1], x[i], y[i], arch, act, loss_name, output)[0]
            for e, i in enumerate(idx)
        ]
        (grad,) = torch.autograd.grad(torch.stack(losses).sum(), th)
        batch_loss.append([l.item() - LAM * float((t * t).sum()) for l, t in zip(losses, theta)])
        batch_gn.append(grad.norm(dim=1).numpy())
        velocity = momentum * velocity + grad
        theta = theta - spec.lr * velocity
    np.testing.assert_allclose(res.metrics["batch_loss"], np.array(batch_loss), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        res.metrics["batch_grad_norm"], np.array(batch_gn), rtol=0, atol=1e-12
    )
    # full-batch metrics agree with Objective.value_and_grad / autograd on the snapshots
    last = torch.from_numpy(res.snapshots[-1])
    loss, grad = Objective(arch, act, loss_name, output, LAM).value_and_grad(last, x, y)
    np.testing.assert_allclose(res.metrics["grad_norm"][-1], grad.norm(dim=1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        res.metrics["train_loss"][-1], (loss - LAM * (last * last).sum(1)).numpy(), rtol=1e-12
    )
    test_ce = ref_loss(last, xt, yt, arch, act, loss_name, output) - LAM * (last * last).sum(1)
    np.testing.assert_allclose(res.metrics["test_loss"][-1], test_ce.numpy(), rtol=1e-12)
    layers = unflatten(last, arch)
    h = x.double()
    for i, w in enumerate(layers):
        h = (
            torch.einsum("nj,eoj->eno", h, w[:, :, :-1]) + w[:, None, :, -1]
            if i == 0
            else torch.einsum("enj,eoj->eno", h, w[:, :, :-1]) + w[:, None, :, -1]
        )
        h = (torch.tanh(h) if act == "tanh" else torch.relu(h)) if i < len(layers) - 1 else h
    acc = (h.argmax(-1) == y).double().mean(1).numpy()
    np.testing.assert_array_equal(res.metrics["train_acc"][-1], acc)


def assert_same_bits(a: training.TrainResult, b: training.TrainResult, cols=slice(None)) -> None:
    assert np.array_equal(a.snapshots[:, cols], b.snapshots)
    for k in training.METRICS:
        assert np.array_equal(a.metrics[k][:, cols], b.metrics[k]), k
    if a.two_time is not None or b.two_time is not None:
        for k in ("delta", "fourth", "overlap"):
            assert np.array_equal(
                getattr(a.two_time, k)[..., cols], getattr(b.two_time, k), equal_nan=True
            ), k


def test_network_bits_do_not_depend_on_ensemble():
    x, y = data(200, 2, 4)
    xt, yt = data(50, 2, 4, seed=3)
    big = train_ensemble(spec_for([2, 5, 5, 4], 400, range(10)), x, y, xt, yt, log=lambda m: None)
    small = train_ensemble(spec_for([2, 5, 5, 4], 400, (3, 7)), x, y, xt, yt, log=lambda m: None)
    assert_same_bits(big, small, cols=[3, 7])
    for seed in range(10):  # every seed alone (a batch of one): none may match by luck
        lone = train_ensemble(
            spec_for([2, 5, 5, 4], 400, (seed,)), x, y, xt, yt, log=lambda m: None
        )
        assert_same_bits(big, lone, cols=[seed])
    again = train_ensemble(spec_for([2, 5, 5, 4], 400, (3, 7)), x, y, xt, yt, log=lambda m: None)
    assert_same_bits(small, again)
    assert small.snapshots.dtype == np.float32 and small.snapshots.shape == (
        len(log_steps(400, 10)),
        2,
        69,
    )
    assert not np.array_equal(small.snapshots[-1, 0], small.snapshots[-1, 1])


def test_mnist_shape_bits_and_shared_order():
    x, y = data(300, 784, 10)
    xt, yt = data(40, 784, 10, seed=3)
    big = train_ensemble(spec_for([784, 5, 5, 10], 60, range(6)), x, y, xt, yt, log=lambda m: None)
    small = train_ensemble(spec_for([784, 5, 5, 10], 60, (1, 4)), x, y, xt, yt, log=lambda m: None)
    assert_same_bits(big, small, cols=[1, 4])
    shared = spec_for([784, 5, 5, 10], 60, range(6), data_order="shared")
    a = train_ensemble(shared, x, y, xt, yt, log=lambda m: None)
    b = train_ensemble(shared, x, y, xt, yt, log=lambda m: None)
    assert_same_bits(a, b)
    # network seeds[0] follows its own independent order: same path up to rounding in layer 1
    np.testing.assert_allclose(a.snapshots[:, 0], big.snapshots[:, 0], atol=1e-5)


TOY = dict(
    activation="relu", loss="mse", output="sigmoid", momentum=0.5, init="fan_in"
)  # Baity-Jesi et al.


@pytest.mark.parametrize("objective", [{}, TOY], ids=["tanh-ce", "toy"])
def test_wide_input_chunks_change_no_bits(monkeypatch, objective):
    """Wide inputs step in chunks of networks (GATHER_CHUNK_BYTES); uneven chunks 2+3 = one chunk;
    with momentum the velocities are chunked with the weights."""
    x, y = data(300, 784, 10)
    xt, yt = data(40, 784, 10, seed=3)
    spec = spec_for([784, 5, 5, 10], 40, range(5), **objective)
    whole = train_ensemble(spec, x, y, xt, yt, log=lambda m: None)
    for seed in range(
        5
    ):  # every seed, alone and in pairs: no network may land in a kernel's tail by luck
        alone = train_ensemble(
            spec_for([784, 5, 5, 10], 40, (seed,), **objective), x, y, xt, yt, log=lambda m: None
        )
        assert_same_bits(whole, alone, cols=[seed])
    pair = train_ensemble(
        spec_for([784, 5, 5, 10], 40, (2, 4), **objective), x, y, xt, yt, log=lambda m: None
    )
    assert_same_bits(whole, pair, cols=[2, 4])
    monkeypatch.setattr(
        batches, "GATHER_CHUNK_BYTES", 2 * 20 * 785 * 4
    )  # 2 networks of B = 20 rows
    chunked = train_ensemble(spec, x, y, xt, yt, log=lambda m: None)
    assert_same_bits(whole, chunked)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pixel_inputs_gathered_as_bytes_give_the_same_bits(monkeypatch, dtype):
    """Inputs k/255 (MNIST pixels) are gathered as uint8 codes and decoded; forcing the float path
    changes no bit. Other inputs are not coded."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (300, 784), generator=g).to(getattr(torch, dtype)).div_(255)
    y = torch.randint(0, 10, (300,), generator=g)
    assert batches._pixel_codes(objectives._augment(x, x.dtype)) is not None
    assert batches._pixel_codes(objectives._augment(x + 1e-3, x.dtype)) is None
    spec = spec_for([784, 5, 5, 10], 40, range(3), dtype=dtype)
    coded = train_ensemble(spec, x, y, x[:50], y[:50], log=lambda m: None)
    monkeypatch.setattr(batches, "_pixel_codes", lambda x_aug: None)
    assert_same_bits(coded, train_ensemble(spec, x, y, x[:50], y[:50], log=lambda m: None))


@pytest.mark.parametrize("objective", [{}, TOY], ids=["tanh-ce", "toy"])
def test_metrics_at_step_s_are_those_of_theta_s(objective):
    """The stored metrics at step s are evaluated on θ(s), before that step's update: at step 0 the
    initial weights' loss, at every step the loss of that step's snapshot."""
    x, y = data(200, 2, 4)
    xt, yt = data(50, 2, 4, seed=3)
    spec = spec_for([2, 5, 5, 4], 60, (0, 4), **objective)
    res = train_ensemble(spec, x, y, xt, yt, log=lambda m: None)
    assert (spec.snapshot_steps == spec.metric_steps).all()
    for k, step in enumerate(spec.metric_steps):
        theta = torch.from_numpy(res.snapshots[k])
        train_loss, train_acc = spec.objective.data_term(theta, x, y)
        test_loss, _ = spec.objective.data_term(theta, xt, yt)
        np.testing.assert_array_equal(
            res.metrics["train_loss"][k], train_loss.numpy(), err_msg=f"step {step}"
        )
        np.testing.assert_array_equal(res.metrics["train_acc"][k], train_acc.numpy())
        np.testing.assert_array_equal(res.metrics["test_loss"][k], test_loss.numpy())
    # step 0 is the initialisation, not the network after one update
    init = torch.from_numpy(res.snapshots[0])
    assert not np.array_equal(res.snapshots[0], res.snapshots[1])
    assert res.metrics["train_loss"][0] == pytest.approx(
        spec.objective.data_term(init, x, y)[0].numpy(),
        abs=0,
    )


def test_float64_close_to_float32():
    x, y = data(200, 2, 4)
    r32 = train_ensemble(spec_for([2, 10, 4], 300, (0, 1)), x, y, x, y, log=lambda m: None)
    r64 = train_ensemble(
        spec_for([2, 10, 4], 300, (0, 1), dtype="float64"), x, y, x, y, log=lambda m: None
    )
    assert r64.snapshots.dtype == np.float64
    np.testing.assert_allclose(r32.snapshots, r64.snapshots, atol=1e-4)
    np.testing.assert_array_equal(r32.snapshots[0], r64.snapshots[0].astype(np.float32))


class Killed(Exception):
    """The job died right after writing its checkpoint (a kill, not an error the trainer handles)."""


def kill_after_checkpoint(monkeypatch, step: int) -> None:
    """Make the trainer die just after it writes the checkpoint of ``step``, as a killed job would."""
    save = checkpoint._Checkpoint.save

    def save_then_die(self, s, *state):
        save(self, s, *state)
        if s == step:
            raise Killed(f"killed after the checkpoint of step {s}")

    monkeypatch.setattr(checkpoint._Checkpoint, "save", save_then_die)


@pytest.mark.parametrize("objective", [{}, TOY], ids=["tanh-ce", "toy"])
@pytest.mark.parametrize("stop", [1, 137, 300])
def test_checkpoint_resume_is_bit_identical(tmp_path, stop, objective, monkeypatch):
    x, y = data(100, 2, 4)
    xt, yt = data(30, 2, 4, seed=3)
    spec = spec_for(
        [2, 4, 4, 4, 4], 300, (5, 6, 9), batch_size=15, **objective
    )  # 6 batches per epoch, 10 dropped
    full = train_ensemble(spec, x, y, xt, yt, log=lambda m: None)
    ck = tmp_path / "run.ckpt"
    with monkeypatch.context() as patch, pytest.raises(Killed):
        kill_after_checkpoint(patch, stop)
        train_ensemble(
            spec, x, y, xt, yt, checkpoint=ck, checkpoint_every_s=0.0, log=lambda m: None
        )
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]  # no temporary file left beside it
    msgs: list[str] = []
    resumed = train_ensemble(spec, x, y, xt, yt, checkpoint=ck, log=msgs.append)
    assert any(f"resumed from {ck} at step {stop}" in m for m in msgs)
    assert_same_bits(full, resumed)
    # the final checkpoint holds the finished run: resuming it again returns the same result
    assert_same_bits(full, train_ensemble(spec, x, y, xt, yt, checkpoint=ck, log=lambda m: None))


def test_checkpoint_resume_on_pixel_inputs_is_bit_identical(tmp_path, monkeypatch):
    """The MNIST path: inputs k/255 gathered as bytes, in chunks of networks, one epoch per draw."""
    monkeypatch.setattr(batches, "GATHER_CHUNK_BYTES", 2 * 20 * 785)  # chunks of 2 networks
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (300, 784), generator=g).float().div_(255)
    y = torch.randint(0, 10, (300,), generator=g)
    assert batches._pixel_codes(objectives._augment(x, x.dtype)) is not None
    spec = spec_for([784, 5, 5, 10], 60, range(5))
    full = train_ensemble(spec, x, y, x[:50], y[:50], log=lambda m: None)
    ck = tmp_path / "run.ckpt"
    with monkeypatch.context() as patch, pytest.raises(Killed):
        kill_after_checkpoint(patch, 37)
        train_ensemble(
            spec, x, y, x[:50], y[:50], checkpoint=ck, checkpoint_every_s=0.0, log=lambda m: None
        )
    msgs: list[str] = []
    resumed = train_ensemble(spec, x, y, x[:50], y[:50], checkpoint=ck, log=msgs.append)
    assert any("at step 37" in m for m in msgs)
    assert_same_bits(full, resumed)


def test_mismatching_checkpoint_is_refused(tmp_path):
    x, y = data(100, 2, 4)
    ck = tmp_path / "run.ckpt"
    train_ensemble(spec_for([2, 10, 4], 20, (0,)), x, y, x, y, checkpoint=ck, log=lambda m: None)
    with pytest.raises(StaleCheckpointError, match="run.ckpt"):
        train_ensemble(
            spec_for([2, 10, 4], 20, (1,)), x, y, x, y, checkpoint=ck, log=lambda m: None
        )
    with pytest.raises(StaleCheckpointError, match="run.ckpt"):  # same spec, other data
        train_ensemble(
            spec_for([2, 10, 4], 20, (0,)), x + 1, y, x, y, checkpoint=ck, log=lambda m: None
        )


def test_divergence_names_seed_and_step():
    x, y = data(100, 2, 4)
    with pytest.raises(
        DivergenceError, match=r"seeds? .*diverged: .* at step \d+ \(fine at step \d+\); lower lr"
    ):
        train_ensemble(spec_for([2, 5, 5, 4], 2000, (0, 1), lr=1e6), x, y, x, y, log=lambda m: None)


def test_divergence_without_nan_is_caught():
    """lr = 10³ on tanh/CE keeps every value finite while the loss stays near 10³ (it starts near
    1.4): the job stops, naming seeds, step and lr, instead of writing garbage."""
    x, y = data(200, 2, 4)
    with pytest.raises(
        DivergenceError,
        match=r"seeds 0, 1 diverged: .*above 10× its initial value.* lower lr \(now 1000",
    ):
        train_ensemble(spec_for([2, 5, 5, 4], 300, (0, 1), lr=1e3), x, y, x, y, log=lambda m: None)


def test_a_failed_checkpoint_write_is_a_warning(tmp_path, monkeypatch):
    """Disk full while writing the resume file: the run goes on and returns its results, with a warning."""
    x, y = data(100, 2, 4)
    spec = spec_for([2, 5, 4], 50, (0, 1))
    whole = train_ensemble(spec, x, y, x, y, log=lambda m: None)

    def full(path, write):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint, "replace_atomically", full)
    msgs: list[str] = []
    result = train_ensemble(
        spec, x, y, x, y, checkpoint=tmp_path / "c.pt", checkpoint_every_s=0.0, log=msgs.append
    )
    assert_same_bits(whole, result)
    assert any(
        "warning: could not write the checkpoint" in m and "No space left" in m for m in msgs
    )


def test_progress_log():
    x, y = data(100, 2, 4)
    msgs: list[str] = []
    train_ensemble(spec_for([2, 5, 5, 4], 50, (0, 1)), x, y, x, y, log=msgs.append, log_every_s=0.0)
    assert len(msgs) == 50
    assert all(k in msgs[-1] for k in ("step 50/50", "steps/s", "net-steps/s", "ETA", "train loss"))


def test_invalid_inputs():
    x, y = data(10, 2, 4)
    with pytest.raises(ValueError, match="batch_size"):
        train_ensemble(spec_for([2, 5, 4], 5, (0,), batch_size=11), x, y, x, y, log=lambda m: None)
    with pytest.raises(ValueError, match="snapshot_steps"):
        TrainSpec(
            Architecture.from_widths([2, 5, 4]),
            0.05,
            5,
            LAM,
            5,
            (0,),
            np.array([0, 6]),
            np.array([0]),
        )
    with pytest.raises(ValueError, match="seeds"):
        TrainSpec(
            Architecture.from_widths([2, 5, 4]),
            0.05,
            5,
            LAM,
            5,
            (0, 0),
            np.array([0]),
            np.array([0]),
        )
    with pytest.raises(ValueError, match="sigmoid outputs need loss 'mse'"):
        spec_for([2, 5, 4], 5, (0,), output="sigmoid")
    with pytest.raises(ValueError, match="momentum must be in"):
        spec_for([2, 5, 4], 5, (0,), momentum=1.0)
    with pytest.raises(ValueError, match="loss must be one of"):
        spec_for([2, 5, 4], 5, (0,), loss="hinge")
    with pytest.raises(ValueError, match="weight_decay must be >= 0, got -0.1"):
        Objective(Architecture.from_widths([2, 5, 4]), weight_decay=-0.1)


def test_network_generator_is_deterministic_and_distinct():
    a, b, c = network_generator(3), network_generator(3), network_generator(4)
    ra, rb, rc = (torch.rand(4, generator=g) for g in (a, b, c))
    assert torch.equal(ra, rb) and not torch.equal(ra, rc)


def test_resolve_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training.resolve_device("auto") == "cpu" and training.resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="'cuda' was asked for but torch sees no GPU"):
        training.resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training.resolve_device("auto") == "cuda"
    with pytest.raises(ValueError, match="device must be one of"):
        spec_for([2, 3, 4], 5, (0,), device="auto")


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="no CUDA GPU here: CPU/GPU agreement is checked where one exists",
)
@pytest.mark.parametrize("order", ["independent", "shared"])
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-9), ("float32", 2e-4)])
def test_cuda_trajectories_agree_with_cpu(order, dtype, tol):
    """Same seeds, same minibatches, MNIST-shaped net: GPU and CPU runs agree to float tolerance."""
    widths = [784, 5, 5, 10]
    x, y = data(600, 784, 10)
    xt, yt = data(100, 784, 10, seed=3)
    runs = {
        dev: train_ensemble(
            spec_for(
                widths, 300, (0, 5, 9), batch_size=50, dtype=dtype, data_order=order, device=dev
            ),
            x.sigmoid(),
            y,
            xt.sigmoid(),
            yt,
            log=lambda m: None,
        )
        for dev in ("cpu", "cuda")
    }
    scale = np.abs(runs["cpu"].snapshots).max()
    np.testing.assert_allclose(
        runs["cuda"].snapshots, runs["cpu"].snapshots, rtol=0, atol=tol * scale
    )
    for k in (
        "train_loss",
        "test_loss",
        "grad_norm",
    ):  # not accuracies: one flipped prediction is 0.01
        np.testing.assert_allclose(
            runs["cuda"].metrics[k], runs["cpu"].metrics[k], rtol=50 * tol, atol=tol
        )


# ---------------------------------------------------------------------------------------------
# The other dynamics (TrainSpec.noise, sampling; docs/noise.md)

#: One spec setting of every dynamics besides the default (noise minibatch, sampling epochs).
DYNAMICS = {
    "full_batch": dict(noise="full_batch"),
    "langevin": dict(noise="langevin", temperature=1e-3),
    "minibatch_langevin": dict(noise="minibatch_langevin", temperature=1e-3),
    "persistent": dict(noise="persistent", persistence=7.0),
    "with_replacement": dict(sampling="with_replacement"),
}


@pytest.mark.parametrize("dynamics", list(DYNAMICS))
def test_noise_network_bits_do_not_depend_on_ensemble(dynamics):
    """Every draw (data order, ξ, membership) comes from the network's own generator: a network's
    bits are the same in a block of 6, a pair and alone (beside its copy)."""
    x, y = data(120, 2, 4)
    xt, yt = data(30, 2, 4, seed=3)
    run = lambda seeds: train_ensemble(
        spec_for([2, 5, 5, 4], 150, seeds, **DYNAMICS[dynamics]), x, y, xt, yt, log=lambda m: None
    )
    big = run(range(6))
    assert_same_bits(big, run((2, 5)), cols=[2, 5])
    for seed in (0, 4):
        assert_same_bits(big, run((seed,)), cols=[seed])
    assert not np.array_equal(big.snapshots[-1, 0], big.snapshots[-1, 1])


@pytest.mark.parametrize("dynamics", ["langevin", "minibatch_langevin", "persistent"])
def test_noise_wide_input_bits_do_not_depend_on_ensemble(dynamics):
    x, y = data(150, 784, 10)
    run = lambda seeds: train_ensemble(
        spec_for([784, 5, 5, 10], 30, seeds, **DYNAMICS[dynamics]), x, y, x[:40], y[:40],
        log=lambda m: None,
    )  # fmt: skip
    assert_same_bits(run(range(4)), run((1, 3)), cols=[1, 3])


@pytest.mark.parametrize("dynamics", list(DYNAMICS))
@pytest.mark.parametrize("stop", [1, 90])
def test_noise_checkpoint_resume_is_bit_identical(tmp_path, dynamics, stop, monkeypatch):
    """A killed job resumes to the same bits: the persistent batch, the noise chunk in use and the
    data order are in the checkpoint (small DRAW_CHUNK: the stop falls inside a chunk)."""
    monkeypatch.setattr(batches, "DRAW_CHUNK", 5 * 69)  # 5 steps of ξ per chunk (P = 69)
    x, y = data(100, 2, 4)
    xt, yt = data(30, 2, 4, seed=3)
    spec = spec_for([2, 5, 5, 4], 200, (5, 6, 9), batch_size=15, **DYNAMICS[dynamics])
    full = train_ensemble(spec, x, y, xt, yt, log=lambda m: None)
    ck = tmp_path / "run.ckpt"
    with monkeypatch.context() as patch, pytest.raises(Killed):
        kill_after_checkpoint(patch, stop)
        train_ensemble(
            spec, x, y, xt, yt, checkpoint=ck, checkpoint_every_s=0.0, log=lambda m: None
        )
    msgs: list[str] = []
    resumed = train_ensemble(spec, x, y, xt, yt, checkpoint=ck, log=msgs.append)
    assert any(f"at step {stop}" in m for m in msgs)
    assert_same_bits(full, resumed)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_full_batch_equals_minibatch_with_b_equal_n(momentum):
    """B = N: every minibatch is a permutation of all points, the same gradient summed in another
    order (float64: equal to rounding)."""
    x, y = data(60, 2, 4)
    kw = dict(batch_size=60, dtype="float64", momentum=momentum, lr=0.2)
    mini = train_ensemble(spec_for([2, 5, 5, 4], 200, (0, 3), **kw), x, y, x, y, log=lambda m: None)
    full = train_ensemble(
        spec_for([2, 5, 5, 4], 200, (0, 3), noise="full_batch", **kw), x, y, x, y,
        log=lambda m: None,
    )  # fmt: skip
    np.testing.assert_allclose(full.snapshots, mini.snapshots, rtol=0, atol=1e-12)
    for k in training.METRICS:
        np.testing.assert_allclose(full.metrics[k], mini.metrics[k], rtol=1e-9, atol=1e-15)
    assert np.abs(mini.snapshots[-1] - mini.snapshots[0]).max() > 0.1  # it did move
    assert np.all(full.metrics["t_sgd"] < 1e-25)  # no minibatch noise: rounding only


@pytest.mark.parametrize("dynamics", list(DYNAMICS))
def test_noise_dynamics_match_a_plain_loop(dynamics):
    """Each step of each dynamics against autograd, the batch built from the trainer's own draw
    classes fed by fresh generators in the trainer's order (init, then order or membership, then
    ξ): snapshots, batch metrics, t_sgd and Yaida's two sides, float64."""
    widths, n, b, steps, seeds = [2, 5, 5, 4], 30, 8, 12, (4, 11)
    arch, setting = Architecture.from_widths(widths), DYNAMICS[dynamics]
    x, y = data(n, 2, 4)
    spec = spec_for(
        widths, steps, seeds, n_snap=True, batch_size=b, lr=0.3, dtype="float64", **setting
    )
    res = train_ensemble(spec, x, y, x, y, log=lambda m: None)

    gens = [network_generator(s) for s in seeds]
    theta = torch.stack(
        [flatten([w[None] for w in init_layers(arch, g, torch.float64)])[0] for g in gens]
    )
    draws = batches._Draws(spec, gens, n)
    temperature = setting.get("temperature", 0.0)
    for s in range(steps + 1):
        np.testing.assert_allclose(res.snapshots[s], theta.numpy(), rtol=0, atol=1e-12)
        if draws.order is not None:
            idx = draws.order.next().view(len(seeds), b)
            weights = torch.zeros(len(seeds), n, dtype=torch.float64)
            for e in range(len(seeds)):
                weights[e].index_add_(0, idx[e], torch.ones(b, dtype=torch.float64))
        elif draws.membership is not None:
            weights = draws.membership.next().double()
        else:
            weights = torch.ones(len(seeds), n, dtype=torch.float64)
        norm = n if dynamics in ("full_batch", "langevin") else b
        th = theta.clone().requires_grad_(True)
        per_point = torch.stack([ref_point_losses(th[e], x, y, arch) for e in range(len(seeds))])
        batch_term = (per_point * weights).sum(1) / norm
        (g_batch,) = torch.autograd.grad((batch_term + LAM * (th * th).sum(1)).sum(), th)
        th2 = theta.clone().requires_grad_(True)
        (g_full,) = torch.autograd.grad(ref_loss(th2, x, y, arch).sum(), th2)
        row = {k: res.metrics[k][s] for k in training.METRICS}
        np.testing.assert_allclose(row["batch_loss"], batch_term.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(row["batch_grad_norm"], g_batch.norm(dim=1).numpy(), atol=1e-12)
        diff2 = ((g_batch - g_full) ** 2).sum(1).numpy()
        P = arch.n_params
        np.testing.assert_allclose(row["t_sgd"], spec.lr * diff2 / (2 * P), rtol=1e-8, atol=1e-20)
        np.testing.assert_allclose(row["theta_grad"], (theta * g_full).sum(1).numpy(), rtol=1e-10)
        np.testing.assert_allclose(
            row["theta_batch_grad"], (theta * g_batch).sum(1).numpy(), rtol=1e-10
        )
        rhs = spec.lr / 2 * (g_batch**2).sum(1) + temperature * P
        np.testing.assert_allclose(row["yaida_rhs"], rhs.numpy(), rtol=1e-10)
        theta = theta - spec.lr * g_batch
        if draws.kicks is not None and s < steps:
            theta = theta + draws.kicks.stream.next()
    if dynamics == "full_batch":
        assert np.all(res.metrics["t_sgd"] < 1e-25)
    else:
        assert np.all(res.metrics["t_sgd"][:-1] > 0)


def ref_point_losses(th: torch.Tensor, x: torch.Tensor, y: torch.Tensor, arch) -> torch.Tensor:
    """Cross-entropy of each point [n] of one tanh network θ [P] (autograd-able)."""
    h = x.to(th.dtype)
    layers = unflatten(th[None], arch)
    for i, w in enumerate(layers):
        h = h @ w[0, :, :-1].T + w[0, :, -1]
        h = torch.tanh(h) if i < len(layers) - 1 else h
    return F.cross_entropy(h, y, reduction="none")


def test_langevin_on_pure_l2_has_the_ou_stationary_variance(monkeypatch):
    """With the data term switched off, langevin is the discrete Ornstein–Uhlenbeck chain
    θ' = (1 - 2·lr·λ)θ + sqrt(2·lr·T)ξ: stationary variance 2·lr·T/(1 - (1 - 2·lr·λ)²), lag-1
    autocorrelation 1 - 2·lr·λ, and Yaida's ratio ⟨θ·∇L⟩/⟨(lr/2)|∇L|² + T·P⟩ = 1."""
    real = objectives._data_term

    def no_data_term(z, yi, loss, output, want_delta):
        total, correct, delta = real(z, yi, loss, output, want_delta)
        return total * 0, correct, None if delta is None else delta.zero_()

    for module in (objectives, kernel):  # the full-batch metrics and the step
        monkeypatch.setattr(module, "_data_term", no_data_term)
    lr, lam, T, steps, burn = 0.05, 1.0, 0.01, 3000, 200
    x, y = data(50, 2, 4)
    spec = TrainSpec(
        arch=Architecture.from_widths([2, 5, 5, 4]), lr=lr, batch_size=10, weight_decay=lam,
        steps=steps, seeds=tuple(range(8)), snapshot_steps=np.arange(burn, steps + 1),
        metric_steps=np.arange(burn, steps + 1, 50), dtype="float64", loss="mse",
        noise="langevin", temperature=T,
    )  # fmt: skip
    res = train_ensemble(spec, x, y, x, y, log=lambda m: None)
    a = 1 - 2 * lr * lam
    closed = 2 * lr * T / (1 - a * a)
    theta = res.snapshots  # [S, E, P], every step after the burn-in (a^burn = 7e-10)
    measured = float((theta**2).mean())
    # AR(1): θ² has autocorrelation a^(2k), so n samples count as n (1 - a²)/(1 + a²)
    n_eff = theta.size * (1 - a * a) / (1 + a * a)
    sigma = closed * np.sqrt(2 / n_eff)
    print(f"OU variance: measured {measured:.6g}, closed form {closed:.6g} ± {sigma:.2g}")
    assert abs(measured - closed) < 4 * sigma
    assert abs(float(theta.mean())) < 4 * np.sqrt(closed * (1 + a) / (1 - a) / theta.size)
    lag1 = float((theta[1:] * theta[:-1]).mean()) / measured
    assert lag1 == pytest.approx(a, abs=0.01)
    lhs, rhs = res.metrics["theta_batch_grad"], res.metrics["yaida_rhs"]
    step = np.repeat(res.metric_steps, lhs.shape[1])
    steps, ratio = dynamics.stationarity_ratio(step, lhs.reshape(-1), rhs.reshape(-1))
    assert np.array_equal(steps, res.metric_steps)
    np.testing.assert_allclose(ratio, lhs.sum(1) / rhs.sum(1), rtol=1e-12)
    print(f"Yaida ratio over steps: {ratio.mean():.4f} ± {ratio.std() / np.sqrt(len(ratio)):.4f}")
    assert float(lhs.mean() / rhs.mean()) == pytest.approx(1, abs=0.03)
    np.testing.assert_allclose(res.metrics["theta_grad"], lhs, rtol=1e-12)  # full batch: g_B = g


def test_persistent_batch_fraction_and_autocorrelation():
    """Membership of each point is a two-state chain: mean fraction b, autocorrelation
    (1 - 1/((1 - b)·τ))^t, each measured over 2000 points × 4000 steps with its standard error."""
    n, b, tau, steps = 2000, 0.1, 20.0, 4000
    member = batches._Membership([network_generator(0)], n, b, tau)
    m = torch.stack([member.next()[0] for _ in range(steps)]).double().numpy()  # [steps, n]
    per_point = m.mean(0)
    mean, se = per_point.mean(), per_point.std() / np.sqrt(n)
    print(f"persistent: mean fraction {mean:.5f} ± {se:.5f} (b = {b})")
    assert abs(mean - b) < 4 * se
    r = 1 - 1 / ((1 - b) * tau)
    dev = m - b
    for lag in (1, 5, 20, 60):
        c = (dev[lag:] * dev[:-lag]).mean(0) / (b * (1 - b))  # per point
        got, err = c.mean(), c.std() / np.sqrt(n)
        print(f"  C({lag}) = {got:.4f} ± {err:.4f}, expected {r**lag:.4f}")
        assert abs(got - r**lag) < 4 * err + 1e-3
    # the batch size fluctuates about b·N
    assert abs(m.sum(1).mean() - b * n) < 0.02 * b * n


def test_persistent_with_tau_one_over_one_minus_b_is_a_fresh_bernoulli_batch():
    """τ = 1/(1 - b): every step's batch is u < b of that step's fresh uniforms (no memory)."""
    n, b = 500, 0.2
    member = batches._Membership([network_generator(1)], n, b, 1 / (1 - b))
    fresh = batches._Stream([network_generator(1)], n, "uniform", torch.float32)
    for _ in range(300):
        assert torch.equal(member.next()[0], fresh.next()[0] < b)
    m = torch.stack([member.next()[0] for _ in range(2000)]).double().numpy()
    dev = m - m.mean()
    assert abs((dev[1:] * dev[:-1]).mean() / dev.var()) < 0.01


def test_with_replacement_draws_independent_uniform_minibatches():
    """Epoch sampling visits every point once per epoch; with_replacement repeats points within
    an 'epoch' of N // B minibatches as i.i.d. uniform draws do."""
    gens = [network_generator(0)]
    epochs = batches._Order(gens, 100, 10)
    epoch = torch.cat([epochs.next() for _ in range(10)])
    assert torch.equal(epoch.sort().values, torch.arange(100))
    iid = batches._Order([network_generator(0)], 100, 10, replace=True)
    draws = torch.cat([iid.next() for _ in range(2000)])
    assert draws.min() >= 0 and draws.max() < 100
    counts = torch.bincount(draws, minlength=100).double()
    assert counts.mean() == 200 and abs(counts.var().item() / 200 - 1) < 0.25  # Poisson-like
    assert len(torch.cat([iid.next() for _ in range(10)]).unique()) < 100


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(noise="sgd"), "noise = 'sgd' is not allowed"),
        (dict(sampling="bootstrap"), "sampling = 'bootstrap' is not allowed"),
        (dict(noise="langevin"), "temperature = 0.0 must be > 0 for noise 'langevin'"),
        (dict(temperature=0.1), "temperature = 0.1 applies to noise langevin"),
        (dict(noise="persistent"), "persistence = None must be a number of steps >= 1"),
        (dict(noise="persistent", persistence=0.5), "persistence = 0.5 must be"),
        (dict(persistence=3.0), "persistence = 3.0 applies to noise persistent only"),
        (dict(noise="full_batch", sampling="with_replacement"), "sampling = 'with_replacement'"),
        (dict(noise="langevin", temperature=1.0, momentum=0.5), "momentum = 0.5: the Langevin"),
    ],
)
def test_invalid_dynamics_give_one_line_naming_the_key(change, message):
    with pytest.raises(ValueError) as err:
        spec_for([2, 5, 4], 5, (0,), **change)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_persistent_needs_a_batch_fraction_below_one():
    x, y = data(20, 2, 4)
    with pytest.raises(ValueError, match="batch_size = 20 must be below n_train = 20"):
        train_ensemble(
            spec_for([2, 5, 4], 5, (0,), noise="persistent", persistence=2.0), x, y, x, y,
            log=lambda m: None,
        )  # fmt: skip
    x, y = data(25, 2, 4)  # b = 0.8: τ >= 4
    with pytest.raises(ValueError, match=r"persistence = 2.0 must be >= b/\(1 - b\) = 4"):
        train_ensemble(
            spec_for([2, 5, 4], 5, (0,), noise="persistent", persistence=2.0), x, y, x, y,
            log=lambda m: None,
        )  # fmt: skip
