"""What a run records and checks: snapshots, the online two-time observables, the full-batch
and minibatch metrics, the divergence checks, the input checks and the progress log."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ..dynamics import problem
from ..nets import flatten
from ..two_time import Recorder
from .objective import _evaluate
from .spec import METRICS, DivergenceError, TrainResult, TrainSpec

# Divergence without NaN: a network whose full-batch training loss stays above this many times its
# first recorded value for DIVERGED_WINDOW metric points in a row (or at the last step), or one
# with a parameter beyond ±THETA_MAX, stops the job like a non-finite value does.
DIVERGED_LOSS_FACTOR = 10.0
DIVERGED_WINDOW = 3
THETA_MAX = 1e4


def _check_data(spec: TrainSpec, x_train, y_train, x_test, y_test) -> None:
    arch, (n, d) = spec.arch, x_train.shape
    if d != arch.n_in or x_test.shape[1] != arch.n_in:
        raise ValueError(f"data has {d} features, architecture expects {arch.n_in}")
    if spec.batch_size > n:
        raise ValueError(f"batch_size {spec.batch_size} exceeds the {n} training points")
    wrong = problem(
        spec.noise,
        spec.sampling,
        spec.temperature,
        spec.persistence,
        spec.momentum,
        spec.batch_size,
        n,
    )
    if wrong is not None:
        raise ValueError(f"{wrong[0]} {wrong[1]}")
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        bad = (~torch.isfinite(x)).nonzero()
        if len(bad):
            row, column = (int(i) for i in bad[0])
            raise ValueError(
                f"non-finite input: {name} row {row}, feature {column} is {float(x[row, column])} "
                f"({len(bad)} such values); the data table is at fault, not the training settings"
            )
    for name, yy, m in (("y_train", y_train, n), ("y_test", y_test, x_test.shape[0])):
        if yy.shape != (m,) or (m and (int(yy.min()) < 0 or int(yy.max()) >= arch.n_out)):
            raise ValueError(f"{name} must be [n] int labels in [0, {arch.n_out})")


def _dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Σ over layers of the per-network dot products of stacked layers [E, out, in+1]: [E]."""
    return sum((x * y).sum(dim=(1, 2)) for x, y in zip(a, b))


class _Recording:
    """What a run records at step s, with θ(s) before that step's update: snapshots, the online
    two-time observables, the full-batch metrics (and, after the step, the minibatch ones), and
    the divergence checks at each of them. Its state goes into the checkpoint."""

    def __init__(self, spec: TrainSpec, data: tuple[torch.Tensor, ...]):
        E, P = len(spec.seeds), spec.arch.n_params
        self.spec, self.data, self.E, self.seeds = spec, data, E, np.array(spec.seeds)
        self.snapshots = np.empty((len(spec.snapshot_steps), E, P), dtype=spec.dtype)
        self.metrics = {k: np.full((len(spec.metric_steps), E), np.nan) for k in METRICS}
        self.two_time = (
            Recorder(spec.waiting_times, spec.lags, spec.steps, spec.overlap_eps, E, P, spec.dtype)
            if len(spec.waiting_times)
            else None
        )
        self.si, self.mi, self.last_ok, self.last_loss, self.row = 0, 0, None, float("nan"), None
        self.theta = self.full = None  # θ(s) and the full-batch gradient, float64, per layer

    def metrics_due(self, s: int) -> bool:
        return self.mi < len(self.spec.metric_steps) and self.spec.metric_steps[self.mi] == s

    def before_update(self, s: int, W: list[torch.Tensor]) -> None:
        spec, E = self.spec, self.E
        snap = self.si < len(spec.snapshot_steps) and spec.snapshot_steps[self.si] == s
        pair = self.two_time is not None and s in self.two_time.steps
        self.row = None
        if snap or self.metrics_due(s):
            self._check(
                s,
                "non-finite parameters",
                torch.stack([w[:E].reshape(E, -1).isfinite().all(1) for w in W]).all(0),
            )
            self._check(
                s,
                f"a parameter beyond ±{THETA_MAX:g}",
                torch.stack([w[:E].reshape(E, -1).abs().amax(1) <= THETA_MAX for w in W]).all(0),
            )
        if snap or pair:
            theta = flatten(W)[:E].cpu().numpy()
            if snap:
                self.snapshots[self.si] = theta
                self.si += 1
            if pair:
                self.two_time.record(s, theta)
        if self.metrics_due(s):  # full-batch metrics of θ(s), before this step's update
            x_aug, y_train, xt_aug, y_test = self.data
            ce, acc, grads = _evaluate(W, x_aug, y_train, spec.objective, want_grad=True)
            full = [g + 2 * spec.weight_decay * w for g, w in zip(grads, W)]
            gn = sum(f.square().sum(dim=(1, 2), dtype=torch.float64) for f in full)
            tce, tacc, _ = _evaluate(W, xt_aug, y_test, spec.objective, want_grad=False)
            self._check(s, "non-finite training loss", ce[:E].isfinite())
            self._check_loss(s, ce[:E].cpu().numpy())
            self.theta = [w.to(torch.float64, copy=True) for w in W]  # W changes in place
            self.full = [f.double() for f in full]
            self.row = dict(
                train_loss=ce,
                train_acc=acc,
                test_loss=tce,
                test_acc=tacc,
                grad_norm=gn.sqrt(),
                theta_grad=_dot(self.theta, self.full),
            )
        if snap or self.row is not None:
            self.last_ok = s  # every check of this step passed

    def after_update(self, batch: list[torch.Tensor] | None) -> None:
        """The minibatch metrics of the step whose full-batch metrics were just taken."""
        if self.row is None:
            return
        spec, g_batch = self.spec, [g.double() for g in batch[2:]]
        diff = [a - b for a, b in zip(g_batch, self.full)]
        self.row.update(
            batch_loss=batch[0],
            batch_grad_norm=batch[1],
            t_sgd=spec.lr * _dot(diff, diff) / (2 * spec.arch.n_params),
            theta_batch_grad=_dot(self.theta, g_batch),
            yaida_rhs=spec.lr / 2 * _dot(g_batch, g_batch) + spec.temperature * spec.arch.n_params,
        )
        self.theta = self.full = None
        for k, v in self.row.items():
            self.metrics[k][self.mi] = v[: self.E].cpu().numpy()
        self.last_loss = float(self.row["train_loss"][: self.E].mean())
        self.mi += 1

    def _check(self, step: int, what: str, ok: torch.Tensor) -> None:
        bad = ~torch.as_tensor(ok)
        if bool(bad.any()):
            n_bad = int(bad.sum())
            which = ", ".join(str(s) for s in self.seeds[bad.cpu().numpy()][:10]) + (
                " ..." if n_bad > 10 else ""
            )
            since = (
                f"fine at step {self.last_ok}"
                if self.last_ok is not None
                else "never checked before"
            )
            raise DivergenceError(
                f"seed{'s' if n_bad > 1 else ''} {which} diverged: {what} at step {step} "
                f"({since}); lower lr (now {self.spec.lr})"
            )

    def _check_loss(self, step: int, loss: np.ndarray) -> None:
        """Loss far above its first recorded value for DIVERGED_WINDOW points in a row, or at the end."""
        mi, train_loss = self.mi, self.metrics["train_loss"]
        first = train_loss[0] if mi else loss
        recent = np.vstack([train_loss[max(0, mi - DIVERGED_WINDOW + 1) : mi], loss[None]])
        high = (recent > DIVERGED_LOSS_FACTOR * first).all(axis=0)
        if len(recent) < DIVERGED_WINDOW and step < self.spec.steps:
            high[:] = False
        when = "at the end" if step == self.spec.steps else f"for {DIVERGED_WINDOW} metric points"
        self._check(
            step, f"training loss above {DIVERGED_LOSS_FACTOR:g}× its initial value ({when})", ~high
        )

    def state(self) -> dict:
        return {
            "si": self.si,
            "mi": self.mi,
            "last_ok": self.last_ok,
            "snapshots": torch.from_numpy(self.snapshots[: self.si].copy()),
            "metrics": {k: torch.from_numpy(v[: self.mi].copy()) for k, v in self.metrics.items()},
            "two_time": (
                {k: torch.from_numpy(v) for k, v in self.two_time.state().items()}
                if self.two_time is not None
                else {}
            ),
        }

    def load(self, state: dict) -> None:
        self.si, self.mi, self.last_ok = state["si"], state["mi"], state["last_ok"]
        self.snapshots[: self.si] = state["snapshots"].numpy()
        for k in METRICS:
            self.metrics[k][: self.mi] = state["metrics"][k].numpy()
        if self.two_time is not None:
            self.two_time.load({k: v.numpy() for k, v in state["two_time"].items()})

    def result(self) -> TrainResult:
        spec = self.spec
        return TrainResult(
            spec.snapshot_steps.copy(),
            self.snapshots,
            spec.metric_steps.copy(),
            self.metrics,
            self.two_time,
        )


class _Progress:
    """A log line every log_every_s seconds: step, rate, ETA and the last mean training loss."""

    def __init__(self, spec: TrainSpec, start: int, log: Callable[[str], None], every_s: float):
        self.spec, self.start, self.log, self.every_s = spec, start, log, every_s
        self.t0 = self.t_log = time.perf_counter()

    def tick(self, s: int, rec: _Recording) -> None:
        now, steps = time.perf_counter(), self.spec.steps
        if s < steps and now - self.t_log >= self.every_s:
            rate = (s + 1 - self.start) / (now - self.t0)
            self.log(
                f"step {s + 1}/{steps} ({100 * (s + 1) / steps:.1f}%)  {rate:,.0f} steps/s  "
                f"{rate * rec.E:,.0f} net-steps/s  ETA {_fmt_time((steps - s - 1) / rate)}  "
                f"mean train loss {rec.last_loss:.4f} (step {rec.last_ok})"
            )
            self.t_log = now


def _fmt_time(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
