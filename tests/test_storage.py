"""Parquet tables: round trips, schema checks and atomic writes."""

import numpy as np
import pyarrow as pa
import pytest

from glassynets import storage


def test_snapshots_round_trip_bit_exact(tmp_path):
    rng = np.random.default_rng(0)
    snaps = rng.normal(size=(4, 3, 9)).astype(np.float32)
    path = storage.write_snapshots(
        tmp_path / "s.parquet", np.array([0, 1, 3, 10]), np.array([5, 6, 7]), snaps, {"arch": "h2"}
    )
    steps, seeds, back = storage.read_snapshots(path)
    assert steps.tolist() == [0, 1, 3, 10] and seeds.tolist() == [5, 6, 7]
    assert back.dtype == np.float32 and np.array_equal(back, snaps)
    meta = storage.metadata(path)
    assert {k: meta[k] for k in ("arch", "n_params")} == {"arch": "h2", "n_params": 9}
    assert "theta_layout" in meta and "utc" in meta["written"]


@pytest.mark.parametrize("batch_rows", [1, 7, 4096])
def test_tables_read_back_whole_whatever_the_read_batch(tmp_path, monkeypatch, batch_rows):
    monkeypatch.setattr(storage, "READ_BATCH_ROWS", batch_rows)
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(50, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, size=50)
    path = storage.write_images(tmp_path / "i.parquet", labels, pixels, {"dataset": "x"})
    back_pixels, back_labels = storage.read_images(path)
    assert np.array_equal(back_pixels, pixels) and back_labels.tolist() == labels.tolist()
    assert storage.metadata(path)["dataset"] == "x"
    empty = storage.write_images(
        tmp_path / "e.parquet", np.zeros(0, int), np.zeros((0, 784), np.uint8), {}
    )
    assert storage.read_images(empty)[0].shape == (0, 784)
    storage.release_unused_memory()


def test_reading_the_wrong_kind_names_file_and_columns(tmp_path):
    path = storage.write(
        tmp_path / "m.parquet",
        "tstar",
        {"seed": [1], "t_w": [2], "delta_star": [0.1], "t_star": [3.0]},
    )
    with pytest.raises(storage.SchemaError, match=r"m.parquet: not a 'msd' table"):
        storage.read(path, "msd")


def test_missing_columns_are_refused_before_writing(tmp_path):
    with pytest.raises(storage.SchemaError, match="missing columns"):
        storage.write(tmp_path / "x.parquet", "tstar", {"seed": [1]})
    assert not list(tmp_path.iterdir())


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises((pa.ArrowException, TypeError, ValueError)):
        storage.write(
            tmp_path / "x.parquet",
            "tstar",
            {"seed": ["not a number"], "t_w": [1], "delta_star": [1.0], "t_star": [1.0]},
        )
    assert not list(tmp_path.iterdir())


def test_replace_atomically_keeps_the_old_file_when_the_write_fails(tmp_path):
    path = tmp_path / "out.txt"
    storage.atomic_write_text(path, "old\n")

    def write_then_fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("checksum mismatch")

    with pytest.raises(RuntimeError, match="checksum mismatch"):
        storage.replace_atomically(path, write_then_fail)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    storage.replace_atomically(path, lambda tmp: tmp.write_text("new\n"))
    assert path.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_truncated_file_says_how_to_rebuild_it(tmp_path):
    path = tmp_path / "m.parquet"
    storage.write(path, "energy", {"seed": [0], "step": [1], "energy": [-0.5]}, {})
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(
        storage.SchemaError,
        match=r"m.parquet: not a readable Parquet file .*rebuild it .*--forcerun .*m.parquet",
    ):
        storage.read(path, "energy")


def test_every_column_has_its_unit_and_meaning_and_every_file_its_provenance(tmp_path):
    missing = {n for schema in storage.SCHEMAS.values() for n in schema.names} - set(
        storage.COLUMN_DOCS
    )
    assert missing == set()
    source = tmp_path / "in.txt"
    source.write_text("data")
    path = tmp_path / "e.parquet"
    storage.write(
        path,
        "energy",
        {"seed": [0], "step": [1], "energy": [-0.5]},
        {"temperature": 0.5, **storage.provenance([source], {"temperature": 0.5})},
    )
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    assert all(f.metadata[b"description"] for f in schema)
    meta = storage.metadata(path)
    assert (
        meta["inputs"] == {str(source): storage.file_digest(source)}
        and len(meta["settings_sha256"]) == 64
    )
    assert {"glassynets", "git_commit", "torch", "numpy", "pyarrow", "utc"} <= set(meta["written"])


def test_describe_prints_kind_columns_and_provenance(tmp_path, capsys):
    from glassynets import cli

    path = tmp_path / "e.parquet"
    storage.write(
        path,
        "energy",
        {"seed": [0, 1], "step": [1, 1], "energy": [-0.5, -0.6]},
        {"temperature": 0.5},
    )
    assert cli.main(["describe", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "energy table, 2 rows" in out and "H/N of the p-spin" in out and '"temperature": 0.5' in out
    )
    (tmp_path / "bad.parquet").write_text("not parquet")
    assert cli.main(["describe", str(tmp_path / "bad.parquet")]) == 1
    assert "not a readable Parquet file" in capsys.readouterr().err


def test_a_metrics_table_written_before_the_later_columns_reads_back_with_nan(tmp_path):
    """storage.LATER_COLUMNS: a metrics table without t_sgd and Yaida's columns (as written before
    they existed) is still a metrics table; writing one without them fills NaN."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    later = storage.LATER_COLUMNS["metrics"]
    old = [f for f in storage.SCHEMAS["metrics"] if f.name not in later]
    assert [f.name for f in storage.SCHEMAS["metrics"]][-len(later) :] == list(later)
    path = tmp_path / "old.parquet"
    pq.write_table(pa.table({f.name: pa.array([1, 2], f.type) for f in old}), path)
    frame = storage.read_frame(path, "metrics")
    assert list(frame.columns) == storage.SCHEMAS["metrics"].names
    assert frame["batch_grad_norm"].tolist() == [1.0, 2.0] and frame[list(later)].isna().all().all()
    written = storage.write(tmp_path / "w.parquet", "metrics", {f.name: [3] for f in old})
    assert storage.read_frame(written, "metrics")[list(later)].isna().all().all()
    with pytest.raises(storage.SchemaError, match="missing columns"):
        storage.write(tmp_path / "x.parquet", "metrics", {f.name: [3] for f in old[:-1]})
    with pytest.raises(storage.SchemaError, match="not a 'metrics' table"):
        storage.read(
            storage.write(
                tmp_path / "t.parquet", "tstar",
                {"seed": [1], "t_w": [2], "delta_star": [0.1], "t_star": [3.0]},
            ),
            "metrics",
        )  # fmt: skip
