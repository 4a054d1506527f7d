"""The settings each job receives, built from the validated configuration: the one place where a
config key becomes a job's argument.

The workflow hands each job its settings as one JSON string (``--settings``), so Snakemake's
params trigger reruns when any setting changes, and the command line holds no defaults or choices
of its own: the schema (workflow/schemas/config.schema.yaml) is the only definition of a key, its
default and its meaning. A key added to an experiment in the schema reaches the trainer without
touching this module: every experiment key except those of the grid below is a training setting.
"""

from __future__ import annotations

import json
from typing import Any

#: Experiment keys that describe the grid of cells and the later analyses, not one training run.
NOT_TRAINING = (
    "dataset",
    "n_train",
    "architectures",
    "seeds",
    "seeds_per_job",
    "analysis",
    "hessian",
    "sweep",
    "role",
)
#: Top-level keys an experiment may override (its own value wins).
INHERITED = (
    "dtype",
    "data_order",
    "device",
    "snapshots_per_decade",
    "metrics_per_decade",
    "waiting_times_per_decade",
    "lags_per_decade",
    "overlap_eps",
)


def dataset_settings(config: dict[str, Any], dataset: str) -> dict[str, Any]:
    """How a data set's tables become tensors: LJAT19's input distances, or image preprocessing."""
    if dataset == "ljat19":
        return {"dataset": dataset, "n_classes": 4, "features": config["ljat19"]["features"]}
    return {"dataset": dataset, "n_classes": 10, "preprocess": config[dataset]["preprocess"]}


def ljat19_table(config: dict[str, Any], split: str, seed: int) -> dict[str, Any]:
    """Where an LJAT19 table of ``split`` (train, test) comes from: the verified published file (by
    its sha256), or the generator's sample stream ``seed`` and starting-geometry family."""
    from .ljat19 import StartGeometry

    ljat = config["ljat19"]
    if ljat["source"] == "published":
        return {"source": "published", "sha256": ljat["published"][f"{split}_sha256"]}
    return {
        "source": "regenerate",
        "seed": seed,
        **StartGeometry(**ljat["start"]).params(),
    }


def ljat19_dataset(config: dict[str, Any], split: str, seed: int, n: int) -> dict[str, Any]:
    """The settings of an LJAT19 table job: its size ``n`` (0 with a published file: all of it)
    and where it comes from (:func:`ljat19_table`)."""
    return {"n": n, **ljat19_table(config, split, seed)}


def ljat19_fetch(config: dict[str, Any], split: str) -> dict[str, Any]:
    """Which published LJAT19 file to copy or download, and the sha256 it must have."""
    published = config["ljat19"]["published"]
    return {"source": published[split], "sha256": published[f"{split}_sha256"]}


def image_source(config: dict[str, Any], image_set: str) -> dict[str, Any]:
    """Where an image data set's official files are looked for: a local folder, then mirrors."""
    chosen = config[image_set]
    return {"dataset": image_set, "source_dir": chosen["source_dir"], "mirrors": chosen["mirrors"]}


def images_subset(config: dict[str, Any], image_set: str) -> dict[str, Any]:
    """How an image data set's training sets are drawn from its training split."""
    chosen = config[image_set]
    return {key: chosen[key] for key in ("train_split", "subset", "subset_seed")}


def train(config: dict[str, Any], experiment: str) -> dict[str, Any]:
    """Every setting of a training job of ``experiment`` but its cell (N, architecture, seeds)."""
    exp = config["experiments"][experiment]
    out = {key: exp.get(key, config[key]) for key in INHERITED}
    out.update({key: value for key, value in exp.items() if key not in NOT_TRAINING})
    return {"experiment": experiment, **dataset_settings(config, exp["dataset"]), **out}


def aging(analysis: dict[str, Any], step: float = 1.0) -> dict[str, Any]:
    """An ``analysis`` section with every t_w in steps (those of the p-spin, in time units, are
    divided by its time step ``step``)."""
    out = dict(analysis)
    out["fit_tw"] = [t / step for t in analysis["fit_tw"]]
    out["plot_tw"] = [t / step for t in analysis["plot_tw"]]
    if analysis["late_tw"] is not None:
        out["late_tw"] = analysis["late_tw"] / step
    return out


def hessian(config: dict[str, Any], experiment: str) -> dict[str, Any]:
    """The ``hessian`` section of an experiment and how its data become tensors."""
    exp = config["experiments"][experiment]
    return {**dataset_settings(config, exp["dataset"]), **exp["hessian"]}


def pspin(config: dict[str, Any]) -> dict[str, Any]:
    """Every setting of a p-spin job but its cell (N, T): the ``pspin`` section without its analysis."""
    out = {
        key: value
        for key, value in config["pspin"].items()
        if key not in ("n", "temperatures", "analysis", "ck")
    }
    out["steps"] = pspin_steps(config["pspin"])
    return out


def ck(config: dict[str, Any]) -> dict[str, Any]:
    """Every setting of a CK job (glassynets.ck.run_cell): the simulation's time step, steps and
    grids, and the ``ck`` section (not the samples, seed or dtype, which CK does not have)."""
    keys = ("dt", "waiting_times_per_decade", "lags_per_decade", "snapshots_per_decade")
    chosen = config["pspin"]
    return {
        **{key: chosen[key] for key in (*keys, "overlap_eps", "ck")},
        "steps": pspin_steps(chosen),
    }


def pspin_steps(pspin: dict[str, Any]) -> int:
    """Langevin steps of a p-spin run: the simulated time over the time step."""
    return round(pspin["time"] / pspin["dt"])


def as_json(settings: dict[str, Any]) -> str:
    """The settings as one shell-safe JSON string (sorted keys: the same settings, the same text)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    if "'" in text:
        raise ValueError(
            f"a setting holds a single quote, which the job's shell command cannot carry: {text}"
        )
    return text
