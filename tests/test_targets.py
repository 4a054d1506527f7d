"""What the workflow builds, without Snakemake: the figure registry, the targets, the settings
handed to jobs and the resource models, all pure functions of the validated config."""

import ast
import hashlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import SCHEMA
from glassynets import config, plots, scaling_plots, settings, sweep_plots, training
from glassynets.costs import Costs
from glassynets.figures import FIGURES
from glassynets.nets import Architecture
from glassynets.targets import Targets

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def paper():
    return config.check_files([ROOT / "config.yaml"], SCHEMA)


def test_every_figure_of_the_registry_has_a_drawing_a_caption_and_a_readme_entry():
    """The README lists every figure, linked to its caption; docs/figures.md has its full row."""
    readme = (ROOT / "README.md").read_text()
    figures_page = (ROOT / "docs/figures.md").read_text()
    for name, figure in FIGURES.items():
        modules = (sweep_plots, scaling_plots, plots)
        assert any(callable(getattr(m, figure.draw, None)) for m in modules), name
        assert (ROOT / f"workflow/report/{name}.rst").is_file(), name
        assert re.search(rf"^- \[`{name}`\]\(workflow/report/{name}\.rst\) ", readme, re.M), (
            f"README's figure list has no entry for {name}"
        )
        assert re.search(rf"^\| `{name}` \|", figures_page, re.M), (
            f"docs/figures.md has no row for {name}"
        )
    listed = re.findall(r"^- \[`(\w+)`\]\(workflow/report/", readme, re.M)
    assert sorted(listed) == sorted(FIGURES), "README lists a figure twice or one not registered"
    rows = re.findall(r"^\| `(\w+)` \|", figures_page, re.M)
    assert sorted(rows) == sorted(FIGURES), "docs/figures.md has a row for no registered figure"
    captions = {p.stem for p in (ROOT / "workflow/report").glob("fig*.rst")}
    assert captions == set(FIGURES), "a caption without a figure in the registry"


def test_the_paper_config_draws_fashion_mnist_in_its_own_folder(paper):
    targets = Targets(paper)
    variants = targets.figure_variants()
    assert ("fig4", "fashion_mnist") in variants and ("fig4", "mnist") not in variants
    assert ("fig7", "ljat19") in variants and (
        "fig7",
        "mnist",
    ) in variants  # the halves of a mixed figure
    everything = targets.targets()
    assert (
        "results/figures/fashion_mnist/fig6.pdf" in everything
        and "results/figures/fig6.pdf" in everything
    )
    assert not any(
        "/ljat19/" in t or "/mnist/" in t for t in everything
    )  # halves belong to their data set's target
    fashion = targets.targets("fashion_mnist")
    assert sorted(fashion) == sorted(
        [
            f"results/figures/fashion_mnist/{f}.{e}"
            for f in ("fig4", "fig5", "fig6", "figC1", "figC2", "figN1", "figN2", "figN4")
            for e in ("pdf", "png")
        ]
        + ["results/scorecard_fashion_mnist.md", "results/scorecard_fashion_mnist.csv"]
    )
    # the main Fig 6 draws MNIST only, the Fashion-MNIST version its own α sweep
    assert all("/mnist_alpha/" in d for d in targets.figure_cells("fig6"))
    assert all("/fashion_alpha/" in d for d in targets.figure_cells("fig6", "fashion_mnist"))
    assert targets.targets("cifar") == []


def test_hessian_figures_draw_only_experiments_with_spectra(paper):
    targets = Targets(paper)
    assert targets.figure_experiments("fig7") == ["ljat_arch", "mnist_arch"]
    assert targets.figure_cells("fig7") == [
        "results/tables/ljat_arch/N1000/h5-5",
        "results/tables/mnist_arch/N60000/h5-5",
    ]
    assert targets.hessian_cells("fashion_arch") == []  # hessian: null


def test_train_settings_carry_every_experiment_key_and_the_inherited_ones(paper):
    built = settings.train(paper, "mnist_alpha")
    exp = paper["experiments"]["mnist_alpha"]
    assert all(built[k] == exp[k] for k in exp if k not in settings.NOT_TRAINING)
    assert (
        built["snapshots_per_decade"] == paper["snapshots_per_decade"] and built["device"] == "auto"
    )
    assert (
        built["dataset"] == "mnist" and built["preprocess"] == "unit" and built["n_classes"] == 10
    )
    # a key the schema gains reaches the trainer by name, without an edit here
    extended = json.loads(json.dumps(paper))
    extended["experiments"]["mnist_alpha"]["noise"] = "langevin"
    assert settings.train(extended, "mnist_alpha")["noise"] == "langevin"
    assert json.loads(settings.as_json(built)) == built


def test_a_spec_from_settings_equals_the_spec_built_by_hand(paper):
    built = settings.train(paper, "ljat_arch")
    arch = Architecture.from_name("h5-5", 2, 4)
    spec = training.TrainSpec.from_settings(
        {**built, "steps": 1000, "not_a_field": 1}, arch, (3, 4), "cpu"
    )
    from glassynets.schedule import log_steps
    from glassynets.two_time import grid

    waiting_times, lags = grid(1000, 10, 20)
    by_hand = training.TrainSpec(
        arch=arch,
        lr=0.05,
        batch_size=100,
        weight_decay=1e-4,
        steps=1000,
        seeds=(3, 4),
        snapshot_steps=log_steps(1000, 5),
        metric_steps=log_steps(1000, 20),
        waiting_times=waiting_times,
        lags=lags,
        overlap_eps=(0.01, 0.1),
    )
    assert spec.describe() == by_hand.describe()


def test_aging_settings_of_the_pspin_are_in_steps(paper):
    analysis = {
        **paper["experiments"]["ljat_arch"]["analysis"],
        "fit_tw": [1, 1000],
        "late_tw": 50.0,
    }
    out = settings.aging(analysis, step=0.05)
    assert (
        out["fit_tw"] == [20, 20000] and out["late_tw"] == 1000 and analysis["fit_tw"] == [1, 1000]
    )


# Whole training jobs measured on this project's 2-core machine, one thread each (CPU-seconds;
# docs/fashion_mnist.md, docs/runtimes.md): (experiment, architecture, networks, N, CPU-seconds).
# The sweeps' jobs (issue 24, docs/noise.md) are wall-clock seconds of jobs run two at a time at
# nice 10 beside other work: upper bounds of their CPU time.
MEASURED_TRAINING_JOBS = [
    ("ljat_batch_B10", "h5-5", 50, 1000, 61),
    ("ljat_batch_B25", "h5-5", 50, 1000, 52),
    ("ljat_batch_B100", "h5-5", 50, 1000, 152),
    ("ljat_batch_B250", "h5-5", 50, 1000, 185),
    ("ljat_batch_B1000", "h5-5", 50, 1000, 577),
    ("ljat_lr_lr025", "h5-5", 50, 1000, 249),
    ("ljat_lr_lr1", "h5-5", 50, 1000, 50),
    ("ljat_lr_lr1_B200", "h5-5", 50, 1000, 96),
    ("ljat_lr_replacement", "h5-5", 50, 1000, 116),
    ("fashion_alpha", "h7-7-7", 10, 60000, 740),
    ("fashion_alpha", "h9-9-9", 10, 60000, 816),
    ("fashion_alpha", "h11-11-11", 10, 60000, 958),
    ("fashion_alpha", "h13-13-13", 10, 60000, 998),
    ("fashion_alpha", "h15-15-15", 10, 60000, 997),
    ("fashion_alpha", "h17-17-17", 10, 60000, 1104),
    ("fashion_arch", "h5-5", 20, 60000, 386),
    ("fashion_arch", "h5-5-5", 20, 60000, 394),
    ("ljat_arch", "h10", 50, 1000, 54),
]


@pytest.mark.parametrize("experiment, arch, networks, n, cpu_s", MEASURED_TRAINING_JOBS)
def test_runtime_requests_cover_the_measured_jobs_without_waste(
    paper, experiment, arch, networks, n, cpu_s
):
    """A request below the need gets the job killed; one far above it waits longer in a queue."""
    job = SimpleNamespace(
        experiment=experiment, n=str(n), arch=arch, first="0", last=str(networks - 1)
    )
    minutes = Costs(paper).train_runtime_min(job)
    assert 1.5 * cpu_s / 60 <= minutes <= 4 * cpu_s / 60 + 10


def test_runtime_request_of_a_network_beyond_the_cache_covers_its_steps(paper):
    """The toy model's m = 10⁴ (P = 7.95·10⁶): 0.38 s per step of its 2-network job, measured, so
    10⁵ steps take 38,000 s before its metrics."""
    job = SimpleNamespace(experiment="mnist_toy", n="60000", arch="h10000", first="0", last="1")
    assert Costs(paper).train_runtime_min(job) >= 1.5 * 38_000 / 60


def test_cost_models_grow_with_the_work(paper):
    costs = Costs(paper)
    job = dict(experiment="mnist_alpha", n="60000", arch="h17-17-17", first="0", last="49")
    small = SimpleNamespace(**{**job, "arch": "h7-7-7"})
    big, few = SimpleNamespace(**job), SimpleNamespace(**{**job, "last": "9"})
    assert (
        costs.train_runtime_min(big)
        > costs.train_runtime_min(small)
        > costs.train_runtime_min(SimpleNamespace(**{**job, "arch": "h7-7-7", "last": "9"}))
    )
    assert costs.train_runtime_min(big) > costs.train_runtime_min(few)
    assert 1000 < costs.train_mem_mb(few) < costs.train_mem_mb(big) < 16000
    assert (
        costs.train_gpus(big) == 1
        and costs.train_gpus(SimpleNamespace(**{**job, "experiment": "ljat_arch"})) == 0
    )
    cell = SimpleNamespace(experiment="mnist_arch", n="60000", arch="h5-5")
    assert (
        costs.hessian_mem_mb(cell) > 3 * 4015**2 * 8 / 2**20
    )  # exact: three dense P×P float64 matrices
    assert costs.aging_runtime_min(cell) >= 10 and costs.aging_mem_mb(cell) > 1000
    glass = SimpleNamespace(n="128", temperature="0.5")
    assert costs.pspin_runtime_min(glass) >= 5 and costs.pspin_mem_mb(glass) > 1000
    # a lone network trains beside a copy: it costs what two do
    lone = SimpleNamespace(**{**job, "last": "0"})
    assert costs.train_runtime_min(lone) == costs.train_runtime_min(
        SimpleNamespace(**{**job, "last": "1"})
    )
    assert np.isfinite(costs.train_mem_mb(lone))


def test_cost_models_of_the_other_dynamics(paper):
    """A full_batch, langevin or persistent step costs what a minibatch step of all N points does
    (measured: 5x one of B = N/10 on LJAT19, costs.py), and holds its activations at all N points."""
    job = SimpleNamespace(experiment="ljat_arch", n="1000", arch="h5-5", first="0", last="49")
    base = Costs(paper)
    minutes, mem = {}, {}
    for noise, extra in (
        ("minibatch", {}),
        ("full_batch", {}),
        ("langevin", {"temperature": 1e-3}),
        ("persistent", {"persistence": 10}),
    ):
        cfg = json.loads(json.dumps(paper))
        cfg["experiments"]["ljat_arch"].update(noise=noise, **extra)
        minutes[noise] = Costs(cfg).train_runtime_min(job) - 5
        mem[noise] = Costs(cfg).train_mem_mb(job)
    assert minutes["minibatch"] == base.train_runtime_min(job) - 5
    assert 2.5 * minutes["minibatch"] < minutes["full_batch"] <= minutes["langevin"]
    assert minutes["full_batch"] <= minutes["persistent"] < 10 * minutes["minibatch"]
    # every request at least 1.5x the measured step cost (bench: µs per network-step, E = 50)
    measured = {"minibatch": 5.2, "full_batch": 26.3, "langevin": 27.5, "persistent": 37.2}
    for noise, us in measured.items():
        assert minutes[noise] * 60 >= 1.5 * us * 1e-6 * 50 * 150_000, noise
    assert mem["minibatch"] == base.train_mem_mb(job) < mem["full_batch"] < mem["persistent"]


def test_sweep_figures_draw_every_variant_and_get_the_sweeps(paper):
    targets = Targets(paper)
    cells = targets.figure_cells("figN1")
    assert len(cells) == 5 + 7 + 5 + 4 and all("/N1000/h5-5" in d for d in cells)
    assert targets.figure_cells("figN1", "fashion_mnist") == [
        f"results/tables/fashion_batch_{b}/N60000/h5-5" for b in ("B10", "B50", "B200")
    ]
    assert targets.figure_cells("figN3") == [
        f"results/tables/ljat_langevin_{v}/N1000/h5-5"
        for v in ("T0", "T0x001", "T0x01", "T0x1", "T0x10")
    ]
    chosen = settings.figure(paper, "figN1")["sweeps"]
    assert chosen["temperature_after"] == 1.0e4
    assert chosen["members"]["ljat_lr_lr025_B50"] == {
        "axis": "lr",
        "family": "ljat_lr",
        "variant": "lr025_B50",
        "base": False,
    }
    assert set(chosen["members"]) == {Path(d).parts[2] for d in cells}
    assert "sweeps" not in settings.figure(paper, "fig2")
    # the scorecard gets every sweep of its data set
    card = settings.scorecard(targets.config, "ljat19")["sweeps"]
    assert len(card) == 21 and "fashion_batch_B10" not in card


#: What each figure drew when its registry entry named experiments (a sweep standing for its
#: variants), before it selected them by role: the selection by role must draw exactly these.
NAMED_BEFORE = {
    **dict.fromkeys(("fig1", "fig2", "figA3", "figB4"), ("ljat_arch",)),
    "fig3": ("ljat_chain",),
    **dict.fromkeys(("fig4", "fig5"), ("mnist_arch", "fashion_arch")),
    "fig6": ("mnist_alpha", "fashion_alpha"),
    **dict.fromkeys(("fig7", "figA1"), ("ljat_arch", "mnist_arch")),
    "figA2": ("ljat_sizes",),
    "figB1": ("ljat_transition", "mnist_transition"),
    "figB2": ("ljat_transition", "mnist_transition", "mnist_toy"),
    "figB3": ("ljat_transition", "mnist_toy"),
    **dict.fromkeys(("figC1", "figC2"), ("ljat_arch", "ljat_chain", "mnist_arch", "fashion_arch")),
    **dict.fromkeys(
        ("figN1", "figN2", "figN4"),
        ("ljat_batch", "ljat_lr", "ljat_langevin", "ljat_persistent", "fashion_batch"),
    ),
    "figN3": ("ljat_langevin",),
}
#: sha256 (first 16 hex digits) of every figure variant's inputs, [["<figure>/<variant>",
#: figure_inputs], ...] in the order of figure_variants(), as the registry of names made them.
INPUTS_BEFORE = {"config.yaml": "646de9b078625eb9", "tests/config/smoke.yaml": "9c6c7356c6cfd9d2"}


def drew_before(cfg: dict, name: str, dataset: str | None) -> list[str]:
    """The experiments figure ``name`` drew from its names (NAMED_BEFORE) in ``cfg``."""
    experiments = cfg["experiments"]
    shown = (dataset,) if dataset else ("ljat19", "mnist")
    return [
        e
        for named in NAMED_BEFORE[name]
        for e, exp in experiments.items()
        if (e == named or (exp.get("sweep") or {}).get("family") == named)
        and (not FIGURES[name].hessian or exp.get("hessian") is not None)
        and exp["dataset"] in shown
    ]


@pytest.mark.parametrize("configfile", sorted(INPUTS_BEFORE))
def test_figures_selected_by_role_draw_what_they_drew_by_name(configfile):
    cfg = config.check_files([ROOT / configfile], SCHEMA)
    targets = Targets(cfg)
    assert sorted(NAMED_BEFORE) == sorted(FIGURES)
    variants = targets.figure_variants()
    for name, dataset in variants:
        assert targets.figure_experiments(name, dataset) == drew_before(cfg, name, dataset), (
            name,
            dataset,
        )
    drawn = [[f"{n}/{d}", targets.figure_inputs(n, d)] for n, d in variants]
    digest = hashlib.sha256(json.dumps(drawn).encode()).hexdigest()[:16]
    assert digest == INPUTS_BEFORE[configfile]


def _renamed(raw: dict, renames: dict[str, str]) -> dict:
    """A raw config with experiments renamed, in their places (the config's order is kept)."""
    out = json.loads(json.dumps(raw))
    out["experiments"] = {renames.get(k, k): v for k, v in raw["experiments"].items()}
    return out


def test_an_experiment_renamed_keeps_its_figures():
    raw = config.load_yaml(ROOT / "config.yaml")
    renames = {"ljat_arch": "depth", "mnist_toy": "toy_model", "ljat_langevin": "thermal"}
    before = Targets(config.validate(raw, SCHEMA))
    after = Targets(config.validate(_renamed(raw, renames), SCHEMA))
    assert before.figure_variants() == after.figure_variants()

    def rename(experiment: str) -> str:
        if experiment.startswith("ljat_langevin_"):  # a sweep's variants follow its name
            return "thermal_" + experiment.removeprefix("ljat_langevin_")
        return renames.get(experiment, experiment)

    for name, dataset in before.figure_variants():
        want = [rename(e) for e in before.figure_experiments(name, dataset)]
        assert after.figure_experiments(name, dataset) == want, (name, dataset)
        assert settings.figure(after.config, name, dataset) == json.loads(
            json.dumps(settings.figure(before.config, name, dataset)).replace(
                "ljat_langevin", "thermal"
            )
        )
    assert after.figure_experiments("fig1") == ["depth"]
    assert after.figure_experiments("figN3")[0] == "thermal_T0"


def test_an_experiment_without_a_role_is_in_no_figure(paper):
    raw = json.loads(json.dumps(config.load_yaml(ROOT / "config.yaml")))
    raw["experiments"]["ljat_chain"]["role"] = None
    targets = Targets(config.validate(raw, SCHEMA))
    assert "fig3" not in [name for name, _ in targets.figure_variants()]
    assert all(
        "ljat_chain" not in targets.figure_experiments(n, d) for n, d in targets.figure_variants()
    )
    assert Targets(paper).figure_experiments("fig3") == ["ljat_chain"]


def test_figure_settings_come_from_the_config(paper):
    """The figure job's settings (its drawing function's keyword arguments) hold the config's
    values, as floats; its cells are its inputs, in the order drawn."""
    built = settings.figure(paper, "figB4")
    assert built == {
        "name": "figB4",
        "plot_tw": [1e3, 2e3, 5e3, 1e4, 2e4, 5e4],
        "glass_plot_tw": [1.0, 3.0, 10.0, 30.0, 100.0, 300.0],
        "underparametrized_accuracy": 0.99,
    }
    assert json.loads(settings.as_json(built)) == built
    changed = json.loads(json.dumps(paper))
    changed["scorecard"]["underparametrized_accuracy"] = 0.95
    assert settings.figure(changed, "figB2")["underparametrized_accuracy"] == 0.95
    assert settings.figure(paper, "fig2")["glass_plot_tw"] == []  # no p-spin cell drawn
    assert settings.figure(paper, "figC1", "mnist")["glass_plot_tw"] == []
    assert settings.figure(paper, "figC1", "ljat19")["glass_plot_tw"] == built["glass_plot_tw"]
    inputs = Targets(paper).figure_stage_inputs("fig1")
    assert inputs == {
        "cells": [f"results/tables/ljat_arch/N1000/{a}" for a in ("h10", "h5-5", "h4-4-4")],
        "glass": [],
        "limits": ["results/tables/ljat19_limits.json"],
    }


def test_no_module_names_an_experiment(paper):
    """The figures, targets and settings select experiments by role and data set: no string of
    the code (docstrings and comments aside) is the name of an experiment of the config."""
    raw = config.load_yaml(ROOT / "config.yaml")
    names = set(paper["experiments"]) | set(raw["experiments"])
    for path in sorted((ROOT / "glassynets").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        named = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and id(node) not in docstrings
        }
        assert not names & named, f"{path.name} names {sorted(names & named)}"


def test_the_rules_write_no_path_of_their_own():
    """Every output path template is defined once (glassynets.paths): the rules name no results/
    or resources/ path but their logs."""
    rules = [ROOT / "Snakefile", *sorted((ROOT / "workflow/rules").glob("*.smk"))]
    found = [
        f"{path.name}: {literal}"
        for path in rules
        for literal in re.findall(r"[\"'](?:results|resources)/[^\"']*", path.read_text())
        if not literal[1:].startswith("results/logs/")
    ]
    assert not found, found
