"""The training loop: train_ensemble and its resuming wrapper train_resumable."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..dynamics import ALL_POINTS
from ..nets import init_layers
from .batches import _AllPoints, _Batches, _Draws
from .checkpoint import StaleCheckpointError, _Checkpoint, _fingerprint
from .kernel import _Ensemble
from .objective import _augment
from .recording import _check_data, _Progress, _Recording
from .spec import TrainResult, TrainSpec, network_generator


def train_resumable(
    spec: TrainSpec,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    checkpoint: Path | None,
    checkpoint_every_s: float,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """:func:`train_ensemble`, resuming from ``checkpoint`` when it belongs to this run and
    starting afresh (with a note) when it belongs to other settings."""
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)

    def run() -> TrainResult:
        return train_ensemble(
            spec,
            x_train,
            y_train,
            x_test,
            y_test,
            checkpoint=checkpoint,
            checkpoint_every_s=checkpoint_every_s,
            log=log,
        )

    try:
        return run()
    except StaleCheckpointError as err:
        log(f"{err}: the settings changed since it was written, so training starts afresh")
        checkpoint.unlink()
        return run()


def train_ensemble(
    spec: TrainSpec,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    checkpoint: Path | None = None,
    checkpoint_every_s: float = 60.0,
    log: Callable[[str], None] = print,
    log_every_s: float = 20.0,
) -> TrainResult:
    """Train len(spec.seeds) networks with plain SGD for spec.steps steps; see the package doc.

    x_* [n, d] float features, y_* [n] int64 labels in [0, arch.n_out). Snapshots and metrics are
    recorded with θ before the update of their step; at step == spec.steps no update is made and
    the batch metrics use the minibatch that step would use.
    checkpoint: if given, the full state is written there atomically every checkpoint_every_s
    seconds of wall time and once at the end; if it exists at start and matches this spec and
    data, training resumes from it and ends in the same bits as an uninterrupted run. A checkpoint
    of another run raises StaleCheckpointError. The caller deletes it once the outputs are safely written.
    Raises DivergenceError (naming seeds and step) if any network is non-finite at a recorded step.
    Does not set torch's thread count: call torch.set_num_threads(1) (one process per core).
    """
    _check_data(spec, x_train, y_train, x_test, y_test)
    run = _start(spec, x_train, y_train, x_test, y_test, checkpoint, log)
    progress = _Progress(spec, run.start, log, log_every_s)
    if torch.get_num_threads() > 1:
        log(
            f"note: torch uses {torch.get_num_threads()} threads; this trainer is fastest with "
            "torch.set_num_threads(1) and one process per core"
        )
    _steps(run, checkpoint_every_s, progress)
    return run.rec.result()


@dataclass
class _Run:
    """A run ready to step from ``start``: the networks, their generators and draws, what feeds
    each step, what is recorded, and the checkpoint (None: none kept)."""

    spec: TrainSpec
    net: _Ensemble
    gens: list[torch.Generator]
    draws: _Draws
    batches: _AllPoints | _Batches
    rec: _Recording
    saver: _Checkpoint | None
    start: int


def _start(
    spec: TrainSpec,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    checkpoint: Path | None,
    log: Callable[[str], None],
) -> _Run:
    """The run at step 0, or where ``checkpoint`` left it. The order of the draws is fixed: each
    network's generator gives its initialisation first, then its data order and noise."""
    E, dev = len(spec.seeds), torch.device(spec.device)
    y_train, y_test = y_train.long().contiguous(), y_test.long().contiguous()
    fingerprint = _fingerprint(x_train, y_train, x_test, y_test) if checkpoint is not None else None
    x_train, y_train, x_test, y_test = (t.to(dev) for t in (x_train, y_train, x_test, y_test))
    x_aug = _augment(x_train, spec.torch_dtype)  # [n, d+1]
    gens = [network_generator(s) for s in spec.seeds]
    layers = [
        torch.stack(ws).to(dev)
        for ws in zip(*(init_layers(spec.arch, g, spec.torch_dtype, spec.init) for g in gens))
    ]
    draws = _Draws(spec, gens, len(y_train))
    rec = _Recording(spec, (x_aug, y_train, _augment(x_test, spec.torch_dtype), y_test))
    saver = _Checkpoint(checkpoint, spec, fingerprint, log) if checkpoint is not None else None
    saved = saver.load(gens, draws, rec) if saver is not None else None
    points = len(y_train) if spec.noise in ALL_POINTS else None
    net = _ensemble(spec, layers, saved, points, dev)
    batches = (
        _AllPoints(net, x_aug, y_train, draws.membership)
        if points
        else _Batches(spec, net, x_aug, y_train, draws.order, E)
    )
    start = saved["step"] if saved else 0
    return _Run(spec, net, gens, draws, batches, rec, saver, start)


def _ensemble(
    spec: TrainSpec,
    layers: list[torch.Tensor],
    saved: dict | None,
    points: int | None,
    dev: torch.device,
) -> _Ensemble:
    """The stacked networks: the initial ``layers`` [E, out, in+1], or the checkpoint's."""
    E = len(spec.seeds)
    # MKL runs a batch of one matrix product through other kernels than a batch of several (measured:
    # baddbmm_ with a long inner dimension rounds differently), so a lone network trains beside a
    # copy of itself that follows its minibatches and is dropped: R = max(E, 2) networks run.
    return (
        _Ensemble(
            [w.to(dev) for w in saved["layers"]],
            spec,
            [v.to(dev) for v in saved["velocity"]] or None,
            points,
        )
        if saved
        else _Ensemble([w.repeat(max(E, 2) // E, 1, 1) for w in layers], spec, None, points)
    )


def _steps(run: _Run, checkpoint_every_s: float, progress: _Progress) -> None:
    """Steps run.start .. spec.steps, a checkpoint every checkpoint_every_s seconds and at the end."""
    spec, net, draws, rec, saver = run.spec, run.net, run.draws, run.rec, run.saver
    t_saved = time.perf_counter()
    for s in range(run.start, spec.steps + 1):
        if (
            saver is not None
            and s > run.start
            and time.perf_counter() - t_saved >= checkpoint_every_s
        ):
            saver.save_or_warn(s, net, run.gens, draws, rec)
            t_saved = time.perf_counter()
        metrics_due = rec.metrics_due(s)
        rec.before_update(s, net.W)
        if s == spec.steps and not metrics_due:
            break
        batch = run.batches.step(update=s < spec.steps, batch_metrics=metrics_due)
        if draws.kicks is not None and s < spec.steps:
            draws.kicks.apply(net.W)
        rec.after_update(batch)
        progress.tick(s, rec)
    if saver is not None:
        saver.save_or_warn(spec.steps + 1, net, run.gens, draws, rec)
