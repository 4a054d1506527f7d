"""MNIST: verified copies of the four official files, their IDX format, subsets and preprocessing.

Images come out as uint8 [n, 784] (28×28 flattened row-major, 0 = background, 255 = ink) and
labels as uint8 [n] (digits 0..9). Files are accepted only if their md5 matches the official
sum, and they land under their final name only after that check, so a file under its final
name in ``dest_dir`` is always complete.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from .data import DataError
from .storage import replace_atomically

#: File name of each (split, kind).
FILES: dict[tuple[str, str], str] = {
    ("train", "images"): "train-images-idx3-ubyte.gz",
    ("train", "labels"): "train-labels-idx1-ubyte.gz",
    ("t10k", "images"): "t10k-images-idx3-ubyte.gz",
    ("t10k", "labels"): "t10k-labels-idx1-ubyte.gz",
}

#: Official md5 of each file (the sums the canonical loaders check).
MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

#: Tried in this order; a file's URL is mirror + file name.
MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

SPLIT_SIZES: dict[str, int] = {"train": 60000, "t10k": 10000}

SIDE = 28  # images are SIDE × SIDE pixels
PIXELS = SIDE * SIDE

#: Values ``preprocess`` accepts for ``how``.
PREPROCESS = ("unit", "standardize")

#: Mean and standard deviation of x/255 over the 60,000 training images (the usual constants).
TRAIN_MEAN, TRAIN_STD = 0.1307, 0.3081

_IDX_TYPES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}
_GZIP_MAGIC = b"\x1f\x8b"
_REFETCH = "delete it and fetch it again"


def md5sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex md5 of a file's bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


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
        raise DataError(f"{path}: no such file; fetch the MNIST files first") from None
    if path.name.endswith(".gz") or raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
            raise DataError(f"{path}: corrupt gzip stream ({err}); {_REFETCH}") from None
    if len(raw) < 4:
        raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header; {_REFETCH}")
    zero, type_code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\0\0":
        raise DataError(f"{path}: not an IDX file (magic {raw[:4].hex()}, expected 0000 08 nn); {_REFETCH}")
    if type_code != 0x08:
        name = _IDX_TYPES.get(type_code, "unknown")
        raise DataError(f"{path}: IDX element type 0x{type_code:02x} ({name}) is not supported, only 0x08 (uint8)")
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: IDX header for {ndim} dimensions is incomplete ({len(raw)} bytes); {_REFETCH}")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected, got = int(np.prod(shape, dtype=np.int64)), len(raw) - header
    if got < expected:
        raise DataError(f"{path}: truncated: shape {shape} needs {expected} payload bytes, got {got}; {_REFETCH}")
    if got > expected:
        raise DataError(f"{path}: {got - expected} bytes of trailing garbage after the {shape} payload; {_REFETCH}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_split(images_path: str | os.PathLike, labels_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [n, 784] (each 28×28 image flattened row-major) and labels uint8 [n] in 0..9."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise DataError(f"{images_path}: holds an array of shape {images.shape}, expected [n, 28, 28] images")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: holds an array of shape {labels.shape}, expected [n] labels")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
            "they must come from the same split"
        )
    if len(labels) and labels.max() > 9:
        bad = int(np.flatnonzero(labels > 9)[0])
        raise DataError(f"{labels_path}: label {labels[bad]} at index {bad} is not a digit 0..9; {_REFETCH}")
    return images.reshape(len(images), PIXELS), labels


# ---------------------------------------------------------------------------------------------
# Getting the files


def split_files(splits: Iterable[str]) -> list[str]:
    """File names (images, then labels) needed for ``splits`` ("train", "t10k")."""
    names = []
    for split in splits:
        if split not in SPLIT_SIZES:
            raise ValueError(f"unknown MNIST split {split!r}; expected one of {sorted(SPLIT_SIZES)}")
        names += [FILES[split, "images"], FILES[split, "labels"]]
    return names


def missing_files(
    splits: Iterable[str], dest_dir: str | os.PathLike, source_dir: str | os.PathLike | None = None
) -> list[str]:
    """Names of the files of ``splits`` present in neither ``dest_dir`` nor ``source_dir``.

    Only checks that the files exist; :func:`fetch` checks their content.
    """
    dirs = [Path(dest_dir)] + ([Path(source_dir)] if source_dir is not None else [])
    return [name for name in split_files(splits) if not any((d / name).is_file() for d in dirs)]


def _short(err: BaseException, limit: int = 120) -> str:
    """A one-line description of a download error."""
    if isinstance(err, urllib.error.HTTPError):
        text = f"HTTP {err.code} {err.reason}"
    elif isinstance(err, urllib.error.URLError):
        reason = err.reason
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
    else:
        text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _permanent(err: BaseException) -> bool:
    """True for errors that retrying the same URL will not cure (not found, forbidden, a host name
    that does not resolve: offline machines fail fast)."""
    if isinstance(err, urllib.error.HTTPError):
        return 400 <= err.code < 500 and err.code not in (408, 429)
    return isinstance(err, urllib.error.URLError) and isinstance(
        err.reason, (FileNotFoundError, IsADirectoryError, socket.gaierror)
    )


def _download(url: str, tmp: Path, timeout_s: float) -> int:
    """Stream ``url`` into ``tmp``; the number of bytes written."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)
        return out.tell()


def fetch(
    filename: str,
    dest_dir: str | os.PathLike,
    source_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] = MIRRORS,
    retries: int = 3,
    timeout_s: float = 60,
    log: Callable[[str], None] = print,
    backoff_s: float = 1.0,
) -> Path:
    """Put a verified copy of MNIST file ``filename`` at ``dest_dir/filename`` and return its path.

    A file already there with the right md5 is kept as is. Otherwise, if ``source_dir`` holds
    the file it is copied (a wrong md5 there is an error: the user's copy is bad, so nothing is
    downloaded); if not, each mirror's URL (mirror + filename) is tried up to ``retries`` times,
    waiting ``backoff_s`` × attempt seconds between tries. A download with the wrong md5 moves on
    to the next mirror; so do "not found"-type errors, which are not retried. Bytes go to a
    temporary name in ``dest_dir`` and are renamed only once verified; temporary files are
    removed on every failure. Raises :class:`DataError` if no verified copy could be made.
    """
    if filename not in MD5:
        raise ValueError(f"unknown MNIST file {filename!r}; expected one of {sorted(MD5)}")
    if retries < 1:
        raise ValueError(f"retries must be at least 1, got {retries}")
    want = MD5[filename]
    dest_dir = Path(dest_dir)
    dest = dest_dir / filename
    stale = ""
    if dest.is_file():
        got = md5sum(dest)
        if got == want:
            log(f"mnist: {dest} present, md5 ok")
            return dest
        log(f"mnist: {dest} has md5 {got}, expected {want}; replacing it")
        stale = f" ({dest} is there but has md5 {got}, not {want})"
    looked = f"{dest_dir}" + (f" and {source_dir}" if source_dir is not None else "")

    def copy_or_download(tmp: Path) -> None:
        if source_dir is not None and (Path(source_dir) / filename).is_file():
            source = Path(source_dir) / filename
            shutil.copyfile(source, tmp)
            got = md5sum(tmp)
            if got != want:
                raise DataError(
                    f"{source}: md5 is {got}, the official {filename} has {want}; the file is corrupt or a "
                    f"different version: replace it with the official file (or delete it to download it)"
                )
            log(f"mnist: copied {source} -> {dest} ({tmp.stat().st_size:,} bytes), md5 ok")
            return
        if source_dir is not None:
            log(f"mnist: {filename} not in {source_dir}; downloading")
        failures = []
        for mirror in mirrors:
            url = mirror + filename
            for attempt in range(1, retries + 1):
                log(f"mnist: {filename}: downloading {url} (try {attempt}/{retries})")
                try:
                    n_bytes = _download(url, tmp, timeout_s)
                except (OSError, ValueError, http.client.HTTPException) as err:  # URLError, timeouts, bad URLs, bad replies
                    tmp.unlink(missing_ok=True)
                    log(f"mnist: {url}: {_short(err)}")
                    failure = _short(err)
                    if _permanent(err) or attempt == retries:
                        break
                    time.sleep(backoff_s * attempt)
                    continue
                got = md5sum(tmp)
                if got != want:
                    tmp.unlink(missing_ok=True)
                    failure = f"md5 {got} of {n_bytes:,} bytes, expected {want}"
                    log(f"mnist: {url}: {failure}; trying the next mirror")
                    break
                log(f"mnist: {filename}: {n_bytes:,} bytes from {url}, md5 ok")
                return
            failures.append(f"{url} ({failure})")
        tried = "; ".join(failures) if failures else "no mirrors configured"
        raise DataError(
            f"MNIST file {filename} is missing: not in {looked}{stale}, and no mirror served it (tried: {tried}). "
            f"Put the four MNIST files ({', '.join(MD5)}) in {dest_dir} or set mnist.source_dir in "
            "config.yaml to a folder holding them."
        )

    return replace_atomically(dest, copy_or_download)


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


def preprocess(images_uint8: np.ndarray, how: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Images uint8 [n, 784] as a float tensor [n, 784] of ``dtype``.

    - ``unit``: x / 255, in [0, 1].
    - ``standardize``: (x / 255 − 0.1307) / 0.3081, the usual mean and standard deviation of the
      60,000 training images (so the training set has mean ≈ 0 and std ≈ 1; other sets or subsets
      only approximately).
    """
    if how not in PREPROCESS:
        raise ValueError(f"unknown preprocessing {how!r}; expected one of {PREPROCESS}")
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8:
        raise TypeError(f"preprocess expects uint8 images (0..255), got {images.dtype}")
    x = torch.tensor(images).to(dtype)  # a copy: also fine for read-only arrays
    x.div_(255)
    if how == "standardize":
        x.sub_(TRAIN_MEAN).div_(TRAIN_STD)
    return x
