# Glassy training dynamics of small neural networks: aging and subaging of SGD
# (Herrera Segura, Montoya, Tapias 2022; Baity-Jesi et al. 2018). See README.md.

import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# Snakemake's own message for a YAML syntax error names neither file nor line: check first.
from glassynets.config import ConfigError, load_yaml

# (With --directory elsewhere there is no config.yaml: the --configfile files are the whole config.)
try:
    if Path("config.yaml").exists():
        load_yaml("config.yaml")
except ConfigError as err:
    sys.exit(f"config error: {err}")


configfile: "config.yaml"


# SLURM runs (slurm/profile.yaml): what sbatch would refuse, in one line before any submission.
from glassynets import cluster

try:
    cluster.check_profile(workflow.resource_settings.default_resources)
except cluster.ClusterError as err:
    sys.exit(f"cluster error: {err}")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aging.smk"
include: "workflow/rules/hessian.smk"
include: "workflow/rules/glass.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        TARGETS.targets(),


rule ljat19:
    input:
        TARGETS.targets("ljat19"),


rule mnist:
    input:
        TARGETS.targets("mnist"),


rule fashion_mnist:
    input:
        TARGETS.targets("fashion_mnist"),


onstart:
    inputs_readable(workflow.dag.needrun_jobs())
    try:
        cluster.check_submission(workflow)
    except cluster.ClusterError as err:
        sys.exit(f"cluster error: {err}")


onsuccess:
    print(completion_message())
