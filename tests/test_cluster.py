"""The checks before a SLURM run (glassynets/cluster.py) against a stand-in cluster, and the
profile against the workflow; no SLURM needed."""

import re
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest
import tomllib
import yaml

from glassynets.cluster import (
    ClusterError,
    Slurm,
    _run,
    check_jobs,
    check_profile,
    check_submission,
    gpus_wanted,
    unset_variables,
)

ROOT = Path(__file__).resolve().parents[1]
PROFILE = yaml.safe_load((ROOT / "slurm/profile.yaml").read_text())
SET = {"GLASSYNETS_SLURM_ACCOUNT": "ci", "GLASSYNETS_SLURM_PARTITION": "ci"}


class FakeCluster:
    """Answers the SLURM commands the checks run, as given; None is a failing command."""

    def __init__(self, sacctmgr="ci\nroot\n", sshare="", sinfo="ci*|(null)\ngpu|gpu:a100:4\n"):
        self.answers = {"sacctmgr": sacctmgr, "sshare": sshare, "sinfo": sinfo}
        self.asked = []

    def __call__(self, *command):
        self.asked.append(command[0])
        return self.answers[command[0]]


def job(account="ci", partition="ci", gpu=0):
    return {"slurm_account": account, "slurm_partition": partition, "gpu": gpu}


def check(jobs, cluster=None, environ=SET):
    cluster = cluster or FakeCluster()
    check_jobs(jobs, environ, Slurm(run=cluster, user="someone"))
    return cluster


def test_gpus_are_wanted_unless_switched_off():
    assert gpus_wanted({}) and gpus_wanted({"GLASSYNETS_GPUS": "1"})
    assert not gpus_wanted({"GLASSYNETS_GPUS": "0"})
    with pytest.raises(ClusterError, match=r"^GLASSYNETS_GPUS='no': set 0 .* or 1"):
        gpus_wanted({"GLASSYNETS_GPUS": "no"})


def test_unset_variables_are_those_the_environment_lacks_once_each():
    values = ["$A", "${B}", "x-$A", "$SET", "plain", 30, None]
    assert unset_variables(values, {"SET": ""}) == ["A", "B"]


def test_the_profile_passes_on_the_variables_the_checks_know():
    resources = PROFILE["default-resources"]
    assert unset_variables(resources.values(), {}) == [
        "GLASSYNETS_SLURM_ACCOUNT",
        "GLASSYNETS_SLURM_PARTITION",
    ]


def test_profile_with_unset_variables_warns_at_parse_time_and_a_bad_gpu_switch_stops(capsys):
    raw = {
        "slurm_account": SimpleNamespace(raw="$GLASSYNETS_SLURM_ACCOUNT"),
        "mem_mb": SimpleNamespace(raw=2000),
        "slurm_partition": SimpleNamespace(raw="$GLASSYNETS_SLURM_PARTITION"),
    }
    check_profile(raw, {"GLASSYNETS_SLURM_PARTITION": ""})  # empty: the cluster's default
    err = capsys.readouterr().err
    assert err.startswith("warning: GLASSYNETS_SLURM_ACCOUNT is unset") and "PARTITION" not in err
    assert len(err.splitlines()) == 1
    check_profile(raw, SET)
    check_profile(None, {})  # a local run: no profile
    assert capsys.readouterr().err == ""
    with pytest.raises(ClusterError, match="GLASSYNETS_GPUS"):
        check_profile(raw, {**SET, "GLASSYNETS_GPUS": "2"})


def test_unset_variables_stop_the_run_naming_both():
    jobs = [job("$GLASSYNETS_SLURM_ACCOUNT", "$GLASSYNETS_SLURM_PARTITION")]
    with pytest.raises(
        ClusterError,
        match="^GLASSYNETS_SLURM_ACCOUNT and GLASSYNETS_SLURM_PARTITION are unset: export them",
    ):
        check(jobs, environ={})


def test_an_account_not_the_users_stops_the_run_listing_the_users_accounts():
    with pytest.raises(
        ClusterError,
        match=r"^GLASSYNETS_SLURM_ACCOUNT=nope is not one of your SLURM accounts \(ci, root\)",
    ):
        check([job("nope")])
    check([job("CI")])  # SLURM's accounts are case-insensitive


def test_an_account_without_an_accounting_database_to_check_it_stops_the_run():
    with pytest.raises(
        ClusterError, match="no accounting database .* export GLASSYNETS_SLURM_ACCOUNT= "
    ):
        check([job()], FakeCluster(sacctmgr=None, sshare=None))


def test_an_account_goes_unchecked_where_the_database_lists_none():
    """As the executor plugin: sacctmgr fails or is empty, sshare answers with no account."""
    check([job("anything")], FakeCluster(sacctmgr=None, sshare=""))
    check([job("anything")], FakeCluster(sacctmgr="", sshare="\n"))


def test_empty_account_and_partition_ask_nothing_of_the_accounting_database():
    cluster = check([job("", "")], FakeCluster(sacctmgr=None, sshare=None))
    assert cluster.asked == ["sinfo"]


def test_an_unknown_partition_stops_the_run_listing_the_partitions():
    with pytest.raises(
        ClusterError,
        match=r"^GLASSYNETS_SLURM_PARTITION=big is not a partition of this cluster \(ci, gpu\)",
    ):
        check([job(partition="big")])


def test_gpu_jobs_stop_the_run_on_a_partition_without_gpus():
    with pytest.raises(
        ClusterError, match="^2 training job.* partition ci has none: export GLASSYNETS_GPUS=0"
    ):
        check([job(gpu=1), job(gpu=1), job(gpu=0)])
    with pytest.raises(ClusterError, match="partition ci has none"):  # the default partition
        check([job(partition="", gpu=1)])
    check([job(partition="gpu", gpu=1), job(gpu=0)])
    check([job(gpu=1)], FakeCluster(sinfo=None))  # sinfo failed: sbatch will tell


def test_partitions_are_read_from_sinfo():
    out = "cpu*|(null)\ngpu|gpu:a100:4(S:0-1)\ngpu|(null)\n"
    assert Slurm(run=lambda *c: out).partitions() == {
        "cpu": {"default": True, "gpus": False},
        "gpu": {"default": False, "gpus": True},
    }


def test_slurm_commands_that_fail_or_are_missing_answer_none():
    assert _run("sh", "-c", "echo ci") == "ci\n"
    assert _run("sh", "-c", "echo partial; exit 1") is None
    assert _run("no-such-slurm-command-here") is None


def workflow(executor, *jobs):
    needrun = [SimpleNamespace(is_local=local, resources=res) for local, res in jobs]
    return SimpleNamespace(
        executor_plugin=executor and SimpleNamespace(name=executor),
        dag=SimpleNamespace(needrun_jobs=lambda: needrun),
    )


def test_submission_is_checked_only_for_slurm_and_only_for_submitted_jobs(monkeypatch):
    monkeypatch.delenv("GLASSYNETS_SLURM_ACCOUNT", raising=False)
    monkeypatch.delenv("GLASSYNETS_SLURM_PARTITION", raising=False)
    unset = job("$GLASSYNETS_SLURM_ACCOUNT", "$GLASSYNETS_SLURM_PARTITION")
    check_submission(workflow("local", (False, unset)))
    check_submission(workflow(None, (False, unset)))
    check_submission(workflow("slurm", (True, unset)))  # a local rule (figures) is not submitted
    with pytest.raises(ClusterError, match="unset"):
        check_submission(workflow("slurm", (True, job()), (False, unset)))


def rules():
    text = "\n".join(p.read_text() for p in (ROOT / "workflow/rules").glob("*.smk"))
    return set(re.findall(r"^rule (\w+):", text, re.M)) | set(
        re.findall(r"^use rule \w+ as (\w+)", text, re.M)
    )


def test_the_profile_groups_existing_short_rules_and_never_training():
    groups = PROFILE["groups"]
    assert set(groups) <= rules(), f"groups name rules that do not exist: {set(groups) - rules()}"
    assert {"aging", "hessian", "ljat19_train_set", "images_convert"} <= set(groups)
    assert not {"train", "pspin"} & set(groups)
    assert set(PROFILE["group-components"]) == set(groups.values())
    assert PROFILE["cores"] == 1  # a group job runs its jobs one after another on one core
    assert PROFILE["slurm-status-command"] == "squeue"


def test_the_slurm_plugin_pin_is_the_same_in_both_extras_and_holds_the_installed_version():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    pins = {
        name: [d for d in deps if d.startswith("snakemake-executor-plugin-slurm")]
        for name, deps in extras.items()
    }
    assert pins["test"] == pins["slurm"] and len(pins["slurm"]) == 1
    specifiers = pytest.importorskip("packaging.specifiers")
    pin = specifiers.SpecifierSet(pins["slurm"][0].removeprefix("snakemake-executor-plugin-slurm"))
    assert any(s.operator in ("<", "<=", "~=", "==") for s in pin), f"{pin}: no upper bound"
    try:
        installed = metadata.version("snakemake-executor-plugin-slurm")
    except metadata.PackageNotFoundError:
        pytest.skip("pip install -e '.[slurm]' to check the installed plugin")
    assert installed in pin
