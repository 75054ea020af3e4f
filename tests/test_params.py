import copy

import pytest

from stages.lib.core.config import PARAMS_FILE, Params, load_params
from stages.lib.core.errors import ParamsError
from stages.lib.core.params import checked, read_yaml
from stages.lib.core.specs import validate_spec
from tests import REPO

RAW = read_yaml(REPO / PARAMS_FILE)


def params_with(section: str, **changes) -> dict:
    """params.yaml as a dict, with `changes` to one section's keys."""
    raw = copy.deepcopy(RAW)
    raw[section].update(changes)
    return raw


def problem(raw: dict) -> str:
    with pytest.raises(ParamsError) as error:
        checked(Params, raw, "")
    return str(error.value)


def test_the_repository_params_are_valid_and_typed():
    params = load_params(REPO / PARAMS_FILE)
    assert params.dataset.classes == RAW["dataset"]["classes"]
    assert params.split.model_dump() == RAW["split"]
    assert params.train_baseline.model.hidden_units == RAW["train_baseline"]["model"]["hidden_units"]
    assert params.cv_search.spaces.cnn.search.keys() == RAW["cv_search"]["spaces"]["cnn"]["search"].keys()
    assert params.train_final.mlp.epochs == RAW["train_final"]["mlp"]["epochs"]
    assert params.distribution.mixed_precision is False  # left out of params.yaml: its default


@pytest.mark.parametrize(
    "section, changes, message",
    [
        (
            "train_big",
            {"epochz": 1},
            "train_big.epochz is not a known parameter (did you mean 'epochs'?); expected keys: "
            "model, epochs, batch_size",
        ),
        ("train_big", {"epochs": 0}, "train_big.epochs must be >= 1, got 0"),
        ("train_big", {"epochs": 2.5}, "train_big.epochs must be an integer, got 2.5"),
        ("train_big", {"epochs": True}, "train_big.epochs must be an integer, got True"),
        ("train_big", {"epochs": "20"}, "train_big.epochs must be an integer, got '20'"),
        (
            "split",
            {"method": "lats"},
            "split.method must be one of 'last', 'stratified', got 'lats' (did you mean 'last'?)",
        ),
        ("dataset", {"transpose": "no"}, "dataset.transpose must be true or false, got 'no'"),
        (
            "dataset",
            {"mirrors": "http://example.com/"},
            "dataset.mirrors must be a list, got 'http://example.com/'",
        ),
        ("seed", None, "seed must be an integer, got None"),
        ("significance", 0.5, "significance must be < 0.5, got 0.5"),
        ("significance", "5%", "significance must be a number, got '5%'"),
        (
            "export",
            {"models": ["final", "cnn_fianl"]},
            "export.models[1] must be one of 'final', 'baseline', 'big', 'mlp_final', 'cnn_final', "
            "'finalists', got 'cnn_fianl' (did you mean 'cnn_final'?)",
        ),
        (
            "export",
            {"models": ["final", "final"]},
            "export.models names a model twice: ['final', 'final']; name each once",
        ),
        ("export", {"models": []}, "export.models must have at least 1 item(s), got 0"),
        ("export", {"tolerance": 0}, "export.tolerance must be > 0.0, got 0"),
    ],
)
def test_a_bad_value_names_its_key_what_was_expected_and_what_was_there(section, changes, message):
    raw = copy.deepcopy(RAW)
    if isinstance(raw[section], dict):
        raw[section].update(changes)
    else:
        raw[section] = changes
    assert problem(raw) == message


def test_missing_and_unknown_sections_are_named():
    raw = copy.deepcopy(RAW)
    del raw["split"]
    assert problem(raw) == "params.yaml is missing split"
    raw = copy.deepcopy(RAW)
    raw["trian_final"] = raw.pop("train_final")
    assert problem(raw).startswith("trian_final is not a known parameter (did you mean 'train_final'?)")
    assert problem({**RAW, "train_big": [1, 2]}).startswith("train_big must be a mapping, got [1, 2]")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"learning_rate": 0}, "train_baseline.model.learning_rate must be > 0.0, got 0"),
        ({"learning_rate": "fast"}, "train_baseline.model.learning_rate must be a number, got 'fast'"),
        (
            {"optimizer": "adamm"},
            "train_baseline.model.optimizer must be one of 'adam', 'adamw', 'rmsprop', 'sgd', got "
            "'adamm' (did you mean 'adam'?)",
        ),
        (
            {"family": "lenett"},
            "train_baseline.model.family must be one of 'mlp', 'lenet', 'cnn', got 'lenett' "
            "(did you mean 'lenet'?)",
        ),
        ({"filters": [1, 2]}, "train_baseline.model.filters is not a known parameter"),
        ({"dropout": 1.0}, "train_baseline.model.dropout must be < 1.0, got 1.0"),
        ({"hidden_units": [64, 0]}, "train_baseline.model.hidden_units[1] must be >= 1, got 0"),
        (
            {"augmentation": {"rotation": 5, "shift": 20}},
            "train_baseline.model.augmentation.shift must be < 14.0, got 20",
        ),
    ],
)
def test_a_model_spec_is_checked_for_its_family(change, message):
    model = {**RAW["train_baseline"]["model"], **change}
    assert problem(params_with("train_baseline", model=model)).startswith(message)


def test_a_spec_file_is_checked_under_its_own_name():
    spec = RAW["train_baseline"]["model"]
    assert validate_spec(spec, "m").hidden_units == spec["hidden_units"]
    with pytest.raises(ParamsError, match=r"^models/best_config/mlp.json.dropout must be >= 0.0, got -0.5$"):
        validate_spec({**spec, "dropout": -0.5}, "models/best_config/mlp.json")
    with pytest.raises(ParamsError, match="m must be a mapping with a 'family' key"):
        validate_spec({"hidden_units": [3]}, "m")


def test_bad_yaml_is_a_params_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: [1,\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(path)
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "classes, message",
    [
        (["cat"], "dataset.classes must have at least 2 item(s), got 1"),
        (["cat", "dog", "cat"], "dataset.classes must name each class once; repeated: cat"),
        (["cat", ""], "dataset.classes[1] must be a non-empty string, got ''"),
        ([f"c{i}" for i in range(257)], "dataset.classes must name at most 256 classes"),
    ],
)
def test_class_names_are_checked(classes, message):
    assert problem(params_with("dataset", classes=classes)).startswith(message)


def test_class_names_may_be_numbers():
    assert checked(Params, params_with("dataset", classes=[0, 1, 2]), "").dataset.classes == ["0", "1", "2"]


def test_dataset_checksums_and_file_names_are_checked():
    files = copy.deepcopy(RAW["dataset"]["files"])
    files["train_images"]["sha256"] = "abc"
    assert problem(params_with("dataset", files=files)).startswith(
        "dataset.files.train_images.sha256 must be 64 lowercase hex digits"
    )
    files = copy.deepcopy(RAW["dataset"]["files"])
    files["test_labels"]["filename"] = "../etc/passwd"
    assert "bare file name" in problem(params_with("dataset", files=files))


@pytest.mark.parametrize(
    "stage, section, change, message",
    [
        (
            "train baseline",
            "train_baseline",
            {"epoch": 3},
            "train_baseline.epoch is not a known parameter (did you mean 'epochs'?)",
        ),
        (
            "cv_search cnn",
            "cv_search",
            {"method": "optima"},
            "cv_search.method must be one of 'optuna', 'grid_cv', got 'optima' (did you mean 'optuna'?)",
        ),
        (
            "train_final mlp",
            "train_final",
            {"mlp": {"epochs": 0, "batch_size": 128}},
            "train_final.mlp.epochs must be >= 1, got 0",
        ),
    ],
)
def test_a_stage_with_bad_params_says_so_and_writes_nothing(tmp_path, stage, section, change, message):
    import subprocess
    import sys

    import yaml

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params_with(section, **change)))
    result = subprocess.run(
        [sys.executable, "-m", f"stages.{stage.split()[0]}", *stage.split()[1:]],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {message}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
