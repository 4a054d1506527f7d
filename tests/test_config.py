"""Configuration validation: defaults, and one-line errors naming key, value and what is allowed."""

from pathlib import Path

import pytest
import yaml

from glassynets.config import ConfigError, validate
from glassynets.ljat19 import DEFAULT_START, StartGeometry

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"


def paper():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def section(config: dict, *keys: str) -> dict:
    """config[k1][k2]..., created empty where config.yaml leaves it to the schema's defaults."""
    for key in keys:
        config = config.setdefault(key, {})
    return config


def test_paper_config_is_valid_and_has_the_papers_settings():
    config = validate(paper(), SCHEMA)
    arch = config["experiments"]["ljat_arch"]
    assert arch["architectures"] == ["h10", "h5-5", "h4-4-4"]
    assert (arch["lr"], arch["batch_size"], arch["weight_decay"], arch["steps"], arch["seeds"]) == (
        0.05,
        100,
        1e-4,
        150000,
        100,
    )
    assert config["experiments"]["ljat_chain"]["architectures"] == ["h1", "h1-1", "h1-1-1"]
    assert arch["analysis"]["delta_star"] == 1e-2
    mnist = config["experiments"]["mnist_arch"]
    assert mnist["architectures"] == ["h5", "h5-5", "h5-5-5"] and mnist["n_train"] == [60000]
    assert (
        mnist["lr"],
        mnist["batch_size"],
        mnist["weight_decay"],
        mnist["steps"],
        mnist["seeds"],
    ) == (0.05, 50, 1e-4, 300000, 50)
    alpha = config["experiments"]["mnist_alpha"]
    assert alpha["architectures"] == [f"h{w}-{w}-{w}" for w in range(7, 18, 2)]
    assert (alpha["steps"], alpha["seeds"], alpha["analysis"]["delta_star"]) == (1000000, 100, 1e-3)
    assert config["mnist"]["train_split"] == "train" and config["mnist"]["preprocess"] == "unit"


def test_defaults_are_filled_in():
    config = validate(
        {"experiments": {"e": {"dataset": "ljat19", "n_train": [100], "architectures": ["h3"]}}},
        SCHEMA,
    )
    assert config["dtype"] == "float32" and config["ljat19"]["source"] == "regenerate"
    assert config["experiments"]["e"]["analysis"]["n_boot"] == 1000
    exp = config["experiments"]["e"]  # the dynamics default to today's SGD
    assert (exp["noise"], exp["sampling"], exp["temperature"], exp["persistence"]) == (
        "minibatch",
        "epochs",
        0,
        None,
    )
    # The schema's starting geometry is the generator's default (one calibrated family).
    start = StartGeometry(**config["ljat19"]["start"])
    assert start == DEFAULT_START


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c.update(epochs=3),
            "unknown key 'epochs' at the top level; allowed keys: checkpoint_every_s",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(lrate=1),
            "unknown key 'lrate' under 'experiments.ljat_arch'",
        ),
        (lambda c: c["experiments"]["ljat_arch"].update(lr=0), "'experiments.ljat_arch.lr' = 0"),
        (
            lambda c: c.update(dtype="half"),
            "'dtype' = 'half' is not allowed; choose one of ['float32', 'float64']",
        ),
        (lambda c: section(c, "scorecard").update(grad_rms_after="1.0e4"), "write 1.0e+4"),
        (
            lambda c: section(c, "ljat19", "start").update(family="box", low=2.0),
            "'ljat19.start.low' = 2.0 must be below",
        ),
        (
            lambda c: section(c, "ljat19", "start").update(
                family="ball", size=1.0, min_separation=1.8
            ),
            "'ljat19.start.min_separation' = 1.8 must be below 1.732",
        ),
        (lambda c: section(c, "ljat19", "start").update(family="sphere"), "'ljat19.start.family'"),
        (
            lambda c: section(c, "ljat19").update(source="published"),
            "'ljat19.published.train' is empty",
        ),
        (
            lambda c: c["experiments"].update({"bad-name": {}}),
            "name 'bad-name' under 'experiments' must match",
        ),
        (
            lambda c: section(c, "mnist").update(train_split="t10k"),
            "'experiments.mnist_arch.n_train' holds 60000, more than the 10000 images of 'mnist.train_split' = 't10k'",
        ),
        (
            lambda c: c["experiments"]["mnist_arch"].update(device="gpu"),
            "'experiments.mnist_arch.device' = 'gpu' is not allowed",
        ),
        (
            lambda c: c["experiments"]["mnist_arch"].update(dataset="cifar"),
            "'experiments.mnist_arch.dataset' = 'cifar' is not allowed",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(output="sigmoid"),
            "'experiments.ljat_arch.output' = 'sigmoid' needs 'loss: mse'",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(loss="mse"),
            "Hessian spectra are computed for the cross-entropy loss only",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(momentum=1),
            "'experiments.ljat_arch.momentum' = 1",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(activation="gelu"),
            "'experiments.ljat_arch.activation' = 'gelu' is not allowed",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(noise="brownian"),
            "'experiments.ljat_arch.noise' = 'brownian' is not allowed",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(noise="langevin"),
            "'experiments.ljat_arch.temperature' = 0 must be > 0 for noise 'langevin'",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(temperature=0.01),
            "'experiments.ljat_arch.temperature' = 0.01 applies to noise langevin",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(noise="persistent"),
            "'experiments.ljat_arch.persistence' = None must be a number of steps >= 1",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(noise="persistent", persistence=0.5),
            "'experiments.ljat_arch.persistence' = 0.5",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(
                noise="persistent", persistence=2, batch_size=900
            ),
            "'experiments.ljat_arch.persistence' = 2 must be >= b/(1 - b) = 9 at b = B/N = 900/1000",
        ),
        (
            lambda c: c["experiments"]["ljat_arch"].update(
                noise="full_batch", sampling="with_replacement"
            ),
            "'experiments.ljat_arch.sampling' = 'with_replacement' applies to noise minibatch",
        ),
    ],
)
def test_invalid_config_gives_one_line_naming_the_key(change, message):
    config = paper()
    change(config)
    with pytest.raises(ConfigError) as err:
        validate(config, SCHEMA)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_syntax_error_names_file_line_and_column(tmp_path):
    from glassynets.config import check_files, load_yaml

    bad = tmp_path / "bad.yaml"
    bad.write_text("experiments:\n  a:\n    lr: [1, 2\n    b: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml, line 4, column 6: not valid YAML"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match=r"bad.yaml, line 4"):
        check_files([ROOT / "config.yaml", bad], SCHEMA)
    # merged as snakemake --configfile merges: nested keys one by one
    merged = check_files([ROOT / "config.yaml", ROOT / "tests/config/smoke.yaml"], SCHEMA)
    assert (
        merged["experiments"]["ljat_arch"]["steps"] == 3000
        and merged["ljat19"]["source"] == "regenerate"
    )


def test_a_fit_window_without_waiting_times_is_a_config_error():
    config = paper()
    config["experiments"]["ljat_arch"]["analysis"]["fit_tw"] = [
        2.0e5,
        3.0e5,
    ]  # past the run's 150,000 steps
    with pytest.raises(
        ConfigError,
        match=r"'experiments.ljat_arch.analysis.fit_tw' = \[200000.0, 300000.0\] holds 0 ",
    ):
        validate(config, SCHEMA)


def test_a_sweep_becomes_one_experiment_per_variant():
    from glassynets import settings

    config = validate(paper(), SCHEMA)
    experiments = config["experiments"]
    assert "ljat_batch" not in experiments and "ljat_lr" not in experiments
    batch = [name for name in experiments if name.startswith("ljat_batch_")]
    assert batch == [f"ljat_batch_B{b}" for b in (10, 25, 100, 250, 1000)]
    assert [experiments[name]["batch_size"] for name in batch] == [10, 25, 100, 250, 1000]
    assert experiments["ljat_batch_B10"]["sweep"] == {
        "axis": "batch_size",
        "family": "ljat_batch",
        "variant": "B10",
        "base": False,
    }
    assert experiments["ljat_batch_B100"]["sweep"]["base"]
    lr = experiments["ljat_lr_lr025_B50"]
    assert (lr["lr"], lr["batch_size"], lr["steps"]) == (0.025, 50, 300000)
    assert experiments["ljat_persistent_tau1"]["persistence"] == 1 / (1 - 0.1)
    assert experiments["fashion_batch_B200"]["dataset"] == "fashion_mnist"
    # the variant without overrides trains exactly as ljat_arch's h5-5 cell (but for its name)
    same = settings.train(config, "ljat_batch_B100")
    paper_cell = settings.train(config, "ljat_arch")
    assert {**same, "experiment": "ljat_arch"} == paper_cell
    # validating the validated config again changes nothing (the expansion is done once)
    assert validate(config, SCHEMA) == config


@pytest.mark.parametrize(
    "variants, message",
    [
        (
            [{"name": "B7", "batch_size": "ten"}],
            "'experiments.ljat_batch_B7.batch_size' = 'ten': 'ten' is not of type 'integer' "
            "(experiment ljat_batch_B7 is variant B7 of 'experiments.ljat_batch.sweep')",
        ),
        (
            [{"name": "B2000", "batch_size": 2000}],
            "'experiments.ljat_batch_B2000.batch_size' = 2000 exceeds n_train = 1000 "
            "(experiment ljat_batch_B2000 is variant B2000 of 'experiments.ljat_batch.sweep')",
        ),
        (
            [{"name": "x", "sweep": {"axis": "lr"}}],
            "'experiments.ljat_batch.sweep.variants.x' overrides 'sweep'",
        ),
        (
            [{"name": "B-1"}],
            "'experiments.ljat_batch.sweep.variants.0.name' = 'B-1': 'B-1' does not match",
        ),
        (
            [{"name": "B10"}, {"name": "B10", "batch_size": 20}],
            "makes experiment 'ljat_batch_B10', a name already taken",
        ),
    ],
)
def test_a_bad_variant_names_its_sweep(variants, message):
    config = paper()
    config["experiments"]["ljat_batch"]["sweep"]["variants"] = variants
    with pytest.raises(ConfigError) as err:
        validate(config, SCHEMA)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_variant_may_not_take_an_experiments_name():
    config = paper()
    config["experiments"]["ljat_batch_B10"] = dict(config["experiments"]["ljat_arch"])
    with pytest.raises(
        ConfigError, match="makes experiment 'ljat_batch_B10', a name already taken"
    ):
        validate(config, SCHEMA)
