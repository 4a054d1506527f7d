"""The lineage of every file the workflow makes: one identity per file, a hash of the settings of
the job that makes it and of the identities of that job's inputs, so that it changes whenever
any setting upstream does.

A pure function of the validated configuration (no files are read). The workflow hands each
job its output's identity as a ``params`` entry (Snakemake's params trigger then reruns a job
whose upstream settings changed, even when the intermediate files are gone), the job stores it
in what it writes (Parquet metadata ``lineage``, the figure PNG's text chunk, the scorecard's last
line), and ``glassynets check-results`` compares what is on disk with what the config in force
gives (:func:`stored`, :func:`check`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import paths, settings
from .cells import CK_TABLES, HESSIAN_TABLES, METRICS_TABLES, TABLES
from .targets import LIMITS_FILE, Targets

#: Hex digits of an identity (64 bits: collisions are not a concern for a few thousand files).
IDENTITY_CHARS = 16
#: Key of the identity in Parquet metadata and in a figure PNG's text chunks.
KEY = "lineage"
#: The scorecard's Markdown ends with this line, holding its identity.
SCORECARD_LINE = "<!-- glassynets lineage: {} -->"
_SCORECARD_PATTERN = re.compile(r"<!-- glassynets lineage: ([0-9a-f]+) -->")
LIMITS_SAMPLE = paths.LJAT19_LIMITS_SAMPLE


def identity(stage: str, job_settings: Any, inputs: Iterable[str] = ()) -> str:
    """The identity of a job's outputs: its stage, its settings (JSON-able) and its inputs' identities."""
    text = json.dumps([stage, job_settings, list(inputs)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:IDENTITY_CHARS]


class Lineage:
    """Identities of every file one configuration (validated, defaults filled in) makes."""

    def __init__(self, config: dict[str, Any]):
        self.config, self.targets = config, Targets(config)
        self.ids: dict[str, str] = {}
        self._data()
        self._networks()
        self._glass()
        self._reports()

    def of(self, path: str | Path) -> str:
        """The identity of a file of the workflow (a KeyError names a file this config does not make)."""
        try:
            return self.ids[str(path)]
        except KeyError:
            raise KeyError(f"{path}: not a file this configuration makes") from None

    def _add(self, outputs: list[str], stage: str, job_settings: Any, inputs: list[str]) -> None:
        ident = identity(stage, job_settings, [self.ids.get(p, p) for p in inputs])
        self.ids.update(dict.fromkeys(outputs, ident))

    # --- the jobs of each stage, in the order of the DAG

    def _data(self) -> None:
        config, datasets = self.config, self.targets.datasets
        ljat = config["ljat19"]
        if "ljat19" in datasets or self.targets.scorecard_limits():
            test = settings.ljat19_table(config, "test", ljat["test_seed"])
            self._add([paths.LJAT19_TEST], "ljat19", {"n": ljat["test_size"], **test}, [])
            limits = settings.ljat19_table(config, "test", ljat["limits_seed"])
            sample = {"n": ljat["limits_size"], **limits}
            self._add([LIMITS_SAMPLE], "ljat19", sample, [])
            self._add([LIMITS_FILE], "ljat19_limits", ljat["features"], [LIMITS_SAMPLE])
        for name, exp in self.targets.experiments.items():
            for n in exp["n_train"]:
                files = self.targets.data_files(name, n)
                if exp["dataset"] == "ljat19":
                    train = settings.ljat19_table(config, "train", ljat["train_seed"])
                    self._add([files["train"]], "ljat19", {"n": n, **train}, [])
                    continue
                image_set = exp["dataset"]
                subset = settings.images_subset(config, image_set)
                for split in {subset["train_split"], "t10k"}:
                    split_file = paths.IMAGES_SPLIT.format(image_set=image_set, image_split=split)
                    self._add([split_file], "images", [image_set, split], [])
                split_file = paths.IMAGES_SPLIT.format(
                    image_set=image_set, image_split=subset["train_split"]
                )
                self._add([files["train"]], "images_subset", {"n": n, **subset}, [split_file])

    def _networks(self) -> None:
        targets = self.targets
        for name, exp in targets.experiments.items():
            train = settings.train(self.config, name)
            analysis = settings.aging(exp["analysis"])
            for n in exp["n_train"]:
                data = list(targets.data_files(name, n).values())
                for arch in exp["architectures"]:
                    kinds = ("snapshots", "metrics", "two_time")
                    blocks = [targets.block_files(name, n, arch, kind) for kind in kinds]
                    for files in zip(*blocks):
                        self._add(list(files), "train", [train, files[0]], data)
                    inputs = [f for kind in blocks for f in kind]
                    cell = paths.CELL.format(experiment=name, n=n, arch=arch)
                    tables = paths.tables(cell, (*TABLES, *METRICS_TABLES))
                    self._add(tables, "aging", analysis, inputs)
                    if cell in targets.hessian_cells(name):
                        spectra = paths.tables(cell, HESSIAN_TABLES)
                        hessian = settings.hessian(self.config, name)
                        self._add(spectra, "hessian", hessian, blocks[0] + data)

    def _glass(self) -> None:
        pspin = self.config["pspin"]
        if pspin is None:
            return
        job, analysis = settings.pspin(self.config), settings.aging(pspin["analysis"], pspin["dt"])
        for cell in self.targets.glass_dirs():
            two_time, snapshots = paths.tables(paths.runs_of(cell), ("two_time", "snapshots"))
            outputs = [snapshots, paths.table(cell, "energy")]
            self._add([*outputs, two_time], "pspin", [job, cell], [])
            self._add(paths.tables(cell, TABLES), "aging", analysis, [two_time, snapshots])
        ck = settings.ck(self.config) if pspin["ck"] is not None else None
        for cell in self.targets.ck_dirs():
            two_time = paths.table(paths.runs_of(cell), "two_time")
            self._add([two_time, paths.table(cell, "energy")], "ck", [ck, cell], [])
            self._add(paths.tables(cell, CK_TABLES), "aging", analysis, [two_time])

    def _reports(self) -> None:
        targets = self.targets
        for name, variant in targets.figure_variants():
            path = targets.figure_path(name, variant)
            options = targets.figure_options(name, variant)
            self._add(
                [f"{path}.pdf", f"{path}.png"],
                "figure",
                [name, options],
                targets.figure_inputs(name, variant),
            )
        for scope in [None, *targets.datasets]:
            path = targets.scorecard_name(scope)
            options = targets.scorecard_options(scope)
            self._add(
                [f"{path}.md", f"{path}.csv"], "scorecard", options, targets.scorecard_inputs(scope)
            )

    # --- what is on disk

    def files(self) -> list[str]:
        """Every file whose identity is stored in it (the PDF and CSV twins of PNG and Markdown
        outputs are written by the same job and carry none)."""
        return [p for p in self.ids if not p.endswith((".pdf", ".csv"))]


def stored(path: str | Path) -> str | None:
    """The identity stored in a file the workflow wrote (None: none recorded)."""
    path = Path(path)
    if path.suffix == ".parquet":
        from . import storage

        return storage.metadata(path).get(KEY)
    if path.suffix == ".png":
        from PIL import Image

        with Image.open(path) as image:
            return image.text.get(KEY)
    if path.suffix == ".json":
        return json.loads(path.read_text()).get(KEY)
    if path.suffix == ".md":
        found = _SCORECARD_PATTERN.search(path.read_text())
        return found[1] if found else None
    raise ValueError(f"{path}: no lineage is stored in a {path.suffix} file")


@dataclass(frozen=True)
class Finding:
    """One file of the config's workflow: ``state`` is up-to-date, stale, unreadable or missing."""

    path: str
    state: str
    detail: str = ""


def check(lineage: Lineage, root: Path = Path(".")) -> list[Finding]:
    """Every file of ``lineage`` under ``root`` compared with the identity the config gives."""
    findings = []
    for path in lineage.files():
        full = root / path
        if not full.exists():
            findings.append(Finding(path, "missing"))
            continue
        try:
            have = stored(full)
        except Exception as err:  # any reader's error: the file is not what the workflow wrote
            findings.append(Finding(path, "unreadable", f"{type(err).__name__}: {err}"))
            continue
        want = lineage.of(path)
        if have == want:
            findings.append(Finding(path, "up-to-date"))
        elif have is None:
            findings.append(
                Finding(
                    path, "stale", "no lineage recorded (written by hand or by an older version)"
                )
            )
        else:
            findings.append(
                Finding(path, "stale", f"made from lineage {have}, the config gives {want}")
            )
    return findings


def misplaced_folders(lineage: Lineage, root: Path = Path(".")) -> list[str]:
    """A line for each folder where one of the workflow's files belongs (Snakemake would count
    it as made)."""
    return [
        f"{path} is a folder where the workflow writes a file: remove it (rm -r {path})"
        for path in lineage.ids
        if (root / path).is_dir()
    ]


def unreadable(paths: Iterable[str], root: Path = Path(".")) -> list[str]:
    """A line for each Parquet file of ``paths`` that exists but whose footer cannot be read: a
    job reading it would fail only after Snakemake had deleted that job's outputs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    problems = []
    for path in paths:
        if str(path).endswith(".parquet") and (root / path).is_file():
            try:
                pq.read_schema(root / path)
            except (pa.ArrowInvalid, OSError) as err:
                problems.append(
                    f"{path} is not a readable Parquet file ({err}); rebuild it and what was made "
                    f"from it: snakemake --cores all --forcerun {path}"
                )
    return problems
