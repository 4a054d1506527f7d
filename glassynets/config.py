"""Validation of the workflow configuration against its JSON schema, with defaults filled in.

Errors are one line naming the key, the value and what is allowed, so that a typo in
config.yaml stops the workflow before any job starts.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .images import IMAGE_SETS, SPLIT_SIZES

#: The configuration's JSON schema, the only definition of every key, its default and its meaning.
#: It lives in workflow/schemas/ (where Snakemake reads it); this link to it inside the package is
#: shipped as package data (a copy of the file in a built wheel), so that an installed glassynets
#: (``pip install``, no checkout) finds the same defaults.
SCHEMA = Path(__file__).with_name("config.schema.yaml")


class ConfigError(ValueError):
    """The configuration violates its schema or a cross-field rule."""


@functools.lru_cache(maxsize=4)
def _load_schema(path: str) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def schema(path: str | Path = SCHEMA) -> dict[str, Any]:
    """The schema as a dict (a fresh copy; the file is read once per process)."""
    return copy.deepcopy(_load_schema(str(path)))


def default(key: str) -> Any:
    """The schema's default of a key, dotted below the top level (``waiting_times_per_decade``,
    ``scorecard.tti_mu``)."""
    node = _load_schema(str(SCHEMA))
    for part in key.split("."):
        node = node["properties"][part]
    return copy.deepcopy(node["default"])


def analysis_section(given: dict[str, Any] | None = None) -> dict[str, Any]:
    """An ``analysis`` section (how a cell's aging is analysed) with the schema's default for every
    key not ``given``, checked against the schema; raises ConfigError naming the key."""
    section = copy.deepcopy(dict(given or {}))
    validator = _with_defaults(jsonschema.Draft202012Validator)(
        _load_schema(str(SCHEMA))["$defs"]["analysis"]
    )
    errors = sorted(validator.iter_errors(section), key=lambda e: str(e.absolute_path))
    if errors:
        why = _describe(errors[0]).replace("at the top level", "in the analysis section")
        raise ConfigError(f"analysis: {why}")
    return section


def _with_defaults(validator_class):
    """A validator class that also fills in ``default`` values while validating (jsonschema FAQ)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = f"under '{key}'" if error.absolute_path else "at the top level"
        return (
            f"unknown key {', '.join(map(repr, extra))} {where}; allowed keys: {', '.join(allowed)}"
        )
    if error.validator == "required":
        return f"'{key}' is missing a required key: {error.message}"
    if error.validator == "enum":
        return f"'{key}' = {error.instance!r} is not allowed; choose one of {error.validator_value}"
    if "propertyNames" in error.schema_path:
        return f"name {error.instance!r} under '{key}' must match {error.validator_value} (letters, digits, _)"
    hint = ""
    if (
        error.validator == "type"
        and isinstance(error.instance, str)
        and _looks_numeric(error.instance)
    ):
        hint = " (YAML reads numbers like 1.0e4 as text: write 1.0e+4 or 10000)"
    return f"'{key}' = {error.instance!r}: {error.message}{hint}"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_cross_fields(config: dict[str, Any]) -> None:
    """The rules that tie keys together, which the schema alone cannot state (in this order: the
    first broken one is reported)."""
    _check_ljat19(config["ljat19"])
    _check_analysis_ranges(config)
    _check_fit_windows(config)
    for reserved in ("pspin", "pspin_ck"):
        if reserved in config["experiments"]:
            raise ConfigError(
                f"'experiments.{reserved}': the name is reserved for the p-spin glass (its results/ "
                "folders); rename the experiment"
            )
    if (
        config["pspin"] is not None
        and config["pspin"]["analysis"]["delta_star_unit"] != "parameter"
    ):
        raise ConfigError(
            "'pspin.analysis.delta_star_unit' = 'network': Δ of the p-spin is per spin, and its n = ∞ "
            "curves have no network size; use 'parameter'"
        )
    for name, exp in config["experiments"].items():
        _check_experiment(config, name, exp)


def _check_ljat19(lj: dict[str, Any]) -> None:
    """The ``ljat19`` section: a starting geometry that can hold a triangle, and a published
    source that names its files."""
    start = lj["start"]
    if start["family"] == "box" and start["low"] >= start["high"]:
        raise ConfigError(
            f"'ljat19.start.low' = {start['low']} must be below 'ljat19.start.high' = {start['high']}"
        )
    if start["family"] != "box":
        from .ljat19 import max_separation

        bound = max_separation(start["family"], start["size"])
        if start["min_separation"] >= bound:
            raise ConfigError(
                f"'ljat19.start.min_separation' = {start['min_separation']} must be below "
                f"{bound:.4g}, the side of the largest equilateral triangle in the "
                f"{start['family']} of size {start['size']}"
            )
    if lj["source"] == "published":
        for key in ("train", "train_sha256", "test", "test_sha256"):
            if not lj["published"].get(key):
                raise ConfigError(
                    f"'ljat19.published.{key}' is empty but 'ljat19.source' is 'published'; "
                    "give the file's path or URL and its sha256, or set source: regenerate"
                )


def _check_analysis_ranges(config: dict[str, Any]) -> None:
    """Every analysis section's fit_tw and delta_star_scan run from a min to a larger max."""
    analyses = {
        f"experiments.{name}": exp["analysis"] for name, exp in config["experiments"].items()
    }
    if config["pspin"] is not None:
        analyses["pspin"] = config["pspin"]["analysis"]
    for where, analysis in analyses.items():
        for key in ("fit_tw", "delta_star_scan"):
            lo, hi = analysis[key]
            if lo >= hi:
                raise ConfigError(f"'{where}.analysis.{key}' = {[lo, hi]}: need min < max")


def _check_experiment(config: dict[str, Any], name: str, exp: dict[str, Any]) -> None:
    """One experiment: its loss and outputs, Hessian section, dynamics, and sizes of N."""
    if exp["output"] == "sigmoid" and exp["loss"] != "mse":
        raise ConfigError(
            f"'experiments.{name}.output' = 'sigmoid' needs 'loss: mse' (cross_entropy applies the softmax itself)"
        )
    if exp.get("hessian") is not None and (exp["loss"], exp["output"]) != (
        "cross_entropy",
        "linear",
    ):
        raise ConfigError(
            f"'experiments.{name}.hessian': Hessian spectra are computed for the cross-entropy loss only, "
            f"not for loss {exp['loss']!r} with {exp['output']} outputs; remove the hessian section"
        )
    unknown = set((exp.get("hessian") or {}).get("architectures") or []) - set(exp["architectures"])
    if unknown:
        raise ConfigError(
            f"'experiments.{name}.hessian.architectures' names {sorted(unknown)}, not among the "
            f"experiment's architectures {exp['architectures']}"
        )
    _check_dynamics(name, exp)
    for n in exp["n_train"]:
        if (
            exp["dataset"] in IMAGE_SETS
            and n > SPLIT_SIZES[split := config[exp["dataset"]]["train_split"]]
        ):
            raise ConfigError(
                f"'experiments.{name}.n_train' holds {n}, more than the {SPLIT_SIZES[split]} images of "
                f"'{exp['dataset']}.train_split' = {split!r}"
            )
        if exp["batch_size"] > n:
            raise ConfigError(
                f"'experiments.{name}.batch_size' = {exp['batch_size']} exceeds n_train = {n}"
            )


def _check_dynamics(name: str, exp: dict[str, Any]) -> None:
    """The rules of the training dynamics (glassynets.dynamics) at every N of an experiment."""
    from .dynamics import problem

    keys = ("noise", "sampling", "temperature", "persistence", "momentum")
    for n in exp["n_train"]:
        wrong = problem(*(exp[k] for k in keys), exp["batch_size"], n)
        if wrong is not None:
            raise ConfigError(f"'experiments.{name}.{wrong[0]}' {wrong[1]}")


def _check_fit_windows(config: dict[str, Any]) -> None:
    """Every fit window must hold enough waiting times of its run's two-time grid for a μ."""
    from .two_time import grid

    cases = [
        (
            f"experiments.{name}",
            exp["analysis"],
            exp["steps"],
            1.0,
            exp.get("waiting_times_per_decade", config["waiting_times_per_decade"]),
        )
        for name, exp in config["experiments"].items()
    ]
    if config["pspin"] is not None:
        ps = config["pspin"]
        cases.append(
            (
                "pspin",
                ps["analysis"],
                round(ps["time"] / ps["dt"]),
                ps["dt"],
                ps["waiting_times_per_decade"],
            )
        )
    for where, analysis, steps, unit, per_decade in cases:
        waiting_times = grid(steps, per_decade, 1)[0] * unit
        if not len(waiting_times):
            key = "time" if where == "pspin" else "steps"
            raise ConfigError(
                f"'{where}.{key}' gives {steps} step(s): no waiting time t_w (1 <= t_w < steps) to "
                "measure aging at; run for more steps"
            )
        lo, hi = analysis["fit_tw"]
        inside = int(((waiting_times >= lo) & (waiting_times <= hi)).sum())
        if inside < analysis["min_fit_points"]:
            raise ConfigError(
                f"'{where}.analysis.fit_tw' = {[lo, hi]} holds {inside} of the run's waiting times "
                f"({waiting_times[0]:g} … {waiting_times[-1]:g}), fewer than min_fit_points = "
                f"{analysis['min_fit_points']}; widen it"
            )


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A config file's contents; a syntax error is a ConfigError naming the file, line and column."""
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {err.problem or err.context}") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror})") from err
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: must hold keys at the top level, found {type(loaded).__name__}")
    return loaded


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Snakemake's rule for --configfile: nested keys replaced one by one, lists and values whole."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        out[key] = (
            merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def check_files(paths: list[str | Path], schema_path: str | Path) -> dict[str, Any]:
    """Load config files in order (later ones override earlier ones, as with snakemake
    --configfile) and validate the result; raises ConfigError."""
    config: dict[str, Any] = {}
    for path in paths:
        config = merge(config, load_yaml(path))
    return validate(config, schema_path)


def validate(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Return a validated copy of ``config`` with defaults filled in; raise ConfigError otherwise."""
    config = copy.deepcopy(dict(config))
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema(schema_path))
    errors = sorted(
        validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path))
    )
    if errors:
        raise ConfigError(_describe(errors[0]))
    if any("variants" in (exp.get("sweep") or {}) for exp in config["experiments"].values()):
        config["experiments"] = expand_sweeps(config["experiments"])
        errors = sorted(
            validator.iter_errors(config),
            key=lambda e: (len(e.absolute_path), str(e.absolute_path)),
        )
        if errors:
            raise ConfigError(_describe(errors[0]) + _variant_hint(config, errors[0].absolute_path))
    try:
        _check_cross_fields(config)
    except ConfigError as err:
        named = re.match(r"'experiments\.([A-Za-z0-9_]+)", str(err))
        raise ConfigError(
            f"{err}{_variant_hint(config, ['experiments', named[1]] if named else [])}"
        ) from None
    return config


def expand_sweeps(experiments: dict[str, Any]) -> dict[str, Any]:
    """Experiments with every sweep (an experiment's ``sweep.variants``) replaced by its variants,
    in order: experiment ``<name>_<variant>``, the experiment with the variant's keys (all but
    ``name``) overriding its own, and ``sweep`` = {axis, family: name, variant, base: no overrides}. Raises
    ConfigError when a variant overrides ``sweep`` or its name is already taken."""
    out: dict[str, Any] = {}
    for name, exp in experiments.items():
        sweep = exp.get("sweep") or {}
        if "variants" not in sweep:
            out[name] = exp
            continue
        base = {key: value for key, value in exp.items() if key != "sweep"}
        for entry in sweep["variants"]:
            variant = entry["name"]
            overrides = {key: value for key, value in entry.items() if key != "name"}
            member = f"{name}_{variant}"
            if "sweep" in overrides:
                raise ConfigError(
                    f"'experiments.{name}.sweep.variants.{variant}' overrides 'sweep'; a variant "
                    "cannot sweep again: remove the key"
                )
            if member in experiments or member in out:
                raise ConfigError(
                    f"'experiments.{name}.sweep.variants.{variant}' makes experiment '{member}', "
                    "a name already taken; rename the variant or the experiment"
                )
            out[member] = {
                **merge(base, overrides),
                "sweep": {
                    "axis": sweep["axis"],
                    "family": name,
                    "variant": variant,
                    "base": not overrides,
                },
            }
    return out


def _variant_hint(config: dict[str, Any], where: Any) -> str:
    """Where an error at key path ``where`` in an expanded experiment comes from (its sweep's
    variant), else ''."""
    path = list(where)
    if len(path) < 2 or path[0] != "experiments":
        return ""
    sweep = config["experiments"].get(path[1], {}).get("sweep") or {}
    if "family" not in sweep:
        return ""
    return f" (experiment {path[1]} is variant {sweep['variant']} of 'experiments.{sweep['family']}.sweep')"


def check_command(args) -> None:
    """``glassynets check-config [CONFIG ...]``: the files as snakemake --configfile merges them
    (later ones override earlier ones): YAML syntax with file and line, then the schema."""
    checked = check_files(args.files, SCHEMA)
    print(
        f"{', '.join(map(str, args.files))}: valid; experiments {', '.join(checked['experiments'])}"
    )
