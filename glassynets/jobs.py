"""The stage contract: what every workflow job receives, whatever it computes.

A job is ``glassynets <stage> --settings JSON --in NAME=PATH ... --out NAME=PATH ...``: its
settings (one JSON object, built from the validated config by :mod:`glassynets.settings`; its
key ``cell``, when present, names the job's cell: the wildcards of its rule, e.g. N and the
architecture, kept apart from the settings that are stored in its outputs), its input files by name (a name given several times holds several files, in order) and its output
files by name. Each stage is a function ``stage(job: Job) -> None`` beside its science that reads
the inputs, computes and writes the outputs; the command line (:mod:`glassynets.cli`) only parses
this contract and calls it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def log(message: str) -> None:
    """A job's progress line, time-stamped (the job's log file under the workflow)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Job:
    """One job of a stage: settings, named inputs and outputs, and how to run (threads, resume)."""

    settings: dict[str, Any]  # the job's settings (glassynets.settings builds them)
    cell: dict[str, Any] = field(default_factory=dict)  # which cell: the rule's wildcards
    inputs: dict[str, list[str]] = field(default_factory=dict)  # name -> paths, in order given
    outputs: dict[str, str] = field(default_factory=dict)  # name -> path
    lineage: str | None = None  # identity of the outputs (glassynets.lineage), stored in each
    threads: int = 1  # torch threads (one per job avoids oversubscription)
    checkpoint: str | None = None  # resume path that outlives a killed job; not an output
    checkpoint_every_s: float = 600.0  # seconds between two checkpoints
    log: Callable[[str], None] = log

    def input(self, name: str) -> str:
        """The one file given as input ``name``."""
        paths = self.inputs.get(name, [])
        if len(paths) != 1:
            raise ValueError(f"--in {name}=PATH: expected one file, got {len(paths)}")
        return paths[0]

    def optional_input(self, name: str) -> str | None:
        """The file given as input ``name``, or None when none was given."""
        return self.input(name) if self.inputs.get(name) else None

    def input_list(self, name: str) -> list[str]:
        """Every file given as input ``name``, in the order given (none: an empty list)."""
        return list(self.inputs.get(name, []))

    def output(self, name: str) -> str:
        """The path of output ``name``."""
        if name not in self.outputs:
            raise ValueError(f"--out {name}=PATH: missing")
        return self.outputs[name]

    def meta(self, meta: dict[str, Any]) -> dict[str, Any]:
        """``meta`` with this job's lineage (glassynets.lineage), when the workflow gave one."""
        from . import lineage

        return {**meta, lineage.KEY: self.lineage} if self.lineage else meta
