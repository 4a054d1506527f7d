"""Verified copies of files the user provides or the workflow fetches, and the published LJAT19
file read and checked (the tables become tensors in :mod:`glassynets.tensors`)."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import storage


class DataError(ValueError):
    """A data file is missing, corrupt, or not what the configuration says it is."""


def fetch_verified(
    dest: str | os.PathLike,
    sources: Sequence[str | os.PathLike],
    check: Callable[[Path], str | None],
    *,
    what: str,
    hint: str,
    retries: int = 3,
    timeout_s: float = 60,
    backoff_s: float = 1.0,
    log: Callable[[str], None] = print,
) -> Path:
    """Put a verified copy of a file at ``dest`` and return its path: the one way data files arrive.

    ``check(path)`` returns None for a good file, else the reason it is not (one line). A good
    file already at ``dest`` is kept. Otherwise ``sources`` are tried in order: a local path is
    copied when it exists (a bad local copy is an error at once: it is the user's file, so
    nothing is downloaded in its place); a URL is downloaded up to ``retries`` times, waiting
    ``backoff_s`` × attempt seconds between tries, and a bad download or a "not found"-type
    error moves on to the next source. Bytes land under a temporary name and are renamed only
    once verified. Raises :class:`DataError` naming ``what``, every source tried and ``hint``.
    """
    if retries < 1:
        raise ValueError(f"retries must be at least 1, got {retries}")
    dest = Path(dest)
    stale = ""
    if dest.is_file():
        problem = check(dest)
        if problem is None:
            log(f"{dest} present, verified")
            return dest
        log(f"{dest}: {problem}; replacing it")
        stale = f" ({dest} is there but {problem})"

    def obtain(tmp: Path) -> None:
        failures = []
        for source in map(str, sources):
            if "://" not in source:
                if not Path(source).is_file():
                    failures.append(f"{source} (no such file)")
                    continue
                shutil.copyfile(source, tmp)
                if (problem := check(tmp)) is not None:
                    raise DataError(
                        f"{source}: {problem}; the file is corrupt or a different version: "
                        "replace it with the right file or remove it"
                    )
                log(f"copied {source} -> {dest} ({tmp.stat().st_size:,} bytes), verified")
                return
            for attempt in range(1, retries + 1):
                log(f"{dest.name}: downloading {source} (try {attempt}/{retries})")
                try:
                    n_bytes = _download(source, tmp, timeout_s)
                except (
                    OSError,
                    ValueError,
                    http.client.HTTPException,
                ) as err:  # URLError, timeouts, bad URLs
                    tmp.unlink(missing_ok=True)
                    failure = _short(err)
                    log(f"{source}: {failure}")
                    if _permanent(err) or attempt == retries:
                        break
                    time.sleep(backoff_s * attempt)
                    continue
                if (problem := check(tmp)) is not None:
                    tmp.unlink(missing_ok=True)
                    failure = f"{n_bytes:,} bytes: {problem}"
                    log(f"{source}: {failure}; trying the next source")
                    break
                log(f"{dest.name}: {n_bytes:,} bytes from {source}, verified")
                return
            failures.append(f"{source} ({failure})")
        tried = "; ".join(failures) if failures else "no sources configured"
        raise DataError(
            f"{what} is missing: not at {dest}{stale}, and no source gave a verified copy "
            f"(tried: {tried}). {hint}"
        )

    return storage.replace_atomically(dest, obtain)


def sha256_check(sha256: str) -> Callable[[Path], str | None]:
    """A ``check`` for :func:`fetch_verified`: the file's sha256 must be ``sha256``."""

    def check(path: Path) -> str | None:
        got = storage.file_digest(path)
        return None if got == sha256.lower() else f"sha256 is {got}, the config expects {sha256}"

    return check


def _download(url: str, tmp: Path, timeout_s: float) -> int:
    """Stream ``url`` into ``tmp``; the number of bytes written."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)
        return out.tell()


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


def read_ljat19_published(path: str | os.PathLike) -> pd.DataFrame:
    """Read a published-format LJAT19 file (CSV or Parquet with columns r12, r13, r23, label),
    checked by :func:`check_ljat19`."""
    path = Path(path)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = {"r12", "r13", "r23", "label"} - set(frame.columns)
    if missing:
        raise DataError(f"{path}: missing columns {sorted(missing)}; expected r12, r13, r23, label")
    check_ljat19(frame, path)
    return pd.DataFrame(
        {
            "r12": frame["r12"].astype(float),
            "r13": frame["r13"].astype(float),
            "r23": frame["r23"].astype(float),
            "label": frame["label"].to_numpy().astype(np.int8),
            "final_energy": np.nan,
        }
    )


def check_ljat19(frame: pd.DataFrame, source: str | os.PathLike) -> None:
    """LJAT19 samples as the networks need them: distances finite and > 0 (σ), labels 0..3. Raises
    a DataError naming ``source``, the first bad row (from 1, after a CSV's header) and column."""
    columns = {"r12": "a finite distance > 0 (σ)", "r13": None, "r23": None, "label": "0..3"}
    for column, wanted in columns.items():
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        if column == "label":
            good = np.isin(values, [0, 1, 2, 3])
        else:
            good = np.isfinite(values) & (values > 0)
        if not good.all():
            bad = np.flatnonzero(~good)
            raise DataError(
                f"{source}: row {bad[0] + 1}, column {column!r} holds {frame[column].iloc[bad[0]]}, "
                f"not {wanted or columns['r12']} ({len(bad)} such rows); correct or remove them"
            )
