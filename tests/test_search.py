import copy

import optuna
import pytest

from stages.lib.core import costs
from stages.lib.core.config import PARAMS_FILE, load_params
from stages.lib.core.costs import multiply_adds
from stages.lib.core.errors import ParamsError
from stages.lib.core.params import checked, read_yaml
from stages.lib.core.search_config import CvSearch, searchable
from stages.lib.core.specs import validate_spec
from stages.lib.search import spaces
from tests import REPO

RAW = read_yaml(REPO / PARAMS_FILE)
PARAMS = load_params(REPO / PARAMS_FILE)
MLP = validate_spec(
    {
        "family": "mlp",
        "hidden_units": [64],
        "dropout": 0.0,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "augmentation": {"rotation": 10, "shift": 2, "scale": 0.1},
    },
    "mlp",
)
CNN = validate_spec(
    {
        "family": "cnn",
        "blocks": [[8, 8], [16]],
        "kernel_size": 3,
        "dense_units": 32,
        "dropout": 0.1,
        "optimizer": "adam",
        "learning_rate": 1e-3,
    },
    "cnn",
)


def changed(change: dict, space: str = "mlp", method: str | None = None) -> dict:
    """params.yaml's cv_search section with `change` to one space (and the method)."""
    section = copy.deepcopy(RAW["cv_search"])
    section["spaces"][space].update(change)
    if method:
        section["method"] = method
    return section


def checked_search(section: dict) -> CvSearch:
    return checked(CvSearch, section, "cv_search")


def test_the_default_spaces_are_wide():
    """The defaults search a wide space, not the neighbourhood of an earlier answer."""
    mlp = PARAMS.cv_search.spaces.mlp.search
    assert mlp["depth"].high - mlp["depth"].low >= 1
    assert mlp["width"].high / mlp["width"].low >= 6
    assert mlp["learning_rate"].high / mlp["learning_rate"].low >= 100 and mlp["learning_rate"].log
    assert {"dropout", "weight_decay", "augmentation"} <= mlp.keys()
    cnn = PARAMS.cv_search.spaces.cnn.search
    assert {"filters_1", "filters_2", "dense_units", "dropout", "learning_rate", "augmentation"} <= cnn.keys()


@pytest.mark.parametrize(
    "change, method, message",
    [
        (
            {"search": {"width": {"low": 512, "high": 256}}},
            None,
            "cv_search.spaces.mlp.search.width: low (512) must be < high (256)",
        ),
        (
            {"search": {"learning_rate": {"low": 0, "high": 0.1, "log": True}}},
            None,
            "cv_search.spaces.mlp.search.learning_rate: a log range needs low > 0, got 0",
        ),
        (
            {"search": {"depth": {"low": 1.5, "high": 3}}},
            None,
            "cv_search.spaces.mlp.search.depth.low must be an integer, got 1.5",
        ),
        (
            {"search": {"widht": {"low": 1, "high": 3}}},
            None,
            "cv_search.spaces.mlp.search.widht is not searchable in this space; searchable keys: depth, "
            "width, dropout, learning_rate, weight_decay, augmentation",
        ),
        (
            {"search": {"width": {"low": 1, "hihg": 3}}},
            None,
            "cv_search.spaces.mlp.search.width.hihg is not a known parameter (did you mean 'high'?)",
        ),
        (
            {"n_trial": 3},
            None,
            "cv_search.spaces.mlp.n_trial is not a known parameter (did you mean 'n_trials'?)",
        ),
        ({"epochs": 0}, None, "cv_search.spaces.mlp.epochs must be >= 1, got 0"),
        (
            {"train_images": 0},
            None,
            "cv_search.spaces.mlp.train_images must be a count (an integer >= 1) or a fraction",
        ),
        (
            {"search": {"width": {"low": 100, "high": 256}}},
            None,
            "cv_search.spaces.mlp.search.width.low must be a multiple of 8 (sizes are drawn on that grid), "
            "got 100",
        ),
        (
            {"search": {"width": {"low": 256, "high": 2048, "log": True}}},
            None,
            "cv_search.spaces.mlp.search.width.log must be false: sizes are drawn uniformly on multiples",
        ),
        ({"batch_size": 0}, None, "cv_search.spaces.mlp.batch_size must be >= 1, got 0"),
        ({"grid": None}, "grid_cv", "cv_search.spaces.mlp.grid is missing: method grid_cv needs it"),
        ({"search": None}, None, "cv_search.spaces.mlp.search is missing: method optuna needs it"),
        (
            {"grid": {"filters_1": [8, 16]}},
            "grid_cv",
            "cv_search.spaces.mlp.grid.filters_1 is not searchable in this space",
        ),
    ],
)
def test_bad_spaces_get_one_clear_error(change, method, message):
    with pytest.raises(ParamsError) as error:
        checked_search(changed(change, method=method))
    assert message in str(error.value)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"method": "halving"}, "cv_search.method must be one of 'optuna', 'grid_cv', got 'halving'"),
        (
            {"storage": "my-database"},
            "cv_search.storage must be null or a database URL such as postgresql://",
        ),
        (
            {"optuna": {"sampler": "tpe", "startup_trials": 0, "pruner": None}},
            "cv_search.optuna.startup_trials must be >= 1, got 0",
        ),
        (
            {
                "optuna": {
                    "sampler": "qmc",
                    "startup_trials": 1,
                    "pruner": {"min_epochs": 1, "reduction_factor": 1},
                }
            },
            "cv_search.optuna.pruner.reduction_factor must be >= 2, got 1",
        ),
        (
            {"optuna": {"sampler": "random", "startup_trials": 1, "pruner": None}},
            "cv_search.optuna.sampler must be one of 'qmc', 'tpe', got 'random'",
        ),
        ({"worker_timeout": 0}, "cv_search.worker_timeout must be >= 1, got 0"),
        ({"spaces": {"cnn": RAW["cv_search"]["spaces"]["cnn"]}}, "cv_search.spaces is missing mlp"),
    ],
)
def test_bad_settings_get_one_clear_error(change, message):
    section = copy.deepcopy(RAW["cv_search"])
    section.update(change)
    with pytest.raises(ParamsError) as error:
        checked_search(section)
    assert message in str(error.value)


def test_configure_applies_searched_values_to_the_base_spec():
    spec = spaces.configure(MLP, {"depth": 3, "width": 256, "dropout": 0.25, "augmentation": 0.5})
    assert spec.hidden_units == [256, 256, 256] and spec.dropout == 0.25
    assert spec.augmentation.model_dump() == {
        "rotation": 5.0,
        "shift": 1.0,
        "scale": 0.05,
        "elastic": 0.0,
        "elastic_sigma": 4.0,  # the field's smoothness is not a strength
        "flip": False,
        "brightness": 0.0,
        "contrast": 0.0,
    }
    assert spaces.configure(MLP, {"width": 128}).hidden_units == [128]
    assert spaces.configure(MLP, {"depth": 2}).hidden_units == [64, 64]
    assert not spaces.configure(MLP, {"augmentation": 0.0}).augmentation.enabled
    cnn = spaces.configure(CNN, {"filters_1": 4, "filters_2": 32, "dense_units": 10})
    assert cnn.blocks == [[4, 4], [32]] and cnn.dense_units == 10
    assert MLP.hidden_units == [64] and CNN.blocks == [[8, 8], [16]]  # the base is not changed
    assert searchable(CNN) == (
        "dense_units",
        "dropout",
        "filters_1",
        "filters_2",
        "learning_rate",
        "weight_decay",
        "augmentation",
    )


def test_suggest_draws_within_the_ranges_with_the_right_types():
    space = checked_search(
        changed(
            {
                "search": {
                    "depth": {"low": 1, "high": 3},
                    "width": {"low": 16, "high": 2048},
                    "augmentation": {"low": 0, "high": 1},
                    "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
                }
            }
        )
    ).spaces.mlp
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        values = spaces.suggest(study.ask(), space)
        assert isinstance(values["depth"], int) and 1 <= values["depth"] <= 3
        assert isinstance(values["width"], int) and 16 <= values["width"] <= 2048
        assert values["width"] % 8 == 0  # on oneDNN's blocks of 8
        assert isinstance(values["augmentation"], float) and 0 <= values["augmentation"] <= 1
        assert 1e-4 <= values["learning_rate"] <= 1e-2


def test_the_study_name_follows_the_space_budget_seed_and_data():
    def name(section=RAW["cv_search"], seed=42, data="data"):
        settings = checked_search(section)
        return spaces.study_name("mlp", settings, settings.spaces.mlp, seed, data)

    assert name().startswith("mlp-") and name() == name(copy.deepcopy(RAW["cv_search"]))
    more, narrower = changed({"n_trials": 99}), changed({"search": {"depth": {"low": 1, "high": 2}}})
    assert len({name(), name(more), name(narrower), name(seed=43), name(data="other")}) == 5


def test_multiply_adds():
    mlp = validate_spec({**MLP.model_dump(), "hidden_units": [1024, 1024]}, "mlp")
    assert multiply_adds(mlp, (28, 28), 10) == 784 * 1024 + 1024 * 1024 + 10240
    # 28 -> conv 5: 24 (x32) -> pool 12 -> conv 5: 8 (x64) -> pool 4; dense 256; output 10
    cnn = validate_spec(
        {**CNN.model_dump(), "blocks": [[32], [64]], "kernel_size": 5, "dense_units": 256}, "cnn"
    )
    assert (
        multiply_adds(cnn, (28, 28), 10) == 24 * 24 * 25 * 32 + 8 * 8 * 25 * 32 * 64 + 4 * 4 * 64 * 256 + 2560
    )
    lenet = validate_spec(
        {
            "family": "lenet",
            "filters": [32, 64],
            "kernel_size": 5,
            "dense_units": 256,
            "optimizer": "adam",
            "learning_rate": 1e-3,
        },
        "lenet",
    )
    assert multiply_adds(lenet, (28, 28), 10) == multiply_adds(cnn, (28, 28), 10)


def test_the_default_is_a_point_of_each_space_and_its_values_give_the_base_spec():
    for name in ("mlp", "cnn"):
        space = getattr(PARAMS.cv_search.spaces, name)
        spaces.check_space(name, space)
        values = spaces.default_values(space)
        assert values.keys() == space.search.keys() and values["augmentation"] == 1.0
        assert spaces.configure(space.model, values) == space.model
    assert spaces.default_values(PARAMS.cv_search.spaces.mlp)["width"] == 1024


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"search": {**RAW["cv_search"]["spaces"]["mlp"]["search"], "width": {"low": 256, "high": 512}}},
            "cv_search.spaces.mlp.model: the default's width 1024 is not a point of search.width "
            "(256 to 512, multiples of 8)",
        ),
        (
            {"search": {**RAW["cv_search"]["spaces"]["mlp"]["search"], "width": {"low": 260, "high": 1604}}},
            "must be a multiple of 8",
        ),
        (
            {"model": {**RAW["cv_search"]["spaces"]["mlp"]["model"], "hidden_units": [1024, 512]}},
            "cv_search.spaces.mlp.model: hidden_units must all be the same size",
        ),
        (
            {
                "model": {
                    **RAW["cv_search"]["spaces"]["mlp"]["model"],
                    "augmentation": {"rotation": 10, "contrast": 0.6},
                }
            },
            "'augmentation': 2.0}.augmentation.contrast must be < 1.0, got 1.2: every range's `high` must "
            "give a valid model",
        ),
    ],
)
def test_a_space_whose_default_is_off_it_is_refused(change, message):
    with pytest.raises(ParamsError) as error:
        space = checked_search(changed(change)).spaces.mlp
        spaces.check_space("mlp", space)
    assert message in str(error.value)


def mnist_training(name: str, images: int = 54_000) -> dict:
    """How train_final trains the space's finalist (54,000 images: MNIST's)."""
    settings = getattr(PARAMS.train_final, name)
    return {"images": images, "epochs": settings.epochs, "batch_size": settings.batch_size}


def test_mnists_budgets_are_the_old_per_image_bounds_and_leave_its_spaces_as_they_are():
    """4.5 minutes each, of 54,000 images x train_final's 20 and 10 epochs, are the 250 and 500
    microseconds per image MNIST's spaces were bounded by; their largest models fit."""
    for name, microseconds in (("mlp", 250), ("cnn", 500)):
        space, training = getattr(PARAMS.cv_search.spaces, name), mnist_training(name)
        assert space.max_train_final_minutes * 60e6 == pytest.approx(
            microseconds * training["images"] * training["epochs"]
        )
        fitted, budget = spaces.fit_budget(name, space, (28, 28), 10, **training)
        assert fitted == space and budget["lowered"] == {}
        assert budget["largest"] == {key: space.search[key].high for key in budget["largest"]}
        assert budget["largest_minutes"] <= space.max_train_final_minutes
    sentence = costs.budget_sentence(spaces.fit_budget("cnn", space, (28, 28), 10, **training)[1])
    assert sentence == (
        "The largest model (filters_1 48, filters_2 96, dense_units 384) takes about 4.3 min of train_final "
        "(54,000 images x 10 epochs), within max_train_final_minutes 4.5."
    )


def minutes(space, values, training, shape) -> float:
    spec = spaces.configure(space.model, values)
    return costs.training_seconds(spec, shape, 10, **training) / 60


def test_bigger_pictures_lower_every_size_by_one_rule_until_the_largest_model_fits():
    space, training, shape = PARAMS.cv_search.spaces.cnn, mnist_training("cnn", 30_000), (36, 36, 3)
    default = spaces.default_values(space)
    assert minutes(space, default, training, shape) < space.max_train_final_minutes
    highs = {key: space.search[key].high for key in ("filters_1", "filters_2", "dense_units")}
    assert minutes(space, highs, training, shape) > space.max_train_final_minutes
    fitted, budget = spaces.fit_budget("cnn", space, shape, 10, **training)
    assert fitted == spaces.fit_budget("cnn", space, shape, 10, **training)[0]  # deterministic
    lowered = {key: fitted.search[key].high for key in highs}
    assert budget["largest"] == lowered and budget["lowered"] == {
        key: {"from": highs[key], "to": lowered[key]} for key in highs if lowered[key] != highs[key]
    }
    assert minutes(space, lowered, training, shape) <= space.max_train_final_minutes
    # each headroom above the default (16, 32, 256) scaled by one factor (63/64, the largest
    # that fits) and rounded down to the grid of 8
    assert lowered == {"filters_1": 40, "filters_2": 88, "dense_units": 376}
    assert default == {**default, "filters_1": 32, "filters_2": 64, "dense_units": 128}
    # one step more on every size would have fitted too: the factor is the largest that fits
    wider = {key: min(highs[key], high + 8) for key, high in lowered.items()}
    assert minutes(space, wider, training, shape) > space.max_train_final_minutes
    assert spaces.check_space("cnn", fitted) is None  # the default stays a point of the space
    sentence = costs.budget_sentence(budget)
    assert "filters_2 high 96 -> " in sentence and sentence.endswith("to fit.")
    # everything else about the space is as it was
    assert fitted.model_dump(exclude={"search"}) == space.model_dump(exclude={"search"})
    assert {key: fitted.search[key] for key in space.search if key not in highs} == {
        key: bounds for key, bounds in space.search.items() if key not in highs
    }


def test_depth_is_lowered_only_where_the_sizes_at_their_defaults_are_still_over():
    space, shape = PARAMS.cv_search.spaces.mlp, (28, 28)
    at_defaults = {"depth": 3, "width": 1024}
    training = mnist_training("mlp")
    budget = minutes(space, at_defaults, training, shape) - 0.01  # depth 3 at width 1024: just over
    tight = space.model_copy(update={"max_train_final_minutes": budget})
    fitted, record = spaces.fit_budget("mlp", tight, shape, 10, **training)
    assert record["largest"] == {"depth": 2, "width": 1024} and fitted.search["depth"].high == 2
    assert record["lowered"] == {"depth": {"from": 3, "to": 2}, "width": {"from": 1600, "to": 1024}}


def test_a_default_over_its_budget_is_refused_with_the_key_and_the_minutes_it_needs():
    space, training = PARAMS.cv_search.spaces.cnn, mnist_training("cnn")
    with pytest.raises(ParamsError) as error:
        spaces.fit_budget("cnn", space, (64, 64, 3), 10, **training)
    assert str(error.value).startswith(
        "cv_search.spaces.cnn: its default model alone would take about 17.6 min of train_final "
        "(54,000 images x 10 epochs on the 2-core Intel Xeon"
    )
    assert str(error.value).endswith(
        "over max_train_final_minutes 4.5: raise max_train_final_minutes to 17.6 or more, or set a "
        "smaller dataset.image_size"
    )
    roomier = space.model_copy(update={"max_train_final_minutes": 17.6})
    assert spaces.fit_budget("cnn", roomier, (64, 64, 3), 10, **training)[1]["lowered"]


def test_the_cost_table_grows_with_the_model_and_takes_the_nearest_batch_size():
    small, big = MLP, validate_spec({**MLP.model_dump(), "hidden_units": [1024, 1024]}, "mlp")
    for batch in (128, 512):
        assert (
            0
            < costs.microseconds_per_image(small, (28, 28), 10, batch)
            < costs.microseconds_per_image(big, (28, 28), 10, batch)
        )
    assert set(costs.COSTS) >= {("mlp", 128), ("mlp", 512), ("cnn", 128)}
    # 600 is nearest 512 (on a log scale), 200 nearest 128
    assert costs.microseconds_per_image(big, (28, 28), 10, 600) == costs.microseconds_per_image(
        big, (28, 28), 10, 512
    )
    assert costs.microseconds_per_image(big, (28, 28), 10, 200) == costs.microseconds_per_image(
        big, (28, 28), 10, 128
    )
    # The larger batch is the cheaper per image for an MLP (the reason the MLPs train at 512)
    assert costs.microseconds_per_image(big, (28, 28), 10, 512) < costs.microseconds_per_image(
        big, (28, 28), 10, 128
    )


def test_qmc_draws_every_trial_on_the_grid_and_within_the_budget():
    """No draw is thrown away: every point the sampler proposes is a model within the
    space's budget, sizes on multiples of 8, and the same seed draws the same; also in
    a space lowered to fit bigger pictures."""
    training, shape = mnist_training("cnn", 30_000), (36, 36, 3)
    space, budget = spaces.fit_budget("cnn", PARAMS.cv_search.spaces.cnn, shape, 10, **training)
    assert budget["lowered"]

    def draws(seed):
        study = optuna.create_study(sampler=optuna.samplers.QMCSampler(seed=seed, scramble=True))
        values = []
        for _ in range(16):
            trial = study.ask()
            values.append(spaces.suggest(trial, space))
            study.tell(trial, 0.5)
        return values

    first = draws(0)
    assert first == draws(0) and first != draws(1)
    for values in first:
        assert all(values[key] % 8 == 0 for key in ("filters_1", "filters_2", "dense_units"))
        assert minutes(space, values, training, shape) <= space.max_train_final_minutes
