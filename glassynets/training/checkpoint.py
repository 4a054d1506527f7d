"""The resume file of a run: its full state, written atomically, accepted back only by the same
spec, data and format."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from ..storage import replace_atomically
from .batches import _Draws
from .kernel import _Ensemble
from .recording import _Recording
from .spec import TrainSpec

_CHECKPOINT_VERSION = 4


class StaleCheckpointError(ValueError):
    """A checkpoint file belongs to another run (its spec, data or format differ)."""


def _fingerprint(*tensors: torch.Tensor) -> str:
    """sha256 (hex) of the tensors' shapes, dtypes and bytes: which data a checkpoint belongs to."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class _Checkpoint:
    """The full state of a run (networks, generators, data order, recordings) in one file, written
    atomically; loading accepts only a file of this spec, these data and this format."""

    def __init__(
        self, path: Path, spec: TrainSpec, data_fingerprint: str, log: Callable[[str], None]
    ):
        self.path, self.spec, self.fingerprint, self.log = Path(path), spec, data_fingerprint, log

    def save(
        self, step: int, net: _Ensemble, gens: list[torch.Generator], draws: _Draws, rec: _Recording
    ) -> None:
        state = {
            "version": _CHECKPOINT_VERSION,
            "spec": self.spec.describe(),
            "data": self.fingerprint,
            "step": step,
            "layers": [w.cpu() for w in net.W],
            "velocity": [v.cpu() for v in net.V if v is not None],
            "gen_states": [g.get_state() for g in gens],
            "draws": draws.state(),
            **rec.state(),
        }
        replace_atomically(self.path, lambda tmp: torch.save(state, tmp))

    def save_or_warn(self, *args) -> None:
        """A failed write (disk full, read-only) is a warning: the run goes on, a kill restarts from the last good one."""
        try:
            self.save(*args)
        except (OSError, RuntimeError) as err:  # torch.save reports a full disk as a RuntimeError
            free = shutil.disk_usage(self.path.parent).free
            self.log(
                f"warning: could not write the checkpoint {self.path} ({err}; {free / 2**20:.1f} MiB free there); "
                "training goes on"
            )

    def load(self, gens: list[torch.Generator], draws: _Draws, rec: _Recording) -> dict | None:
        """The saved state (its step, layers and velocity), restoring generators, draws and recordings; None if no file."""
        if not self.path.exists():
            return None
        ck = torch.load(self.path, weights_only=True)
        if (
            ck.get("version") != _CHECKPOINT_VERSION
            or ck.get("spec") != self.spec.describe()
            or ck.get("data") != self.fingerprint
        ):
            raise StaleCheckpointError(
                f"checkpoint {self.path} belongs to a different run (spec, data or format differ); "
                "delete it to start afresh"
            )
        for g, st in zip(gens, ck["gen_states"]):
            g.set_state(st)
        draws.load(ck["draws"])
        rec.load(ck)
        self.log(f"resumed from {self.path} at step {ck['step']}")
        return ck
