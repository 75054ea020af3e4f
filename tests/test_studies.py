import copy

import numpy as np
import optuna
import pytest

from stages.lib.core.config import PARAMS_FILE, CvSearch
from stages.lib.core.intervals import wilson_interval
from stages.lib.core.params import checked, read_yaml
from stages.lib.search import objectives, results, studies
from tests import REPO

MLP = {"family": "mlp", "hidden_units": [4], "dropout": 0.0, "optimizer": "adam", "learning_rate": 0.01}


def settings(space: dict, **section):
    """(cv_search, its mlp space): params.yaml's, with `section`'s keys and the mlp
    space's replaced."""
    raw = copy.deepcopy(read_yaml(REPO / PARAMS_FILE)["cv_search"])
    raw.update(section)
    raw["spaces"]["mlp"].update(space)
    if raw["method"] == "grid_cv":  # every space then needs a grid
        raw["spaces"]["cnn"]["grid"] = {"dense_units": [16]}
    search = checked(CvSearch, raw, "cv_search")
    return search, search.spaces.mlp


class PruneFrom(optuna.pruners.BasePruner):
    """Prunes every trial once it has reported `step` epochs."""

    def __init__(self, step):
        self.step = step

    def prune(self, study, trial):
        return trial.last_step is not None and trial.last_step >= self.step


def tiny_data(seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 20)
    x = rng.random((60, 6, 6), dtype=np.float32) * 0.1
    x[np.arange(60), y * 2, y * 2] = 1.0  # a bright pixel whose place gives the class away
    return x, y


def fit_with_pruning(prune_from: int, epochs: int):
    """A tiny model fitted for `epochs` with the pruning callback of a trial that the
    pruner stops once it has reported `prune_from` epochs."""
    import keras

    x, y = tiny_data()
    study = optuna.create_study(direction="maximize", pruner=PruneFrom(prune_from))
    trial = study.ask()
    model = keras.Sequential(
        [keras.Input((6, 6)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callback = objectives.pruning_callback(trial)
    history = model.fit(x, y, validation_data=(x, y), epochs=epochs, verbose=0, callbacks=[callback])
    return study, callback, history


def test_the_pruning_callback_reports_each_epoch_and_stops_a_pruned_trial():
    study, callback, history = fit_with_pruning(2, epochs=6)
    assert callback.pruned and len(history.history["val_accuracy"]) == 2
    reported = study.trials[0].intermediate_values
    assert reported == pytest.approx(
        {1: history.history["val_accuracy"][0], 2: history.history["val_accuracy"][1]}
    )


def test_a_trial_that_reached_its_last_epoch_is_not_pruned():
    study, callback, _ = fit_with_pruning(3, epochs=3)
    assert not callback.pruned and sorted(study.trials[0].intermediate_values) == [1, 2, 3]


def fake_objective(trial):
    """Stands for training: a made-up accuracy on 1,000 images, rising with x; x > 90
    stands for a model over the cost budget, left untrained."""
    x = trial.suggest_int("x", 0, 99)
    trial.set_user_attr("worker", "here:1")
    trial.set_user_attr("spec", {"x": x})
    trial.set_user_attr("multiply_adds", x // 10)
    if x > 90:
        trial.set_user_attr("trained", False)
        trial.set_user_attr("note", "over max_multiply_adds: not trained")
        raise optuna.TrialPruned()
    objectives._record(trial, 900 + x, 1000, 2, 0.0)
    if x < 20:
        raise optuna.TrialPruned()
    return (900 + x) / 1000


def test_optimize_runs_until_the_study_has_its_budget_of_trials(tmp_path):
    search, space = settings(
        {"epochs": 2, "max_multiply_adds": 10},
        optuna={"startup_trials": 2, "pruner": {"min_epochs": 1, "reduction_factor": 3}},
    )
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = studies.open_study("s", url, search, space, seed=0)
    studies.optimize(study, fake_objective, 7)
    trained = studies.counted(study.trials)
    assert len(trained) == 7 and [t.number for t in study.trials] == list(range(len(study.trials)))
    assert all(t.params["x"] > 90 for t in study.trials if t not in trained)  # untrained ones do not count
    # full: a second process runs none
    studies.optimize(studies.open_study("s", url, search, space, seed=0), fake_objective, 7)
    assert len(studies.counted(study.trials)) == 7
    again = studies.open_study("t", url, search, space, seed=0)
    studies.optimize(again, fake_objective, 7)
    assert [t.params for t in again.trials] == [t.params for t in study.trials]  # seeded: the same trials


def test_the_trial_table_gives_intervals_ties_and_states():
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(12):
        study.optimize(fake_objective, n_trials=1)
    study.add_trial(
        optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={"worker": "w:2"})
    )
    table = results.trial_table(study)
    assert len(table) == 13 and table["trial"].tolist() == list(range(13))
    best = table.loc[table["accuracy"].idxmax()]
    assert best["trial"] == study.best_trial.number and best["tied_with_best"]
    assert (best["accuracy_low"], best["accuracy_high"]) == wilson_interval(
        round(best["accuracy"] * 1000), 1000
    )
    complete = table[table["state"] == "COMPLETE"]
    assert (complete["tied_with_best"] == (complete["accuracy_high"] >= best["accuracy_low"])).all()
    assert not table.loc[table["state"] != "COMPLETE", "tied_with_best"].any()
    assert table["state"].iloc[-1] == "FAIL" and np.isnan(table["accuracy"].iloc[-1])
    summary = results.summary(study)
    untrained = table["note"].str.endswith("not trained").sum()
    assert summary["trials"] == 13 - untrained and summary["untrained"] == untrained and summary["fail"] == 1
    assert (
        summary["complete"] + summary["pruned"] == 12 - untrained and summary["best_trial"] == best["trial"]
    )


def test_a_trial_over_the_cost_budget_is_pruned_untrained(monkeypatch):
    search, space = settings(
        {
            "epochs": 2,
            "max_multiply_adds": 100,
            "model": MLP,
            "search": {"width": {"low": 50, "high": 60, "log": False}},
        },
        batch_size=8,
    )
    monkeypatch.setattr(
        objectives, "new_model", lambda *_, **__: pytest.fail("an over-budget trial must not train")
    )
    study = optuna.create_study(direction="maximize")
    x, y = tiny_data()
    study.optimize(
        objectives.trial_objective(search, space, (x, y), (x, y), seed=0, num_classes=3), n_trials=1
    )
    trial = study.trials[0]
    assert (
        trial.state == optuna.trial.TrialState.PRUNED
        and "over max_multiply_adds: not trained" in trial.user_attrs["note"]
    )
    assert trial.user_attrs["multiply_adds"] == 36 * trial.params["width"] + 3 * trial.params["width"]


def test_a_real_trial_trains_reports_and_records(monkeypatch):
    search, space = settings(
        {
            "epochs": 3,
            "max_multiply_adds": 10**6,
            "model": {**MLP, "learning_rate": 0.05},
            "search": {"width": {"low": 8, "high": 16, "log": False}},
        },
        batch_size=16,
    )
    x, y = tiny_data()
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    study.optimize(
        objectives.trial_objective(search, space, (x, y), (x, y), seed=0, num_classes=3), n_trials=1
    )
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.COMPLETE and sorted(trial.intermediate_values) == [1, 2, 3]
    assert (
        trial.value
        == trial.user_attrs["correct"] / 60
        == pytest.approx(trial.intermediate_values[3], abs=1e-6)
    )
    assert (
        trial.user_attrs["spec"]["hidden_units"] == [trial.params["width"]]
        and trial.user_attrs["epochs"] == 3
    )


def test_cross_validate_scores_each_fold_on_images_that_did_not_stop_it(monkeypatch):
    """Each image validates in exactly one fold, each fold keeps the class shares, and
    early stopping watches part of the fold's training images, never its validation."""
    folds = []

    class Model:
        def predict(self, x, **_):
            return np.eye(3)[np.zeros(len(x), int)]  # always class 0

    def fake_train(spec, train_data, stop_data, **_):
        folds.append((train_data[0][:, 0, 0].astype(int), stop_data[0][:, 0, 0].astype(int)))
        return Model(), {"val_accuracy": [0.5, 0.6]}

    monkeypatch.setattr(objectives, "train", fake_train)
    y = np.repeat(np.arange(3), 40)
    x = np.arange(120, dtype=np.float32)[:, None, None] * np.ones(
        (1, 4, 4), np.float32
    )  # pixels name the image
    results = objectives.cross_validate(
        {}, x, y, folds=3, epochs=2, batch_size=16, early_stopping_patience=1, seed=0, num_classes=3
    )
    assert len(folds) == 3 and [(size, epochs) for _, size, epochs in results] == [(40, 2)] * 3
    validated = []
    for (fit, stop), (correct, _, _) in zip(folds, results, strict=True):
        validation = sorted(set(range(120)) - set(fit) - set(stop))
        validated += validation
        assert set(fit).isdisjoint(stop) and len(stop) == 8  # a tenth of the fold's 80 training images
        assert set(np.bincount(y[validation], minlength=3)) <= {13, 14}
        assert correct == int(np.sum(y[validation] == 0))
    assert sorted(validated) == list(range(120))


def test_grid_cv_scores_every_grid_point_once_by_pooled_cross_validation(tmp_path, monkeypatch):
    """Notebook 003's protocol through the same study: a grid sampler, each trial's
    value the pooled accuracy of its folds, their std with ddof=1."""
    folds = {
        8: [(80, 100, 1), (84, 100, 1)],
        16: [(97, 100, 3), (99, 100, 2)],
        32: [(96, 100, 1), (98, 100, 1)],
    }
    monkeypatch.setattr(objectives, "cross_validate", lambda spec, x, y, **_: folds[spec.hidden_units[0]])
    search, space = settings(
        {"max_multiply_adds": 10**6, "grid": {"width": [8, 16, 32]}, "model": MLP},
        method="grid_cv",
        batch_size=8,
        grid_cv={"folds": 2, "epochs": 1, "early_stopping_patience": 1},
    )
    assert studies.n_trials(search, space) == 3
    study = studies.open_study("grid", f"sqlite:///{tmp_path / 'study.db'}", search, space, seed=0)
    x, y = np.zeros((200, 6, 6), np.float32), np.repeat(np.arange(2), 100)
    studies.optimize(
        study, objectives.cross_validation_objective(search, space, x, y, seed=0, num_classes=2), 3
    )
    table = results.trial_table(study).set_index("width")
    assert sorted(table.index) == [8, 16, 32] and study.best_trial.params == {"width": 16}
    assert table.loc[16, "accuracy"] == 196 / 200 and table.loc[16, ["fold_1", "fold_2"]].tolist() == [
        0.97,
        0.99,
    ]
    assert table.loc[16, "epochs"] == 3  # the most any fold trained
    assert table.loc[8, "fold_std"] == pytest.approx(np.std([0.80, 0.84], ddof=1))
    assert table.loc[32, "tied_with_best"] and not table.loc[8, "tied_with_best"]
