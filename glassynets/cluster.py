"""What a SLURM run (``snakemake --profile slurm``, docs/cluster.md) needs from the environment,
checked before any job is submitted.

The profile takes the account and the partition from two environment variables; Snakemake passes
an unset one on literally ("$GLASSYNETS_SLURM_ACCOUNT"), and the executor plugin then refuses
every job one by one. sbatch likewise refuses each GPU request on a cluster without GPUs. Here
each such case is one line, before anything is submitted, naming the variable to set.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

ACCOUNT = "GLASSYNETS_SLURM_ACCOUNT"
PARTITION = "GLASSYNETS_SLURM_PARTITION"
GPUS = "GLASSYNETS_GPUS"
# The job resources the profile fills from the two variables above.
SLURM_RESOURCES = ("slurm_account", "slurm_partition")

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


class ClusterError(ValueError):
    """The cluster would refuse the run's jobs; the message is one line saying what to set."""


def gpus_wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether training jobs of experiments on device cuda or auto ask for a GPU: yes unless
    GLASSYNETS_GPUS=0 (a cluster without GPUs; auto then trains on CPUs)."""
    value = environ.get(GPUS, "1")
    if value not in ("0", "1"):
        raise ClusterError(
            f"{GPUS}={value!r}: set 0 (no job asks for a GPU) or 1 (the default: "
            "training jobs on device cuda or auto ask for one)"
        )
    return value == "1"


def unset_variables(values: Iterable[object], environ: Mapping[str, str] = os.environ) -> list[str]:
    """The $VARIABLES in these resource values that the environment lacks, in order of appearance."""
    names = []
    for value in values:
        for braced, bare in _VARIABLE.findall(str(value)):
            name = braced or bare
            if name not in environ and name not in names:
                names.append(name)
    return names


def _unset_message(names: list[str]) -> str:
    them = " and ".join(names)
    verb = "is" if len(names) == 1 else "are"
    return (
        f"{them} {verb} unset: export {'it' if len(names) == 1 else 'them'} before "
        "`snakemake --profile slurm` (empty means the cluster's default; docs/cluster.md)"
    )


def check_profile(
    default_resources: Mapping[str, object] | None, environ: Mapping[str, str] = os.environ
) -> None:
    """At parse time: a bad GLASSYNETS_GPUS stops; an unset variable of the profile is a warning,
    since a dry run submits nothing (a real run stops in :func:`check_submission`)."""
    gpus_wanted(environ)
    raw = [
        getattr(value, "raw", value)
        for name, value in (default_resources or {}).items()
        if name in SLURM_RESOURCES
    ]
    names = unset_variables(raw, environ)
    if names:
        verb = "is" if len(names) == 1 else "are"
        print(
            f"warning: {' and '.join(names)} {verb} unset: a dry run goes on, a run stops before submitting",
            file=sys.stderr,
        )


def _run(*command: str) -> str | None:
    """stdout of a SLURM command, or None when it fails or is missing."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@dataclass
class Slurm:
    """What the checks ask the cluster, as the executor plugin asks it (replaceable in tests)."""

    run: Callable[..., str | None] = _run
    user: str = field(default_factory=getpass.getuser)

    def accounts(self) -> set[str] | None:
        """The user's accounts (lower case, as the plugin compares them); empty when the database
        lists none (the plugin then submits unchecked); None without an accounting database."""
        for command in (
            ("sacctmgr", "-n", "-P", "-s", "list", "user", self.user, "format=account"),
            ("sshare", "-U", "--format", "Account%256", "--noheader"),
        ):
            out = self.run(*command)
            if out is not None and out.strip():
                return {line.strip().lower() for line in out.splitlines() if line.strip()}
        return None if out is None else set()

    def partitions(self) -> dict[str, dict] | None:
        """Partition name -> {"default": bool, "gpus": bool}; None when sinfo fails."""
        out = self.run("sinfo", "-h", "-o", "%P|%G")
        if out is None:
            return None
        found: dict[str, dict] = {}
        for line in out.splitlines():
            if "|" not in line:
                continue
            name, gres = line.strip().split("|", 1)
            part = found.setdefault(name.rstrip("*"), {"default": False, "gpus": False})
            part["default"] |= name.endswith("*")
            part["gpus"] |= "gpu" in gres
        return found


def check_jobs(
    jobs: Iterable[Mapping[str, object]],
    environ: Mapping[str, str] = os.environ,
    slurm: Slurm | None = None,
) -> None:
    """Raise ClusterError if SLURM would refuse these jobs (their resources: slurm_account,
    slurm_partition, gpu): an unset variable, an account that is not the user's (or one the
    plugin cannot check: sacctmgr and sshare both fail), an unknown partition, GPUs asked of a
    partition without."""
    jobs = list(jobs)
    if not jobs:
        return  # only local rules: nothing goes to SLURM
    names = unset_variables((job.get(r) for job in jobs for r in SLURM_RESOURCES), environ)
    if names:
        raise ClusterError(_unset_message(names))
    slurm = slurm or Slurm()
    accounts = sorted({str(job["slurm_account"]) for job in jobs if job.get("slurm_account")})
    if accounts:
        known = slurm.accounts()
        if known is None:
            raise ClusterError(
                f"{ACCOUNT}={accounts[0]}, but this cluster has no accounting database to check it "
                f"against (sacctmgr and sshare fail): export {ACCOUNT}= (empty) to submit without one"
            )
        unknown = [a for a in accounts if known and a.lower() not in known]
        if unknown:
            raise ClusterError(
                f"{ACCOUNT}={unknown[0]} is not one of your SLURM accounts ({', '.join(sorted(known))}): "
                f"export one of them, or {ACCOUNT}= (empty) for your default account"
            )
    partitions = slurm.partitions()
    if partitions is None:
        return  # no sinfo answer: sbatch will say what is wrong
    wanted = sorted({str(job["slurm_partition"]) for job in jobs if job.get("slurm_partition")})
    unknown = [p for p in wanted if p not in partitions]
    if unknown:
        raise ClusterError(
            f"{PARTITION}={unknown[0]} is not a partition of this cluster ({', '.join(sorted(partitions))}): "
            f"export one of them, or {PARTITION}= (empty) for the default partition"
        )
    default = [name for name, p in partitions.items() if p["default"]]
    gpu_jobs = [job for job in jobs if int(job.get("gpu") or 0) > 0]
    targets = sorted(
        {
            str(job.get("slurm_partition") or "") or (default[0] if default else "")
            for job in gpu_jobs
        }
    )
    without = [p for p in targets if p and not partitions[p]["gpus"]]
    if without:
        raise ClusterError(
            f"{len(gpu_jobs)} training job(s) ask for a GPU but partition {without[0]} has none: "
            f"export {GPUS}=0 to train them on CPUs (device auto), or choose a GPU partition"
        )


def check_submission(workflow) -> None:
    """onstart of a real run: check the jobs to be submitted when the executor is SLURM's."""
    plugin = getattr(workflow, "executor_plugin", None)
    if plugin is None or plugin.name != "slurm":
        return
    check_jobs(
        {name: job.resources.get(name) for name in (*SLURM_RESOURCES, "gpu")}
        for job in workflow.dag.needrun_jobs()
        if not job.is_local
    )
