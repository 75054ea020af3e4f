"""train_final's duel: the default and the challenger cv_search kept, both trained as
train_final trains, one (or both, averaged) kept by the rule of every decision on the
holdout images."""

import json

import numpy as np

from stages.lib.core.costs import TRAINING_COST, training_seconds
from stages.lib.core.model_files import load_model, members, save_model
from stages.lib.core.specs import validate_spec
from stages.lib.training.duel import candidates, train_finalist
from stages.lib.training.fitting import train

DEFAULT = validate_spec(
    {"family": "mlp", "hidden_units": [16], "dropout": 0.0, "optimizer": "adam", "learning_rate": 0.01},
    "spec",
)
# 0.0001 for 3 epochs: near chance, so the default is better beyond the noise
WEAK = DEFAULT.model_copy(update={"learning_rate": 0.0001})


def data(seed, images):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=images)
    x = rng.random((images, 6, 6), dtype=np.float32) * 0.3
    x[:, 0, :3] += np.eye(3, dtype=np.float32)[y]
    return x, y


def duel(specs, log_dir, **settings):
    return train_finalist(
        specs,
        data(0, 300),
        data(1, 200),
        **{"epochs": 3, "batch_size": 16, "seed": 5, "num_classes": 3, "significance": 0.05, **settings},
        log_dir=log_dir,
    )


def test_what_train_final_trains():
    wider = DEFAULT.model_copy(update={"hidden_units": [32]})
    assert candidates("optuna", DEFAULT, DEFAULT) == {"default": DEFAULT}
    assert candidates("optuna", DEFAULT, wider) == {"default": DEFAULT, "challenger": wider}
    assert candidates("grid_cv", DEFAULT, wider) == {"best grid point": wider}


def test_a_challenger_worse_in_full_loses_the_duel_and_the_logs_are_the_defaults(tmp_path):
    log_dir = tmp_path / "metrics" / "train_final" / "mlp"
    log_dir.mkdir(parents=True)
    (log_dir / "metrics.json").write_text("{}")  # a previous run's
    model, record = duel({"default": DEFAULT, "challenger": WEAK}, log_dir)
    assert record["duel"] and record["kept"] == "default"
    assert record["outcome"] == (
        "default is better beyond the noise; their average is not better than default beyond the "
        "noise, so it stays"
    )
    default, challenger = record["candidates"]["default"], record["candidates"]["challenger"]
    assert default["kept"] and not challenger["kept"] and record["images"] == 200
    assert record["ensemble"]["compared_with"] == "default"
    assert default["right"] - challenger["right"] == default["only_right"] - challenger["only_right"] > 20
    assert record["cost"] == TRAINING_COST
    assert default["cost"] == round(
        training_seconds(DEFAULT, (6, 6), 3, batch_size=16, images=300, epochs=3), 1
    )
    # The kept model is what training the default alone gives, and so are its logs.
    x, y = data(1, 200)
    assert int((model.predict(x, verbose=0).argmax(axis=1) == y).sum()) == default["right"]
    alone, history = train(
        DEFAULT, data(0, 300), data(1, 200), epochs=3, batch_size=16, seed=5, num_classes=3
    )
    for a, b in zip(model.get_weights(), alone.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    logged = json.loads((log_dir / "metrics.json").read_text())
    assert logged["eval"]["accuracy"] == history["val_accuracy"][-1]
    assert sorted(p.name for p in log_dir.iterdir()) == ["metrics.json", "plots"]
    json.dumps(record)  # as duel.json stores it


def test_a_tie_keeps_both_averaged_as_one_model_that_saves_and_loads(tmp_path):
    """The same model twice: a tie, so both are kept, averaged in one Keras model."""
    model, record = duel({"default": DEFAULT, "challenger": DEFAULT}, tmp_path / "live")
    assert record["p_value"] == 1.0 and record["kept"] == "default+challenger"
    # trained second, after the first, the same spec learns exactly the same
    assert (
        record["candidates"]["default"]["only_right"] == record["candidates"]["challenger"]["only_right"] == 0
    )
    averaged = record["candidates"]["default+challenger"]
    assert averaged["kept"] and averaged["cost"] == 2 * record["candidates"]["default"]["cost"]
    assert record["ensemble"]["compared_with"] == "default"  # the pair's rule: equal cost, the default
    assert sorted(members(model)) == ["challenger", "default"]
    save_model(model, tmp_path / "kept.keras")
    x, y = data(1, 200)
    loaded = load_model(tmp_path / "kept.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert int((loaded.predict(x, verbose=0).argmax(axis=1) == y).sum()) == averaged["right"]
    assert (tmp_path / "live" / "plots" / "metrics" / "eval" / "accuracy.tsv").exists()  # the default's


def test_one_candidate_is_trained_alone(tmp_path):
    model, record = duel({"default": DEFAULT}, tmp_path / "live")
    assert record["duel"] is False and record["kept"] == "default"
    assert record["outcome"] == "no duel: cv_search kept the default"
    x, y = data(1, 200)
    assert record["candidates"]["default"]["right"] == int(
        (model.predict(x, verbose=0).argmax(axis=1) == y).sum()
    )
    assert (tmp_path / "live" / "plots" / "metrics" / "eval" / "accuracy.tsv").exists()
