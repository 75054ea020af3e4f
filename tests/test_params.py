import pytest

from stages.lib.dataset import dataset_params
from stages.lib.errors import ParamsError
from stages.lib.models import validate_spec
from stages.lib.params import PARAMS_FILE, integer, list_of, load_params, number, one_of, optional, section, validate
from stages.lib.search import search_params
from stages.lib.splitting import split_params
from stages.lib.paths import FINALISTS
from stages.lib.training import final_params, training_params
from tests import REPO

SCHEMA = {"epochs": integer(minimum=1), "learning_rate": number(above=0.0), "optimizer": one_of("adam", "sgd")}


def test_the_repository_params_are_valid():
    params = load_params(REPO / PARAMS_FILE)
    assert dataset_params(params)["num_classes"] == len(params["dataset"]["classes"])
    assert split_params(params) == params["split"]
    for stage in ("train_baseline", "train_big"):
        assert training_params(params, stage)["model"].items() >= params[stage]["model"].items()
    for space in FINALISTS:
        assert search_params(params, space)["space"]["search"].keys() == params["cv_search"]["spaces"][space]["search"].keys()
    assert set(final_params(params)) == set(FINALISTS)


def test_validate_returns_checked_values():
    assert validate({"epochs": 3, "learning_rate": 1, "optimizer": "adam"}, SCHEMA, "s") == {
        "epochs": 3, "learning_rate": 1.0, "optimizer": "adam"
    }


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epochs": 3, "learning_rate": 0.1, "optimizer": "adam", "epochz": 1}, "s.epochz is not a known parameter (did you mean 'epochs'?)"),
        ({"epochs": 3, "optimizer": "adam"}, "s is missing learning_rate"),
        ({"epochs": 0, "learning_rate": 0.1, "optimizer": "adam"}, "s.epochs must be >= 1, got 0"),
        ({"epochs": 2.5, "learning_rate": 0.1, "optimizer": "adam"}, "s.epochs must be an integer, got 2.5"),
        ({"epochs": True, "learning_rate": 0.1, "optimizer": "adam"}, "s.epochs must be an integer, got True"),
        ({"epochs": 1, "learning_rate": 0, "optimizer": "adam"}, "s.learning_rate must be > 0.0, got 0"),
        ({"epochs": 1, "learning_rate": "fast", "optimizer": "adam"}, "s.learning_rate must be a number, got 'fast'"),
        ({"epochs": 1, "learning_rate": 0.1, "optimizer": "adamw"}, "s.optimizer must be one of 'adam', 'sgd', got 'adamw' (did you mean 'adam'?)"),
        ([1, 2], "s must be a mapping"),
    ],
)
def test_validate_names_the_problem(values, message):
    with pytest.raises(ParamsError) as error:
        validate(values, SCHEMA, "s")
    assert message in str(error.value)


def test_optional_keys_take_their_default_and_are_checked_when_given():
    schema = {**SCHEMA, "momentum": optional(number(minimum=0.0), 0.9)}
    values = {"epochs": 3, "learning_rate": 1, "optimizer": "adam"}
    assert validate(values, schema, "s")["momentum"] == 0.9
    assert validate({**values, "momentum": 0}, schema, "s")["momentum"] == 0.0
    with pytest.raises(ParamsError, match="s.momentum must be >= 0.0, got -1"):
        validate({**values, "momentum": -1}, schema, "s")


def test_list_checks_length_and_items():
    assert list_of(integer(minimum=1), length=2)([16, 32], "f") == [16, 32]
    with pytest.raises(ParamsError, match=r"f must have 2 items, got 3"):
        list_of(integer(), length=2)([1, 2, 3], "f")
    with pytest.raises(ParamsError, match=r"f\[1\] must be >= 1, got 0"):
        list_of(integer(minimum=1))([4, 0], "f")


def test_missing_section_suggests_the_closest():
    with pytest.raises(ParamsError, match="no 'trian_final' section \\(did you mean 'train_final'\\?\\)"):
        section({"train_final": {}}, "trian_final")


def test_model_spec_needs_a_known_family_and_its_keys():
    spec = {"family": "mlp", "hidden_units": [64], "dropout": 0.0, "optimizer": "rmsprop", "learning_rate": 1e-3}
    assert validate_spec(spec, "m").items() >= spec.items()
    with pytest.raises(ParamsError, match="m.family must be one of 'mlp', 'lenet', 'cnn', got 'lenett' \\(did you mean 'lenet'\\?\\)"):
        validate_spec({**spec, "family": "lenett"}, "m")
    with pytest.raises(ParamsError, match="m.filters is not a known parameter"):
        validate_spec({**spec, "filters": [1, 2]}, "m")
    with pytest.raises(ParamsError, match="m.dropout must be < 1.0"):
        validate_spec({**spec, "dropout": 1.0}, "m")


def test_bad_yaml_is_a_params_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: [1,\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(path)
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "missing.yaml")


@pytest.mark.parametrize("classes, message", [
    (["cat"], "dataset.classes must have at least 2 item(s), got 1"),
    (["cat", "dog", "cat"], "dataset.classes must name each class once; repeated: cat"),
    (["cat", ""], "dataset.classes[1] must be a non-empty string, got ''"),
    ([f"c{i}" for i in range(257)], "dataset.classes must name at most 256 classes"),
])
def test_class_names_are_checked(classes, message):
    params = load_params(REPO / PARAMS_FILE)
    params["dataset"]["classes"] = classes
    with pytest.raises(ParamsError) as error:
        dataset_params(params)
    assert message in str(error.value)


def test_class_names_may_be_numbers():
    params = load_params(REPO / PARAMS_FILE)
    params["dataset"]["classes"] = [0, 1, 2]
    assert dataset_params(params)["classes"] == ["0", "1", "2"]


def test_dataset_checksums_and_file_names_are_checked():
    params = load_params(REPO / PARAMS_FILE)
    params["dataset"]["files"]["train_images"]["sha256"] = "abc"
    with pytest.raises(ParamsError, match="dataset.files.train_images.sha256 must be 64 lowercase hex digits"):
        dataset_params(params)
    params = load_params(REPO / PARAMS_FILE)
    params["dataset"]["files"]["test_labels"]["filename"] = "../etc/passwd"
    with pytest.raises(ParamsError, match="bare file name"):
        dataset_params(params)


@pytest.mark.parametrize("stage, section, change, message", [
    ("train baseline", "train_baseline", {"epoch": 3}, "train_baseline.epoch is not a known parameter (did you mean 'epochs'?)"),
    ("cv_search cnn", "cv_search", {"method": "optima"}, "cv_search.method must be one of 'optuna', 'grid_cv', got 'optima' (did you mean 'optuna'?)"),
    ("train_final mlp", "train_final", {"mlp": {"epochs": 0, "batch_size": 128}}, "train_final.mlp.epochs must be >= 1, got 0"),
])
def test_a_stage_with_bad_params_says_so_and_writes_nothing(tmp_path, stage, section, change, message):
    import subprocess
    import sys

    import yaml

    params = load_params(REPO / PARAMS_FILE)
    params[section].update(change)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([sys.executable, "-m", f"stages.{stage.split()[0]}", *stage.split()[1:]], cwd=tmp_path,
                            env={"PYTHONPATH": str(REPO), "PATH": ""}, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {message}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
