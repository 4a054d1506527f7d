"""Aging of any PyTorch model: the two-time observables of a user's own training loop.

    recorder = glassynets.AgingRecorder(model.parameters(), steps=2000)
    for step in range(2000):
        recorder.observe(step)              # θ before this step's update
        loss = loss_fn(model(x), y); optimizer.zero_grad(); loss.backward(); optimizer.step()
    recorder.observe(2000)                  # θ after the last update
    recorder.to_parquet("runs.parquet", run=seed)

then ``glassynets analyse runs.parquet --delta-star 1e-3 --out aging/``. The measurement is the
trainer's own (two_time.Recorder, one implementation): Δ, D and Q_ε(t_w, t_w + t) at every lag t
from 1 on the log grid of the workflow, θ being all parameters flattened in the order given, and
the table is the workflow's ``two_time`` table (storage.SCHEMAS, units and provenance included).
Memory: θ(t_w) of every waiting time passed, W·P values of the parameters' dtype on their device
(W ≈ waiting_times_per_decade · log10(steps)). A step off the grid costs a few comparisons; a grid
step flattens θ once and compares it with the θ(t_w) whose lag lands there. docs/recorder.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import two_time


class AgingRecorderError(ValueError):
    """A recorder used in a way that would give wrong or no numbers (one line saying which)."""


def _default(key: str) -> Any:
    from . import config

    return config.default(key)


class AgingRecorder:
    """Δ, D and Q_ε(t_w, t_w + t) of one run of any model, measured online.

    params: the tensors that make θ (``model.parameters()``, or a module: its parameters, read
    again at every grid step), any float dtype, all on one device (CPU or CUDA). steps: the run's
    last step (its number of updates). waiting_times_per_decade, lags_per_decade, overlap_eps: the
    grid and the ε of the overlaps (parameter units); None: the workflow's defaults (the config
    schema's: 10, 20 and [0.01, 0.1]).

    Call :meth:`observe` once per step, step = 0, 1, ..., steps, before the optimizer's update of
    that step (step 0: the initial θ; step ``steps``: θ after the last update). Then
    :meth:`table` or :meth:`to_parquet`.
    """

    def __init__(
        self,
        params,
        steps: int,
        waiting_times_per_decade: int | None = None,
        lags_per_decade: int | None = None,
        overlap_eps: Iterable[float] | None = None,
    ):
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
            raise AgingRecorderError(
                f"AgingRecorder: steps must be an integer >= 2 (the run's number of updates), "
                f"got {steps!r}"
            )
        self.module = params if isinstance(params, torch.nn.Module) else None
        tensors = self._tensors(params)
        if not tensors:
            raise AgingRecorderError("AgingRecorder: no parameters given (an empty iterable)")
        devices = sorted({str(p.device) for p in tensors})
        if len(devices) > 1:
            raise AgingRecorderError(
                f"AgingRecorder: the parameters are on several devices ({', '.join(devices)}); "
                "θ must live on one"
            )
        for i, p in enumerate(tensors):
            if not p.is_floating_point():
                raise AgingRecorderError(
                    f"AgingRecorder: parameter {i} is {p.dtype}, not floating point"
                )
        self.params = tensors
        self.shapes = [tuple(p.shape) for p in tensors]
        self.n_params = sum(p.numel() for p in tensors)
        self.device = tensors[0].device
        self.dtype = tensors[0].dtype
        for p in tensors[1:]:
            self.dtype = torch.promote_types(self.dtype, p.dtype)
        self.steps = int(steps)
        self.waiting_times_per_decade = int(
            waiting_times_per_decade or _default("waiting_times_per_decade")
        )
        self.lags_per_decade = int(lags_per_decade or _default("lags_per_decade"))
        eps = _default("overlap_eps") if overlap_eps is None else list(overlap_eps)
        if any(not e > 0 for e in eps):
            raise AgingRecorderError(f"AgingRecorder: overlap_eps must be positive, got {eps}")
        waiting_times, lags = two_time.grid(
            self.steps, self.waiting_times_per_decade, self.lags_per_decade
        )
        self.recorder = two_time.Recorder(
            waiting_times,
            lags,
            self.steps,
            eps,
            1,
            self.n_params,
            self.dtype,
            device=self.device,
        )
        self.grid_steps = np.array(sorted(self.recorder.steps), dtype=np.int64)
        self._k = 0  # index of the next grid step
        self._next = int(self.grid_steps[0])
        self._last = -1  # the last step observed
        self._last_finite = None

    @staticmethod
    def _tensors(params) -> list[torch.Tensor]:
        if isinstance(params, torch.nn.Module):
            params = params.parameters()
        if isinstance(params, torch.Tensor):
            params = [params]
        tensors = list(params)
        for i, p in enumerate(tensors):
            if not isinstance(p, torch.Tensor):
                raise AgingRecorderError(
                    f"AgingRecorder: parameter {i} is a {type(p).__name__}, not a torch tensor"
                )
        return tensors

    @property
    def waiting_times(self) -> np.ndarray:
        return self.recorder.waiting_times

    @property
    def lags(self) -> np.ndarray:
        return self.recorder.lags

    @property
    def memory_bytes(self) -> int:
        """Bytes of θ(t_w) kept on the parameters' device: W·P values of their dtype."""
        return self.recorder.refs.numel() * self.recorder.refs.element_size()

    @property
    def complete(self) -> bool:
        """Every step of the grid observed."""
        return self._k == len(self.grid_steps)

    def observe(self, step: int, params=None) -> None:
        """θ at ``step`` (before that step's update). ``params``: the tensors of θ now, when the loop
        makes new ones each step (functional updates); default: those given to the recorder."""
        if step == self._next:
            self._record(step, params)
        elif step < self._next and step > self._last:
            self._last = step
        else:
            self._refuse(step)

    def _refuse(self, step) -> None:
        if step <= self._last:
            raise AgingRecorderError(
                f"AgingRecorder.observe({step}) after observe({self._last}): steps must increase, "
                "one call per step"
            )
        if step > self.steps:
            raise AgingRecorderError(
                f"AgingRecorder.observe({step}) is past the run's last step (steps={self.steps})"
            )
        what = "a waiting time t_w" if self._next in self.recorder.ref_index else "a step t_w + t"
        raise AgingRecorderError(
            f"AgingRecorder.observe({step}) skipped step {self._next}, {what} of the grid "
            f"(observed last: {self._last}); call observe at every step, before the update"
        )

    def _record(self, step: int, params) -> None:
        if self.complete:  # step == steps + 1, the sentinel once the grid is done
            self._refuse(step)
        theta = self._theta(step, params)
        self.recorder.record(int(step), theta[None])
        self._last = step
        self._k += 1
        self._next = (
            int(self.grid_steps[self._k]) if self._k < len(self.grid_steps) else self.steps + 1
        )

    def _theta(self, step: int, params) -> torch.Tensor:
        if params is not None:
            tensors = self._tensors(params)
        elif self.module is not None:
            tensors = self._tensors(self.module)
        else:
            tensors = self.params
        if len(tensors) != len(self.shapes):
            raise AgingRecorderError(
                f"AgingRecorder.observe({step}): {len(tensors)} parameter tensors, but the "
                f"recorder was made with {len(self.shapes)}; θ must keep its parameters"
            )
        for i, (p, shape) in enumerate(zip(tensors, self.shapes)):
            if tuple(p.shape) != shape:
                raise AgingRecorderError(
                    f"AgingRecorder.observe({step}): parameter {i} has shape {tuple(p.shape)}, "
                    f"but {shape} when the recorder was made; θ must keep its shapes"
                )
            if p.device != self.device:
                raise AgingRecorderError(
                    f"AgingRecorder.observe({step}): parameter {i} is on {p.device}, the "
                    f"recorder's θ(t_w) on {self.device}"
                )
        with torch.no_grad():
            theta = torch.cat([p.detach().reshape(-1).to(self.dtype) for p in tensors])
            # a float64 sum is finite when every value is, and cannot overflow for float32 or
            # narrower θ: a quarter of the cost of isfinite over P values, taken only if it fails
            finite = bool(torch.isfinite(theta.sum(dtype=torch.float64))) or bool(
                torch.isfinite(theta).all()
            )
        if not finite:
            bad = int((~torch.isfinite(theta)).sum())
            since = (
                f"finite at step {self._last_finite}"
                if self._last_finite is not None
                else "first step checked"
            )
            raise AgingRecorderError(
                f"AgingRecorder.observe({step}): θ is not finite at step {step} ({bad:,} of "
                f"{self.n_params:,} parameters NaN or inf; {since}): the run diverged"
            )
        self._last_finite = step
        return theta

    # --- the table -------------------------------------------------------------------------

    def table(self, run: int = 0) -> dict[str, np.ndarray]:
        """The measured pairs as the columns of a ``two_time`` table (storage.SCHEMAS): seed (the
        run), t_w, t, delta, fourth [rows] and overlap [rows, K]. Needs every grid step observed."""
        if not self.complete:
            last = int(self.grid_steps[-1])
            raise AgingRecorderError(
                f"AgingRecorder: the run is incomplete, observed through step {self._last} of "
                f"{last} (its last grid step): observe every step up to {last} (observe("
                f"{self.steps}) after the loop for θ after the last update)"
            )
        return self.recorder.columns(np.array([int(run)]))

    def metadata(self, **extra) -> dict[str, Any]:
        """What the file says about the run: the grid, P, the parameters' shapes, dtype and device,
        plus ``extra`` (e.g. arch: the model's name, which labels the figures; lr, batch_size,
        dataset, n_train)."""
        return {
            "recorder": "glassynets.AgingRecorder",
            "steps": self.steps,
            "n_params": self.n_params,
            "waiting_times_per_decade": self.waiting_times_per_decade,
            "lags_per_decade": self.lags_per_decade,
            "param_shapes": [list(s) for s in self.shapes],
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "theta_layout": "the parameters in the order given, each flattened row-major",
            **extra,
        }

    def to_parquet(self, path: str | os.PathLike, run: int, **metadata) -> Path:
        """Write (or add to) the ``two_time`` table at ``path`` as run ``run`` (the seed column);
        ``metadata`` goes into the file (JSON values: arch, the model's name; lr, ...). A file that exists must
        hold other runs of the same grid, P and metadata; their rows are kept."""
        from . import storage

        if isinstance(run, bool) or not isinstance(run, (int, np.integer)) or run < 0:
            raise AgingRecorderError(f"to_parquet: run must be an integer >= 0, got {run!r}")
        path = Path(path)
        columns = self.table(int(run))
        meta = self.metadata(**metadata)
        seeds = [int(run)]
        if path.exists():
            old, eps = storage.read_two_time(path)
            old_meta = storage.metadata(path)
            held = sorted(int(s) for s in np.unique(old["seed"]))
            if int(run) in held:
                raise AgingRecorderError(
                    f"to_parquet: {path} already holds run {run}; give each run its own run=... "
                    "(or another file)"
                )
            for key, value in meta.items():
                if old_meta.get(key) != _jsonish(value):
                    raise AgingRecorderError(
                        f"to_parquet: {path} holds runs with {key} = {old_meta.get(key)!r}, this "
                        f"one has {value!r}; write it to another file"
                    )
            if not np.array_equal(eps, self.recorder.eps):
                raise AgingRecorderError(
                    f"to_parquet: {path} holds runs with overlap_eps {eps.tolist()}, this one "
                    f"{self.recorder.eps.tolist()}; write it to another file"
                )
            columns = {k: np.concatenate([old[k], columns[k]]) for k in columns}
            order = np.lexsort((columns["t"], columns["t_w"], columns["seed"]))
            columns = {k: v[order] for k, v in columns.items()}
            seeds = sorted([*held, int(run)])
        meta["seeds"] = seeds
        meta.update(storage.provenance([], {k: v for k, v in meta.items() if k != "seeds"}))
        return storage.write_two_time(path, columns, self.recorder.eps, meta)

    def __repr__(self) -> str:
        return (
            f"AgingRecorder(P={self.n_params:,}, steps={self.steps}, "
            f"{len(self.waiting_times)} t_w × {len(self.lags)} lags, device={self.device}, "
            f"θ(t_w) {self.memory_bytes / 2**20:.1f} MiB, observed through {self._last})"
        )


def _jsonish(value: Any) -> Any:
    """A metadata value as it reads back from the file's JSON (tuples become lists)."""
    import json

    from .storage import _jsonable

    return json.loads(json.dumps(value, default=_jsonable))


def memory_bytes(n_params: int, steps: int, waiting_times_per_decade: int, itemsize: int) -> int:
    """θ(t_w) memory of a recorder, before making one: W·P values of ``itemsize`` bytes."""
    n_tw = len(two_time.log_grid(1, steps - 1, waiting_times_per_decade))
    return n_tw * n_params * itemsize
