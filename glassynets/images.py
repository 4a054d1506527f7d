"""Image data sets in IDX format (MNIST, Fashion-MNIST): verified files, the format, subsets, preprocessing.

Every data set here has MNIST's layout: four gzip-compressed IDX files (train and t10k, images
and labels), images uint8 [n, 784] (28×28 flattened row-major, 0 = background) and labels uint8
[n] in 0..9. A file is accepted when its ``.gz`` md5 is the official one or, failing that, when
its decompressed bytes have the known sha256 (so recompressed copies such as Debian's
``dataset-fashion-mnist`` pass, and a corrupt file does not). A file lands under its final name
only after that check, so a file under its final name in ``dest_dir`` is always complete.
Adding a data set of this layout (KMNIST, say) is one entry of :data:`IMAGE_SETS`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import DataError, fetch_verified
from .storage import file_digest

#: File name of each (split, kind); the same for every data set of :data:`IMAGE_SETS`.
FILES: dict[tuple[str, str], str] = {
    ("train", "images"): "train-images-idx3-ubyte.gz",
    ("train", "labels"): "train-labels-idx1-ubyte.gz",
    ("t10k", "images"): "t10k-images-idx3-ubyte.gz",
    ("t10k", "labels"): "t10k-labels-idx1-ubyte.gz",
}

SPLIT_SIZES: dict[str, int] = {"train": 60000, "t10k": 10000}

SIDE = 28  # images are SIDE × SIDE pixels
PIXELS = SIDE * SIDE

#: Values ``preprocess`` accepts for ``how``.
PREPROCESS = ("unit", "standardize")


@dataclass(frozen=True)
class ImageSet:
    """One data set of four IDX files: what identifies its files and where they are found."""

    title: str  # for messages and figures
    md5: dict[str, str]  # official md5 of each .gz file (the sums the canonical loaders check)
    sha256: dict[str, str]  # sha256 of each file's decompressed bytes
    mirrors: tuple[str, ...]  # base URLs, tried in turn; a file's URL is mirror + file name
    mean: float  # mean of x/255 over the 60,000 training images
    std: float  # their standard deviation
    system_dirs: tuple[str, ...] = ()  # folders an OS package installs the files into


IMAGE_SETS: dict[str, ImageSet] = {
    "mnist": ImageSet(
        title="MNIST",
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        sha256={
            "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        mean=0.1307,
        std=0.3081,
    ),
    "fashion_mnist": ImageSet(
        title="Fashion-MNIST",
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        sha256={
            "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        mean=0.2860,
        std=0.3530,
        system_dirs=(
            "/usr/share/datasets/fashion-mnist",
        ),  # Debian/Ubuntu: apt-get install dataset-fashion-mnist
    ),
}


def image_set(name: str) -> ImageSet:
    """The data set called ``name``; a ValueError naming the known ones otherwise."""
    if name not in IMAGE_SETS:
        raise ValueError(f"unknown image data set {name!r}; expected one of {sorted(IMAGE_SETS)}")
    return IMAGE_SETS[name]


_IDX_TYPES = {
    0x08: "uint8",
    0x09: "int8",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}
_GZIP_MAGIC = b"\x1f\x8b"
_REFETCH = "delete it and fetch it again"


# ---------------------------------------------------------------------------------------------
# IDX files


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) as a uint8 array of the shape its header gives.

    Header: two zero bytes, a type byte (only 0x08 = unsigned byte is supported), the number of
    dimensions, then each dimension's size as a big-endian int32; the payload must hold exactly
    the product of the sizes in bytes. Any deviation raises :class:`DataError` naming the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; fetch the data set's files first") from None
    if path.name.endswith(".gz") or raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
            raise DataError(f"{path}: corrupt gzip stream ({err}); {_REFETCH}") from None
    if len(raw) < 4:
        raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header; {_REFETCH}")
    zero, type_code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\0\0":
        raise DataError(
            f"{path}: not an IDX file (magic {raw[:4].hex()}, expected 0000 08 nn); {_REFETCH}"
        )
    if type_code != 0x08:
        name = _IDX_TYPES.get(type_code, "unknown")
        raise DataError(
            f"{path}: IDX element type 0x{type_code:02x} ({name}) is not supported, only 0x08 (uint8)"
        )
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(
            f"{path}: IDX header for {ndim} dimensions is incomplete ({len(raw)} bytes); {_REFETCH}"
        )
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected, got = int(np.prod(shape, dtype=np.int64)), len(raw) - header
    if got < expected:
        raise DataError(
            f"{path}: truncated: shape {shape} needs {expected} payload bytes, got {got}; {_REFETCH}"
        )
    if got > expected:
        raise DataError(
            f"{path}: {got - expected} bytes of trailing garbage after the {shape} payload; {_REFETCH}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_split(
    images_path: str | os.PathLike, labels_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [n, 784] (each 28×28 image flattened row-major) and labels uint8 [n] in 0..9."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise DataError(
            f"{images_path}: holds an array of shape {images.shape}, expected [n, 28, 28] images"
        )
    if labels.ndim != 1:
        raise DataError(
            f"{labels_path}: holds an array of shape {labels.shape}, expected [n] labels"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
            "they must come from the same split"
        )
    if len(labels) and labels.max() > 9:
        bad = int(np.flatnonzero(labels > 9)[0])
        raise DataError(
            f"{labels_path}: label {labels[bad]} at index {bad} is not a digit 0..9; {_REFETCH}"
        )
    return images.reshape(len(images), PIXELS), labels


# ---------------------------------------------------------------------------------------------
# Getting the files


def split_files(splits: Iterable[str]) -> list[str]:
    """File names (images, then labels) needed for ``splits`` ("train", "t10k")."""
    names = []
    for split in splits:
        if split not in SPLIT_SIZES:
            raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_SIZES)}")
        names += [FILES[split, "images"], FILES[split, "labels"]]
    return names


def verify(dataset: str, path: str | os.PathLike, name: str | None = None) -> str | None:
    """None if ``path`` is the data set's official file ``name`` (default: the path's name), else
    why not (one line).

    Accepted: the official ``.gz`` md5, or decompressed bytes with the known sha256 (a
    recompressed copy of the official data).
    """
    spec, name = image_set(dataset), name or Path(path).name
    if name not in spec.md5:
        return (
            f"{name!r} is not one of the official {spec.title} file names ({', '.join(spec.md5)})"
        )
    md5 = file_digest(path, "md5")
    if md5 == spec.md5[name]:
        return None
    try:
        with gzip.open(path, "rb") as f:
            sha256 = hashlib.file_digest(f, "sha256").hexdigest()
    except (OSError, EOFError, zlib.error) as err:
        return (
            f"md5 is {md5}, not the official {spec.md5[name]}, and it does not decompress ({err})"
        )
    if sha256 == spec.sha256[name]:
        return None
    return (
        f"md5 is {md5}, not the official {spec.md5[name]}, and its decompressed bytes have sha256 {sha256}, "
        f"not {spec.sha256[name]}"
    )


def fetch(
    dataset: str,
    filename: str,
    dest_dir: str | os.PathLike,
    source_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
    **retry: float,
) -> Path:
    """Put a verified copy of ``filename`` of ``dataset`` at ``dest_dir/filename``; its path.

    Looked for in ``source_dir``, then the data set's system folders (an OS package's), then
    downloaded from ``mirrors`` (default: the official ones); see :func:`data.fetch_verified`
    for the rules and ``retry`` (retries, timeout_s, backoff_s).
    """
    spec = image_set(dataset)
    if filename not in spec.md5:
        raise ValueError(
            f"unknown {spec.title} file {filename!r}; expected one of {sorted(spec.md5)}"
        )
    folders = ([source_dir] if source_dir is not None else []) + [
        d for d in spec.system_dirs if Path(d).is_dir()
    ]
    mirrors = spec.mirrors if mirrors is None else mirrors
    sources = [Path(folder) / filename for folder in folders] + [
        mirror + filename for mirror in mirrors
    ]
    hint = (
        f"Put the four {spec.title} files ({', '.join(spec.md5)}) in {Path(dest_dir)} or set "
        f"{dataset}.source_dir in config.yaml to a folder holding them."
    )
    return fetch_verified(
        Path(dest_dir) / filename,
        sources,
        lambda path: verify(dataset, path, filename),
        what=f"{spec.title} file {filename}",
        hint=hint,
        log=lambda m: log(f"{dataset}: {m}"),
        **retry,
    )


# ---------------------------------------------------------------------------------------------
# Subsets and preprocessing


def _quotas(counts: np.ndarray, n: int) -> np.ndarray:
    """Largest-remainder (Hamilton) apportionment of ``n`` over classes of sizes ``counts``.

    Each quota is floor or ceil of n × count / total and they sum to n exactly; ties in the
    remainder go to the lower class index.
    """
    # integer arithmetic: exact, so that rounding and ties are the same on every machine
    quotas, remainders = np.divmod(n * counts, counts.sum())
    order = np.argsort(-remainders, kind="stable")
    quotas[order[: n - quotas.sum()]] += 1
    return quotas


def subset_indices(labels: np.ndarray, n: int, seed: int, stratified: bool = True) -> np.ndarray:
    """Indices (int64 [n]) of a deterministic training subset of size ``n``.

    ``n == len(labels)`` gives the whole set in its original order. Otherwise the subset is drawn
    from one permutation of all indices (``np.random.default_rng(seed)``) and returned in
    permutation order:

    - not stratified: the first ``n`` indices of the permutation. Subsets of one seed are
      therefore nested (the n = 1000 subset is inside the n = 5000 one).
    - stratified: each class gets a quota by largest-remainder rounding of n × its fraction
      (within 1 of it; the quotas sum to n), filled by that class's first items in permutation
      order. Subsets of one seed are nested exactly when no class's quota shrinks as n grows.
      Largest-remainder rounding does not guarantee that (the "Alabama paradox"): on the 60,000
      MNIST training labels it holds for the sizes 100, 500, 1000, 2000, 5000, 10000, 20000,
      30000, 50000 (tested), but fails between some neighbours, e.g. n = 20000 → 20001 moves one
      "0" out. Check :func:`_quotas` for the sizes at hand if nesting matters.
    """
    labels = np.asarray(labels)
    total = len(labels)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"subset size n must be an integer, got {n!r}")
    if not 1 <= n <= total:
        raise ValueError(f"subset size n={n} must be between 1 and the {total} available samples")
    if n == total:
        return np.arange(total, dtype=np.int64)
    perm = np.random.default_rng(seed).permutation(total)
    if not stratified:
        return perm[:n].astype(np.int64)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quotas = _quotas(counts.astype(np.int64), n)
    in_perm = inverse.reshape(-1)[perm]  # class index of each permuted item
    keep = np.zeros(total, dtype=bool)
    for c, quota in enumerate(quotas):
        keep[np.flatnonzero(in_perm == c)[:quota]] = True
    return perm[keep].astype(np.int64)


def preprocess(
    images_uint8: np.ndarray, how: str, dataset: str = "mnist", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Images uint8 [n, 784] as a float tensor [n, 784] of ``dtype``.

    - ``unit``: x / 255, in [0, 1].
    - ``standardize``: (x / 255 − mean) / std with the mean and standard deviation of ``dataset``'s
      60,000 training images (MNIST 0.1307, 0.3081; so the training set has mean ≈ 0 and std ≈ 1,
      other sets or subsets only approximately).
    """
    if how not in PREPROCESS:
        raise ValueError(f"unknown preprocessing {how!r}; expected one of {PREPROCESS}")
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8:
        raise TypeError(f"preprocess expects uint8 images (0..255), got {images.dtype}")
    x = torch.tensor(images).to(dtype)  # a copy: also fine for read-only arrays
    x.div_(255)
    if how == "standardize":
        spec = image_set(dataset)
        x.sub_(spec.mean).div_(spec.std)
    return x
