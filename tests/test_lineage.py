"""Lineage: every file's identity follows the settings upstream of it, and only those."""

import copy
import os

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import SCHEMA, lock_held_elsewhere
from glassynets import config, data, lineage, storage, training
from glassynets.nets import Architecture

TINY = {
    "experiments": {
        "ljat_arch": {
            "role": "architectures",  # drawn in Figs 1, 2 (figures select by role)
            "dataset": "ljat19",
            "n_train": [200],
            "architectures": ["h5-5", "h3"],
            "steps": 3000,
        },
        "ljat_chain": {
            "role": "chain",
            "dataset": "ljat19",
            "n_train": [200],
            "architectures": ["h1"],
            "steps": 3000,
        },
    },
    "pspin": None,
}


def identities(changes: dict | None = None) -> dict[str, str]:
    raw = copy.deepcopy(TINY)
    for where, value in (changes or {}).items():
        *keys, last = where.split(".")
        node = raw
        for key in keys:
            node = node.setdefault(key, {})
        node[last] = value
    return lineage.Lineage(config.validate(raw, SCHEMA)).ids


def changed(changes: dict) -> set[str]:
    before, after = identities(), identities(changes)
    assert before.keys() == after.keys()
    return {path for path in before if before[path] != after[path]}


def test_a_training_setting_changes_its_cells_and_what_is_made_from_them_only():
    moved = changed({"experiments.ljat_arch.steps": 6000})
    assert "results/runs/ljat_arch/N200/h5-5/seeds0-99/two_time.parquet" in moved
    assert "results/tables/ljat_arch/N200/h3/mu_summary.parquet" in moved
    assert "results/figures/fig1.png" in moved and "results/scorecard.md" in moved
    assert not {p for p in moved if "/ljat_chain/" in p or p.startswith("resources/")}


def test_an_analysis_setting_leaves_the_training_runs_alone():
    moved = changed({"experiments.ljat_arch.analysis.n_boot": 10})
    assert "results/tables/ljat_arch/N200/h5-5/mu.parquet" in moved
    assert not {p for p in moved if p.startswith(("results/runs/", "resources/"))}


def test_the_data_settings_reach_every_run_on_those_data():
    moved = changed({"ljat19.start.size": 1.4})
    assert "resources/ljat19/train_N200.parquet" in moved
    assert "results/runs/ljat_chain/N200/h1/seeds0-99/metrics.parquet" in moved
    assert "results/tables/ljat_chain/N200/h1/msd.parquet" in moved


def test_a_figure_setting_moves_the_figures_and_scorecards_only():
    """The figure jobs' settings (glassynets.settings.figure) are their identity: a criterion
    they draw moves them, and no table."""
    moved = changed({"scorecard.underparametrized_accuracy": 0.95})
    assert {"results/figures/fig1.png", "results/figures/fig3.png"} <= moved
    assert all(p.startswith(("results/figures/", "results/scorecard")) for p in moved)


def test_settings_that_do_not_change_results_leave_every_identity():
    assert not changed({"checkpoint_every_s": 5})


def test_check_reports_stale_missing_and_up_to_date_files(tmp_path):
    tiny = lineage.Lineage(config.validate(copy.deepcopy(TINY), SCHEMA))
    table = "results/tables/ljat_arch/N200/h3/msd.parquet"
    for path, ident in (
        ("resources/ljat19/test.parquet", tiny.of("resources/ljat19/test.parquet")),
        (table, "0" * 16),
    ):
        storage.write(
            tmp_path / path,
            "energy",
            {"seed": [0], "step": [0], "energy": [0.0]},
            {"lineage": ident},
        )
    (tmp_path / "results/scorecard.md").write_text(
        "| a |\n\n" + lineage.SCORECARD_LINE.format(tiny.of("results/scorecard.md"))
    )
    states = {f.path: f.state for f in lineage.check(tiny, tmp_path)}
    assert states["resources/ljat19/test.parquet"] == "up-to-date"
    assert states["results/scorecard.md"] == "up-to-date"
    assert states[table] == "stale"
    assert states["results/tables/ljat_arch/N200/h3/mu.parquet"] == "missing"


def test_a_folder_in_place_of_a_file_is_named(tmp_path):
    tiny = lineage.Lineage(config.validate(copy.deepcopy(TINY), SCHEMA))
    (tmp_path / "results/figures/fig2.pdf").mkdir(parents=True)
    assert lineage.misplaced_folders(tiny, tmp_path) == [
        "results/figures/fig2.pdf is a folder where the workflow writes a file: "
        "remove it (rm -r results/figures/fig2.pdf)"
    ]


def test_an_unreadable_parquet_file_is_named_with_the_command_that_rebuilds_it(tmp_path):
    (tmp_path / "t.parquet").write_bytes(b"PAR1 truncated")
    (problem,) = lineage.unreadable(["t.parquet", "absent.parquet"], tmp_path)
    assert problem.startswith("t.parquet is not a readable Parquet file")
    assert problem.endswith("snakemake --cores all --forcerun t.parquet")


# --- one trainer per checkpoint


def test_a_second_holder_of_a_checkpoint_lock_is_told_the_first_ones_pid(tmp_path):
    checkpoint = tmp_path / "run.pt"
    with lock_held_elsewhere(checkpoint) as pid:
        with pytest.raises(
            storage.LockedError, match=rf"in use by another job \(PID {pid}\).*kill {pid}"
        ):
            with storage.exclusive_lock(checkpoint):
                pass
    with storage.exclusive_lock(checkpoint):  # free again once its holder is gone
        assert (tmp_path / "run.pt.lock").read_text().strip() == str(os.getpid())
    assert not (tmp_path / "run.pt.lock").exists()


# --- data validated at the door


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [("r13", np.nan, "row 3, column 'r13' holds nan"), ("r12", 0.0, "row 3, column 'r12' holds 0.0"),
     ("r23", np.inf, "row 3, column 'r23' holds inf"), ("label", 4, "row 3, column 'label' holds 4, not 0..3")],
)  # fmt: skip
def test_ljat19_samples_with_bad_values_are_refused_naming_row_and_column(
    tmp_path, column, value, says
):
    frame = pd.DataFrame(
        {"r12": [1.1, 1.2, 1.3], "r13": [1.2, 1.3, 1.4], "r23": [1.0, 1.1, 1.2], "label": [0, 1, 2]}
    )
    frame.loc[2, column] = value
    path = tmp_path / "published.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(data.DataError, match=f"published.csv: {says}".replace("(", r"\(")):
        data.read_ljat19_published(path)


def test_non_finite_inputs_stop_training_before_it_starts_naming_the_input():
    arch = Architecture.from_name("h3", 2, 4)
    spec = training.TrainSpec(arch, 0.05, 2, 0.0, 10, (0,), np.array([0, 10]), np.array([0, 10]))
    x = torch.ones(4, 2)
    x[1, 1] = float("nan")
    y = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"non-finite input: x_train row 1, feature 1 is nan"):
        training.train_ensemble(spec, x, y, torch.ones(4, 2), y)
