"""Image data layer (MNIST, Fashion-MNIST): IDX parsing on real and corrupted files, verified
fetching (offline, via file:// mirrors), deterministic subsets, preprocessing and the 'images' table."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from conftest import FASHION_FILES, MNIST_FILES
from glassynets import images, storage
from glassynets.data import DataError

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR, FASHION_DIR = (
    MNIST_FILES,
    FASHION_FILES,
)  # Fashion-MNIST's four files are recompressed by Debian
T10K_IMAGES, T10K_LABELS = images.FILES["t10k", "images"], images.FILES["t10k", "labels"]
TRAIN_LABELS = images.FILES["train", "labels"]
MD5 = images.IMAGE_SETS["mnist"].md5
T10K_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def real() -> Path:
    """The folder with the real t10k files and training labels (skip where it is absent)."""
    if not all((MNIST_DIR / name).is_file() for name in (T10K_IMAGES, T10K_LABELS, TRAIN_LABELS)):
        pytest.skip(
            f"real MNIST files not found in {MNIST_DIR} (only present beside the project's own checkout)"
        )
    return MNIST_DIR


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file holding ``array`` (uint8)."""
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_gz(path: Path, payload: bytes) -> Path:
    path.write_bytes(gzip.compress(payload, mtime=0))
    return path


# ---------------------------------------------------------------------------------------------
# real files


def test_real_t10k_split(real):
    pixels, labels = images.read_split(real / T10K_IMAGES, real / T10K_LABELS)
    assert pixels.shape == (10000, 784) and pixels.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert images.read_idx(real / T10K_IMAGES).shape == (10000, 28, 28)
    assert np.bincount(labels, minlength=10).tolist() == T10K_COUNTS
    x = pixels / 255
    assert round(float(x.mean()), 4) == 0.1325 and round(float(x.std()), 4) == 0.3105
    # flattening is row-major: pixel (r, c) is column 28 r + c
    np.testing.assert_array_equal(pixels[7].reshape(28, 28), images.read_idx(real / T10K_IMAGES)[7])


def test_real_files_have_official_md5(real):
    for name in (T10K_IMAGES, T10K_LABELS, TRAIN_LABELS):
        assert storage.file_digest(real / name, "md5") == MD5[name]
    assert len(images.read_idx(real / TRAIN_LABELS)) == images.SPLIT_SIZES["train"]


def test_raw_uncompressed_idx_is_read(tmp_path, real):
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    raw.write_bytes(gzip.decompress((real / T10K_LABELS).read_bytes()))
    np.testing.assert_array_equal(images.read_idx(raw), images.read_idx(real / T10K_LABELS))
    # gzip detected by its magic even without the .gz suffix
    disguised = tmp_path / "labels.bin"
    shutil.copyfile(real / T10K_LABELS, disguised)
    assert len(images.read_idx(disguised)) == 10000


# ---------------------------------------------------------------------------------------------
# corrupted files: each error names the file


LABELS = np.arange(100, dtype=np.uint8) % 10
IMAGES = (np.arange(100 * 28 * 28) % 256).astype(np.uint8).reshape(100, 28, 28)


def corrupt_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (corrupted labels file, expected message fragment)."""
    good = gzip.compress(idx_bytes(LABELS), mtime=0)
    payload = idx_bytes(LABELS)
    cases = {}

    def add(name: str, data: bytes, match: str):
        path = tmp_path / f"{name}-idx1-ubyte.gz"
        path.write_bytes(data)
        cases[name] = (path, match)

    add("truncated-gzip", good[: len(good) // 2], "corrupt gzip")
    crc = bytearray(good)
    crc[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    add("bad-crc", bytes(crc), "corrupt gzip")
    add("not-gzip-at-all", b"\x1f\x8b" + b"garbage" * 10, "corrupt gzip")
    add(
        "truncated-payload",
        gzip.compress(payload[:-7], mtime=0),
        "truncated.*100 payload bytes, got 93",
    )
    add("trailing-garbage", gzip.compress(payload + b"xyz", mtime=0), "3 bytes of trailing garbage")
    add("wrong-magic", gzip.compress(b"\x12\x34" + payload[2:], mtime=0), "not an IDX file")
    add(
        "float-type",
        gzip.compress(idx_bytes(LABELS, type_code=0x0D), mtime=0),
        r"0x0d \(float32\) is not supported",
    )
    add("short-header", gzip.compress(payload[:6], mtime=0), "header .* incomplete")
    add("empty", gzip.compress(b"", mtime=0), "too short")
    return cases


def test_corrupted_idx_files_raise_data_error_naming_the_file(tmp_path):
    cases = corrupt_files(tmp_path)
    for name, (path, match) in cases.items():
        with pytest.raises(DataError, match=match) as info:
            images.read_idx(path)
        assert str(path) in str(info.value), name
        assert "fetch it again" in str(info.value) or "not supported" in str(info.value), name


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file") as info:
        images.read_idx(tmp_path / "nope.gz")
    assert str(tmp_path / "nope.gz") in str(info.value)


def test_read_split_checks_labels_counts_and_shapes(tmp_path):
    image_file = write_gz(tmp_path / "img.gz", idx_bytes(IMAGES))
    labels = write_gz(tmp_path / "lab.gz", idx_bytes(LABELS))
    x, y = images.read_split(image_file, labels)
    assert (
        x.shape == (100, 784)
        and np.array_equal(x[3], IMAGES[3].reshape(-1))
        and np.array_equal(y, LABELS)
    )

    ten = LABELS.copy()
    ten[42] = 10
    bad = write_gz(tmp_path / "lab10.gz", idx_bytes(ten))
    with pytest.raises(DataError, match="label 10 at index 42") as info:
        images.read_split(image_file, bad)
    assert str(bad) in str(info.value)

    short = write_gz(tmp_path / "lab99.gz", idx_bytes(LABELS[:99]))
    with pytest.raises(DataError, match="100 images but .* 99 labels") as info:
        images.read_split(image_file, short)
    assert str(image_file) in str(info.value) and str(short) in str(info.value)

    with pytest.raises(DataError, match=r"expected \[n, 28, 28\]") as info:
        images.read_split(labels, labels)  # labels file given as images
    assert str(labels) in str(info.value)
    with pytest.raises(DataError, match=r"expected \[n\] labels") as info:
        images.read_split(image_file, image_file)
    assert str(image_file) in str(info.value)


def test_real_images_with_real_train_labels_mismatch(real):
    with pytest.raises(DataError, match="10000 images but .* 60000 labels"):
        images.read_split(real / T10K_IMAGES, real / TRAIN_LABELS)


# ---------------------------------------------------------------------------------------------
# fetch


def corrupted_copy(real: Path, folder: Path, name: str = T10K_LABELS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = bytearray((real / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / name).write_bytes(bytes(data))
    return folder / name


def uri(folder: Path) -> str:
    return folder.as_uri() + "/"


def test_fetch_copies_from_source_dir(tmp_path, real):
    logs = []
    dest = tmp_path / "dest"
    for name in (T10K_IMAGES, T10K_LABELS):
        path = images.fetch("mnist", name, dest, source_dir=real, mirrors=[], log=logs.append)
        assert path == dest / name and storage.file_digest(path, "md5") == MD5[name]
    assert sorted(p.name for p in dest.iterdir()) == sorted([T10K_IMAGES, T10K_LABELS])
    assert any("verified" in line for line in logs)
    # a verified file already in place is kept without looking anywhere else
    logs.clear()
    assert (
        images.fetch("mnist", T10K_LABELS, dest, source_dir=None, mirrors=[], log=logs.append)
        == dest / T10K_LABELS
    )
    assert logs == [f"mnist: {dest / T10K_LABELS} present, verified"]


def test_fetch_refuses_corrupt_source_and_does_not_download(tmp_path, real):
    bad = corrupted_copy(real, tmp_path / "src")
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as info:
        # a good mirror is available but must not be used: the user's copy is bad
        images.fetch(
            "mnist",
            T10K_LABELS,
            dest,
            source_dir=bad.parent,
            mirrors=[uri(real)],
            log=lambda m: None,
        )
    msg = str(info.value)
    assert str(bad) in msg and storage.file_digest(bad, "md5") in msg and MD5[T10K_LABELS] in msg
    assert not dest.exists() or not list(dest.iterdir())


def test_fetch_replaces_a_bad_file_in_dest(tmp_path, real):
    dest = tmp_path / "dest"
    corrupted_copy(real, dest)
    path = images.fetch("mnist", T10K_LABELS, dest, source_dir=real, mirrors=[], log=lambda m: None)
    assert storage.file_digest(path, "md5") == MD5[T10K_LABELS] and [
        p.name for p in dest.iterdir()
    ] == [T10K_LABELS]


def test_fetch_downloads_from_the_first_mirror_that_works(tmp_path, real):
    logs = []
    dest = tmp_path / "dest"
    missing = uri(tmp_path / "no-such-folder")
    path = images.fetch(
        "mnist",
        T10K_IMAGES,
        dest,
        source_dir=tmp_path / "empty",
        mirrors=[missing, uri(real)],
        retries=3,
        backoff_s=0,
        log=logs.append,
    )
    assert storage.file_digest(path, "md5") == MD5[T10K_IMAGES]
    assert [p.name for p in dest.iterdir()] == [T10K_IMAGES]
    # "not found" is not retried; the good mirror is named with the byte count
    assert sum(missing in line and "downloading" in line for line in logs) == 1
    assert any("1,648,877 bytes" in line and "verified" in line for line in logs)


def test_fetch_skips_a_mirror_serving_a_corrupt_file(tmp_path, real):
    logs = []
    dest = tmp_path / "dest"
    bad = corrupted_copy(real, tmp_path / "badmirror")
    path = images.fetch(
        "mnist",
        T10K_LABELS,
        dest,
        mirrors=[uri(bad.parent), uri(real)],
        backoff_s=0,
        log=logs.append,
    )
    assert storage.file_digest(path, "md5") == MD5[T10K_LABELS]
    assert any(storage.file_digest(bad, "md5") in line and "next source" in line for line in logs)
    assert [p.name for p in dest.iterdir()] == [T10K_LABELS]


def test_fetch_failure_is_one_clear_error(tmp_path, real):
    logs = []
    dest = tmp_path / "dest"
    bad = corrupted_copy(real, tmp_path / "badmirror")
    mirrors = [uri(tmp_path / "no-such-folder"), uri(bad.parent), "http://127.0.0.1:9/mnist/"]
    with pytest.raises(DataError) as info:
        images.fetch(
            "mnist",
            T10K_LABELS,
            dest,
            source_dir=tmp_path / "src",
            mirrors=mirrors,
            retries=2,
            backoff_s=0,
            timeout_s=5,
            log=logs.append,
        )
    msg = str(info.value)
    assert msg.startswith(f"MNIST file {T10K_LABELS} is missing: not at {dest / T10K_LABELS}")
    assert f"{tmp_path / 'src' / T10K_LABELS} (no such file)" in msg
    for mirror in mirrors:
        assert mirror + T10K_LABELS in msg
    assert "No such file" in msg and storage.file_digest(bad, "md5") in msg
    assert f"in {dest} or set mnist.source_dir in config.yaml" in msg
    assert all(name in msg for name in MD5)
    # the unreachable server is a transient error: tried `retries` times
    assert sum("127.0.0.1:9" in line and "downloading" in line for line in logs) == 2
    assert not list(dest.iterdir())


def test_fetch_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="unknown MNIST file"):
        images.fetch("mnist", "cifar.tar.gz", tmp_path, mirrors=[])


def skewed_labels(n: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.choice(10, size=n, p=np.arange(1, 11) / 55).astype(np.uint8)


@pytest.mark.parametrize("stratified", [True, False])
def test_subset_is_deterministic_exact_and_unique(stratified):
    labels = skewed_labels()
    for n in (1, 7, 100, 1999):
        a = images.subset_indices(labels, n, seed=3, stratified=stratified)
        assert a.dtype == np.int64 and len(a) == n and len(np.unique(a)) == n
        assert a.min() >= 0 and a.max() < len(labels)
        np.testing.assert_array_equal(
            a, images.subset_indices(labels, n, seed=3, stratified=stratified)
        )
    assert not np.array_equal(
        images.subset_indices(labels, 100, 3, stratified),
        images.subset_indices(labels, 100, 4, stratified),
    )


def test_stratified_subset_follows_class_proportions():
    labels = skewed_labels()
    counts = np.bincount(labels, minlength=10)
    for n in (10, 37, 500, 1234):
        got = np.bincount(labels[images.subset_indices(labels, n, seed=0)], minlength=10)
        assert got.sum() == n
        assert np.all(np.abs(got - n * counts / len(labels)) < 1)
        np.testing.assert_array_equal(got, images._quotas(counts, n))


def test_stratified_subset_is_in_permutation_order():
    labels = skewed_labels()
    perm = np.random.default_rng(5).permutation(len(labels))
    sub = images.subset_indices(labels, 300, seed=5)
    position = np.argsort(perm)[sub]
    assert np.all(np.diff(position) > 0)


def test_unstratified_subsets_are_nested_prefixes():
    labels = skewed_labels()
    big = images.subset_indices(labels, 1500, seed=2, stratified=False)
    for n in (1, 100, 1000):
        np.testing.assert_array_equal(
            images.subset_indices(labels, n, seed=2, stratified=False), big[:n]
        )


def test_stratified_nesting_on_mnist_train_labels(real):
    """What the docstring claims: nested on the usual grid, though not between every pair of sizes."""
    labels = images.read_idx(real / TRAIN_LABELS)
    grid = [100, 500, 1000, 2000, 5000, 10000, 20000, 30000, 50000]
    subsets = [set(images.subset_indices(labels, n, seed=0)) for n in grid]
    assert all(small <= big for small, big in zip(subsets, subsets[1:]))
    assert not set(images.subset_indices(labels, 20000, seed=0)) <= set(
        images.subset_indices(labels, 20001, seed=0)
    )


def test_full_subset_is_the_whole_set_in_order():
    labels = skewed_labels()
    for stratified in (True, False):
        np.testing.assert_array_equal(
            images.subset_indices(labels, len(labels), 9, stratified), np.arange(len(labels))
        )


def test_bad_subset_sizes():
    labels = skewed_labels()
    for n in (0, -5, 2001):
        with pytest.raises(ValueError, match=rf"n={n} must be between 1 and the 2000 available"):
            images.subset_indices(labels, n, seed=0)
    with pytest.raises(TypeError, match="integer"):
        images.subset_indices(labels, 10.0, seed=0)


# ---------------------------------------------------------------------------------------------
# preprocessing and storage


def test_preprocess_values():
    x = np.array([[0, 128, 255]], dtype=np.uint8)
    unit = images.preprocess(x, "unit")
    assert unit.dtype == torch.float32 and unit.shape == (1, 3)
    torch.testing.assert_close(unit, torch.tensor([[0.0, 128 / 255, 1.0]]))
    std = images.preprocess(x, "standardize", dtype=torch.float64)
    assert std.dtype == torch.float64
    torch.testing.assert_close(
        std, (torch.tensor([[0, 128, 255]], dtype=torch.float64) / 255 - 0.1307) / 0.3081
    )
    ro = np.array(x)
    ro.flags.writeable = False
    torch.testing.assert_close(images.preprocess(ro, "unit"), unit)  # read-only input is fine
    with pytest.raises(ValueError, match=r"expected one of \('unit', 'standardize'\)"):
        images.preprocess(x, "minmax")
    with pytest.raises(TypeError, match="uint8"):
        images.preprocess(x / 255, "unit")


def test_preprocess_real_images(real):
    pixels, _ = images.read_split(real / T10K_IMAGES, real / T10K_LABELS)
    z = images.preprocess(pixels, "standardize")
    assert (
        abs(z.mean().item() - (0.1325 - 0.1307) / 0.3081) < 1e-3
        and abs(z.std().item() - 0.3105 / 0.3081) < 1e-3
    )


def test_images_table_round_trip(tmp_path, real):
    original, labels = images.read_split(real / T10K_IMAGES, real / T10K_LABELS)
    path = storage.write_images(tmp_path / "t10k.parquet", labels, original, {"split": "t10k"})
    pixels, back = storage.read_images(path)
    assert (
        pixels.dtype == np.uint8
        and pixels.shape == (10000, 784)
        and np.array_equal(pixels, original)
    )
    assert back.dtype == np.int64 and np.array_equal(back, labels)
    assert storage.metadata(path)["split"] == "t10k"
    assert [p.name for p in tmp_path.iterdir()] == ["t10k.parquet"]


def test_images_table_small_and_empty(tmp_path):
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = storage.write_images(tmp_path / "s.parquet", np.array([1, 0, 9]), pixels, {})
    got, labels = storage.read_images(path)
    assert np.array_equal(got, pixels) and labels.tolist() == [1, 0, 9]
    path = storage.write_images(
        tmp_path / "e.parquet", np.zeros(0, np.uint8), np.zeros((0, 784), np.uint8), {}
    )
    got, labels = storage.read_images(path)
    assert got.shape == (0, 784) and labels.shape == (0,)
    with pytest.raises(ValueError, match="uint8"):
        storage.write_images(tmp_path / "f.parquet", np.array([1]), np.ones((1, 4)), {})


def test_read_images_refuses_other_tables(tmp_path):
    other = storage.write(
        tmp_path / "t.parquet",
        "tstar",
        {"seed": [1], "t_w": [2], "delta_star": [0.1], "t_star": [3.0]},
    )
    with pytest.raises(storage.SchemaError, match=r"t.parquet: not a 'images' table"):
        storage.read_images(other)
    no_pixels = storage.write(tmp_path / "n.parquet", "images", {"label": [1, 2]})
    with pytest.raises(
        storage.SchemaError,
        match=r"n.parquet: column 'pixels' must be a fixed-size list of uint8, got None",
    ):
        storage.read_images(no_pixels)
    steps = np.array([0])
    floats = storage.write_snapshots(
        tmp_path / "f.parquet", steps, np.array([0]), np.zeros((1, 1, 3), np.float32), {}
    )
    table = pq.read_table(floats).drop_columns(["seed", "step"])
    table = table.add_column(0, "label", pa.array([3], type=storage.I8)).rename_columns(
        ["label", "pixels"]
    )
    float_pixels = storage.atomic_write(tmp_path / "fp.parquet", table)
    with pytest.raises(
        storage.SchemaError, match=r"fp.parquet: column 'pixels' must be a fixed-size list of uint8"
    ):
        storage.read_images(float_pixels)


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST: the four real files, recompressed by Debian (their .gz md5 are not the official ones)

FASHION_NAMES = list(images.FILES.values())


@pytest.fixture
def fashion() -> Path:
    """The folder with the four real Fashion-MNIST files (skip where it is absent)."""
    if not all((FASHION_DIR / name).is_file() for name in FASHION_NAMES):
        pytest.skip(
            f"real Fashion-MNIST files not found in {FASHION_DIR} (only present beside the project's own checkout)"
        )
    return FASHION_DIR


def test_recompressed_fashion_files_are_verified_by_their_decompressed_bytes(fashion):
    spec = images.IMAGE_SETS["fashion_mnist"]
    for name in FASHION_NAMES:
        assert (
            storage.file_digest(fashion / name, "md5") != spec.md5[name]
        )  # Debian's recompression
        assert images.verify("fashion_mnist", fashion / name) is None
        # and the same bytes are not MNIST's
        assert "sha256" in images.verify("mnist", fashion / name)


def test_corrupt_fashion_files_are_refused(fashion, tmp_path):
    name = images.FILES["train", "labels"]
    good = (fashion / name).read_bytes()
    truncated = tmp_path / "truncated" / name
    truncated.parent.mkdir()
    truncated.write_bytes(good[: len(good) // 2])
    flipped = corrupted_copy(fashion, tmp_path / "flipped", name)
    for bad in (truncated, flipped):
        problem = images.verify("fashion_mnist", bad)
        assert problem is not None and storage.file_digest(bad, "md5") in problem
    # a valid gzip of other bytes: decompresses, and its sha256 is named
    other = write_gz(tmp_path / name, idx_bytes(np.zeros(60000, dtype=np.uint8)))
    assert images.IMAGE_SETS["fashion_mnist"].sha256[name] in images.verify("fashion_mnist", other)
    # fetch refuses the bad copy in source_dir with one line naming it, and leaves nothing behind
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match=str(flipped)):
        images.fetch(
            "fashion_mnist",
            name,
            dest,
            source_dir=flipped.parent,
            mirrors=[uri(fashion)],
            log=lambda m: None,
        )
    assert not dest.exists() or not list(dest.iterdir())


def test_official_bytes_under_any_compression_are_accepted(fashion, tmp_path):
    name = images.FILES["t10k", "labels"]
    raw = gzip.decompress((fashion / name).read_bytes())
    again = tmp_path / name
    again.write_bytes(gzip.compress(raw, compresslevel=1, mtime=123))
    assert images.verify("fashion_mnist", again) is None


def test_fashion_splits_read_as_documented(fashion):
    x, y = images.read_split(
        fashion / images.FILES["train", "images"], fashion / images.FILES["train", "labels"]
    )
    assert x.shape == (60000, 784) and np.bincount(y).tolist() == [6000] * 10
    unit = x / 255
    assert round(float(unit.mean()), 4) == 0.2860 and round(float(unit.std()), 4) == 0.3530
    z = images.preprocess(x[:20000], "standardize", "fashion_mnist", dtype=torch.float64)
    assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1) < 0.02
    x_test, y_test = images.read_split(
        fashion / images.FILES["t10k", "images"], fashion / images.FILES["t10k", "labels"]
    )
    assert x_test.shape == (10000, 784) and np.bincount(y_test).tolist() == [1000] * 10


def test_fetch_takes_fashion_files_from_a_source_dir_and_from_the_system_folder(
    fashion, tmp_path, monkeypatch
):
    name = images.FILES["t10k", "labels"]
    logs = []
    path = images.fetch(
        "fashion_mnist", name, tmp_path / "a", source_dir=fashion, mirrors=[], log=logs.append
    )
    assert images.verify("fashion_mnist", path) is None and any("verified" in line for line in logs)
    # an OS package's folder (Debian: /usr/share/datasets/fashion-mnist) is used before any download
    spec = images.IMAGE_SETS["fashion_mnist"]
    monkeypatch.setitem(
        images.IMAGE_SETS,
        "fashion_mnist",
        images.ImageSet(**{**spec.__dict__, "system_dirs": (str(fashion),), "mirrors": ()}),
    )
    path = images.fetch("fashion_mnist", name, tmp_path / "b", log=lambda m: None)
    assert path.read_bytes() == (fashion / name).read_bytes()
