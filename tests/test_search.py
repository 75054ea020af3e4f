import numpy as np
import pandas as pd
import pytest

from stages.lib import search
from stages.lib.errors import ParamsError
from stages.lib.params import PARAMS_FILE, load_params
from tests import REPO

BASE = {"family": "lenet", "filters": [32, 64], "kernel_size": 5, "dense_units": 120,
        "optimizer": "adam", "learning_rate": 1e-3}


def test_candidates_cover_the_grid_in_order():
    found = search.candidates(BASE, {"filters": [[16, 32], [64, 128]], "learning_rate": [1e-3, 5e-4]})
    assert [(c["filters"], c["learning_rate"]) for c in found] == [
        ([16, 32], 1e-3), ([16, 32], 5e-4), ([64, 128], 1e-3), ([64, 128], 5e-4)
    ]
    assert all(c["dense_units"] == 120 and c["family"] == "lenet" for c in found)


def test_grid_keys_must_be_model_keys():
    with pytest.raises(ParamsError, match="s.grid.filter is not a key of s.model"):
        search.candidates(BASE, {"filter": [[1, 2]]}, "s")
    with pytest.raises(ParamsError, match=r"learning_rate must be > 0.0, got -1"):
        search.candidates(BASE, {"learning_rate": [-1]})


@pytest.mark.parametrize("change, message", [
    ({"method": "halfing"}, "cv_search.method must be one of 'halving', 'grid_cv', got 'halfing' (did you mean 'halving'?)"),
    ({"halving": {"min_epochs": 4, "max_epochs": 2, "reduction_factor": 2}}, "cv_search.halving.max_epochs (2) must be >= min_epochs (4)"),
    ({"halving": {"min_epochs": 1, "max_epochs": 2, "reduction_factor": 1}}, "cv_search.halving.reduction_factor must be >= 2, got 1"),
    ({"grid_cv": {"folds": 1, "epochs": 5, "early_stopping_patience": 3}}, "cv_search.grid_cv.folds must be >= 2, got 1"),
    ({"spaces": {"cnn": {}}}, "cv_search.spaces.mlp is missing: cv_search.spaces must define 'mlp'"),
])
def test_search_params_validates_the_section(change, message):
    params = load_params(REPO / PARAMS_FILE)
    params["cv_search"].update(change)
    with pytest.raises(ParamsError) as error:
        search.search_params(params, "mlp")
    assert message in str(error.value)


class FakeModel:
    """Stands in for a Keras model: its 'accuracy' grows with epochs, at a pace set by
    its learning rate, so the halving order is known in advance."""

    def __init__(self, spec):
        self.pace = spec["learning_rate"]


def fake_fit(trained):
    def fit(model, spec, train_data, validation_data, *, epochs, initial_epoch, **_):
        trained.append((model.pace, initial_epoch, epochs))
        return {"val_accuracy": [model.pace * epochs]}

    return fit


def test_successive_halving_keeps_the_best_half_and_resumes_them(monkeypatch):
    trained = []
    monkeypatch.setattr(search, "new_model", lambda spec, *_, **__: FakeModel(spec))
    monkeypatch.setattr(search, "fit", fake_fit(trained))
    grid = {"learning_rate": [0.01, 0.08, 0.06, 0.02, 0.03, 0.05, 0.07, 0.04]}
    settings = {"candidates": search.candidates(BASE, grid), "grid": grid, "batch_size": 8,
                "halving": {"min_epochs": 1, "max_epochs": 4, "reduction_factor": 2}}
    table = search.successive_halving(settings, ([0],), ([0],), seed=0, num_classes=10)
    # Rung 1: all eight for 1 epoch; rung 2: the best four on to 2 epochs; rung 3: the
    # best two on to 4 epochs (max_epochs), resuming where they stopped.
    assert trained == [(pace, 0, 1) for pace in grid["learning_rate"]] + [
        (0.08, 1, 2), (0.07, 1, 2), (0.06, 1, 2), (0.05, 1, 2), (0.08, 2, 4), (0.07, 2, 4)]
    assert table["epochs"].tolist() == [1, 4, 2, 1, 1, 2, 4, 1]
    assert table["score"].tolist() == pytest.approx([0.01, 0.32, 0.12, 0.02, 0.03, 0.10, 0.28, 0.04])
    assert table["accuracy_at_4_epochs"].notna().tolist() == [False, True, False, False, False, False, True, False]
    assert search.winner(table) == 1


def test_successive_halving_stops_when_one_is_left(monkeypatch):
    trained = []
    monkeypatch.setattr(search, "new_model", lambda spec, *_, **__: FakeModel(spec))
    monkeypatch.setattr(search, "fit", fake_fit(trained))
    grid = {"learning_rate": [0.01, 0.03, 0.02]}
    settings = {"candidates": search.candidates(BASE, grid), "grid": grid, "batch_size": 8,
                "halving": {"min_epochs": 1, "max_epochs": 8, "reduction_factor": 3}}
    table = search.successive_halving(settings, ([0],), ([0],), seed=0, num_classes=10)
    assert trained == [(0.01, 0, 1), (0.03, 0, 1), (0.02, 0, 1)]
    assert search.winner(table) == 1


def test_winner_is_the_longest_trained_then_the_best_then_the_first():
    assert search.winner(pd.DataFrame({"score": [0.99, 0.95], "epochs": [2, 4]})) == 1
    assert search.winner(pd.DataFrame({"score": [0.97, 0.98, 0.98]})) == 1


def test_grid_cv_table(monkeypatch):
    scores = {16: [0.90, 0.92], 64: [0.97, 0.99]}
    monkeypatch.setattr(search, "cross_validate", lambda spec, x, y, **_: scores[spec["filters"][0]])
    grid = {"filters": [[16, 32], [64, 128]]}
    settings = {"candidates": search.candidates(BASE, grid), "grid": grid, "batch_size": 8,
                "grid_cv": {"folds": 2, "epochs": 1, "early_stopping_patience": 1}}
    table = search.grid_cv(settings, None, None, seed=0, num_classes=10)
    assert table["candidate"].tolist() == ["filters=[16, 32]", "filters=[64, 128]"]
    assert table["fold_2"].tolist() == [0.92, 0.99]
    np.testing.assert_allclose(table["score"], [0.91, 0.98])
    np.testing.assert_allclose(table["std"], [0.01, 0.01])


def toy_digits(seed):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 20)
    x = rng.random((60, 12, 12), dtype=np.float32) * 0.1
    x[np.arange(60), y * 4, y * 4] = 1.0  # a bright pixel whose place gives the class away
    return x, y


def test_cross_validate_trains_one_model_per_stratified_fold(monkeypatch):
    """Each image validates in exactly one fold, each fold keeps the class shares, and
    a fold's score is its model's accuracy on that fold's validation images."""
    folds = []

    class Model:
        def evaluate(self, x, y, verbose):
            return [0.0, float(np.mean(y == 0))]  # stands for an accuracy: the share of class 0

    def fake_train(spec, train_data, validation_data, **_):
        folds.append((train_data[0][:, 0, 0].astype(int), validation_data[0][:, 0, 0].astype(int)))
        return Model(), {}

    monkeypatch.setattr(search, "train", fake_train)
    y = np.repeat(np.arange(3), 20)
    x = np.arange(60, dtype=np.float32)[:, None, None] * np.ones((1, 4, 4), np.float32)  # pixels name the image
    scores = search.cross_validate(BASE, x, y, folds=3, epochs=2, batch_size=16, early_stopping_patience=1,
                                   seed=0, num_classes=3)
    assert len(folds) == 3
    assert sorted(np.concatenate([validation for _, validation in folds]).tolist()) == list(range(60))
    for train, validation in folds:
        assert set(train).isdisjoint(validation) and len(train) + len(validation) == 60
        assert set(np.bincount(y[validation], minlength=3)) <= {6, 7}
    assert scores == [float(np.mean(y[validation] == 0)) for _, validation in folds]


def test_successive_halving_trains_real_models():
    spec = {"family": "mlp", "hidden_units": [8], "dropout": 0.0, "optimizer": "adam", "learning_rate": 0.01,
            "lr_schedule": "cosine", "augmentation": {"rotation": 5, "shift": 1, "scale": 0.05}}
    grid = {"hidden_units": [[4], [8], [16], [32]]}
    settings = {"candidates": search.candidates(spec, grid), "grid": grid, "batch_size": 16,
                "halving": {"min_epochs": 1, "max_epochs": 3, "reduction_factor": 2}}
    table = search.successive_halving(settings, toy_digits(0), toy_digits(1), seed=0, num_classes=3)
    assert sorted(table["epochs"]) == [1, 1, 2, 2]  # after rung 2 one is left: the winner
    assert table.columns.tolist() == ["candidate", "epochs", "score", "accuracy_at_1_epochs", "accuracy_at_2_epochs"]


def test_planned_epochs_count_every_rung():
    assert search.planned_epochs(4, 1, 4, 2) == 4 + 2  # one left after rung 2
    assert search.planned_epochs(8, 1, 4, 2) == 8 + 4 + 2 * 2
    assert search.planned_epochs(3, 2, 2, 2) == 6


def test_halving_reports_progress_and_time_left(monkeypatch, caplog):
    monkeypatch.setattr(search, "new_model", lambda spec, *_, **__: FakeModel(spec))
    monkeypatch.setattr(search, "fit", fake_fit([]))
    grid = {"learning_rate": [0.01, 0.03, 0.02, 0.04]}
    settings = {"candidates": search.candidates(BASE, grid), "grid": grid, "batch_size": 8,
                "halving": {"min_epochs": 1, "max_epochs": 4, "reduction_factor": 2}}
    with caplog.at_level("INFO", logger="stages.lib.search"):
        search.successive_halving(settings, ([0],), ([0],), seed=0, num_classes=10)
    lines = caplog.messages
    assert len(lines) == 6
    assert lines[0].startswith("rung 1 (1 epochs), candidate 1/4 (learning_rate=0.01): validation accuracy 0.0100; ")
    assert lines[-1].startswith("rung 2 (2 epochs), candidate 2/2 (learning_rate=0.03): validation accuracy 0.0600; ")
    assert all(" s so far, about " in line and line.endswith(" s left") for line in lines)
    assert lines[-1].endswith("about 0 s left")
