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

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Key of a job's lineage (glassynets.lineage) in what it writes: Parquet metadata, PNG text.
LINEAGE_KEY = "lineage"


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
        return {**meta, LINEAGE_KEY: self.lineage} if self.lineage else meta


@dataclass(frozen=True)
class Stage:
    """A workflow stage: its function and the names of its inputs and outputs ("name?": optional,
    "name*": any number of files, in order)."""

    target: str  # "module:function" of glassynets, the function taking a Job
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    help: str

    def job(self, name: str, settings_json: str, inputs, outputs, **how: Any) -> Job:
        """The job of a command line: its settings (a JSON object), --in and --out NAME=PATH
        items (checked against the stage's names), and ``how`` (lineage, threads, checkpoint)."""
        given = {"--in": pairs("--in", inputs), "--out": pairs("--out", outputs)}
        for option, declared in (("--in", self.inputs), ("--out", self.outputs)):
            _check_names(name, option, given[option], declared)
        settings = json_object("--settings", settings_json)
        cell = settings.pop("cell", {})
        files = {n: paths[0] for n, paths in given["--out"].items()}
        return Job(settings, cell, given["--in"], files, **how)

    def run(self, job: Job) -> None:
        """Run the stage's function on ``job``, holding its checkpoint's lock throughout."""
        import importlib

        from .storage import exclusive_lock

        module, _, function = self.target.partition(":")
        stage = getattr(importlib.import_module(f"glassynets.{module}"), function)
        held = exclusive_lock(job.checkpoint) if job.checkpoint else contextlib.nullcontext()
        with held:  # from before the inputs are read until the checkpoint is gone
            stage(job)


def in_options(inputs: dict[str, str | list[str]]) -> str:
    """A job's inputs as its command line gives them: --in NAME=PATH for each file, in order (the
    workflow's rules build their commands with it)."""
    return " ".join(
        f"--in {name}={path}"
        for name, paths in inputs.items()
        for path in ([paths] if isinstance(paths, str) else paths)
    )


def json_object(option: str, text: str) -> dict:
    """The value of a JSON option (--settings): a JSON object, else a ValueError naming it."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{option}: not a JSON object ({err}): give the settings themselves, e.g. "
            """'{"lr": 0.05, ...}' as the workflow's rules do, not a file name"""
        ) from None
    if not isinstance(value, dict):
        raise ValueError(f"{option}: expected a JSON object {{...}}, got {text[:60]!r}")
    return value


def pairs(option: str, items: list[str] | None) -> dict[str, list[str]]:
    """NAME=PATH items of a repeated option, by name, in the order given."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{option} {item!r}: expected NAME=PATH, e.g. {option} train=PATH")
        out.setdefault(name, []).append(path)
    return out


def _check_names(stage: str, option: str, given: dict[str, list[str]], declared) -> None:
    """Every name given is declared, and every required name is given once (many: "name*")."""
    names = {d.rstrip("?*"): d[-1] if d[-1] in "?*" else "" for d in declared}
    for name, paths in given.items():
        if name not in names:
            raise ValueError(
                f"{stage}: unknown {option} {name}=...; it takes {', '.join(names) or 'none'}"
            )
        if len(paths) > 1 and names[name] != "*":
            raise ValueError(f"{stage}: {option} {name}=... given {len(paths)} times, once wanted")
    for name, kind in names.items():
        if kind == "" and name not in given:
            raise ValueError(f"{stage}: {option} {name}=PATH is required")


# --- the job's process: its log, SIGTERM, and the snakemake that started it


def redirect_output(log_file: str):
    """Send everything this process writes (Python's and libraries' stdout and stderr) to
    ``log_file``; returns the console's stderr, for the one line an error leaves there."""
    console = os.fdopen(os.dup(2), "w")
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return console


def report(line: str, console, log_file: str | None) -> None:
    """An error's line in the log and, under the workflow, on the console too."""
    print(line, file=sys.stderr, flush=True)
    if log_file:
        print(f"{line} (log: {log_file})", file=console, flush=True)


def stop_on_sigterm() -> None:
    """SIGTERM (Snakemake stopping its jobs, scancel, stop_with_parent) unwinds like an error, so
    that locks and temporary files are cleaned up; checkpoints are written atomically."""

    def terminated(signum: int, frame) -> None:
        log("stopped by SIGTERM")
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)


#: Seconds between two looks at whether the process that started this one is still there.
PARENT_POLL_S = 2.0


def stop_with_parent(parent: int) -> None:
    """Stop this process (SIGTERM) once ``parent`` is no longer its parent: a job left behind by a
    killed snakemake would otherwise go on writing its checkpoint and log beside the next run's.
    (The PID comes from the shell that exec'd this process, so a parent that died even before
    this process started is noticed too.)"""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        log(f"the process that started this job (PID {parent}) has gone: stopping")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()
