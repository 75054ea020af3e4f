import copy

import numpy as np
import optuna
import pytest
import scipy.stats

from stages.lib.core.config import PARAMS_FILE
from stages.lib.core.intervals import wilson_interval
from stages.lib.core.params import checked, read_yaml
from stages.lib.core.search_config import CvSearch
from stages.lib.search import objectives, results, spaces, studies
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


def fit_scored(pruner, epochs: int, default: bool = False):
    """A tiny model fitted for `epochs` with the scoring callback of a trial (the
    default, if `default`) that `pruner` judges."""
    import keras

    x, y = tiny_data()
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.enqueue_trial({}, user_attrs={"default": default})
    trial = study.ask()
    model = keras.Sequential(
        [keras.Input((6, 6)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callback = objectives.scoring_callback(trial, (x, y))
    history = model.fit(x, y, epochs=epochs, verbose=0, callbacks=[callback])
    return study, callback, model, history


def test_the_scoring_callback_reports_each_epoch_and_stops_a_pruned_trial():
    study, callback, model, history = fit_scored(PruneFrom(2), epochs=6)
    assert callback.pruned and len(history.history["loss"]) == 2
    x, y = tiny_data()
    np.testing.assert_array_equal(callback.right, model.predict(x, verbose=0).argmax(axis=1) == y)
    reported = study.trials[0].intermediate_values
    assert sorted(reported) == [1, 2] and reported[2] == callback.right.mean()


def test_a_trial_that_reached_its_last_epoch_is_not_pruned():
    study, callback, _, _ = fit_scored(PruneFrom(3), epochs=3)
    assert not callback.pruned and sorted(study.trials[0].intermediate_values) == [1, 2, 3]


def test_the_default_is_never_pruned_but_ranks_with_the_challengers():
    study, callback, _, _ = fit_scored(PruneFrom(1), epochs=3, default=True)
    assert not callback.pruned and sorted(study.trials[0].intermediate_values) == [1, 2, 3]
    halving = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study, _, _, _ = fit_scored(halving, epochs=3, default=True)
    assert "completed_rung_0" in study.trials[0].system_attrs  # what challengers are ranked with


def fake_objective(trial):
    """Stands for training: a made-up accuracy on 1,000 images, rising with x."""
    x = trial.suggest_int("x", 0, 99)
    trial.set_user_attr("worker", "here:1")
    trial.set_user_attr("spec", {"x": x})
    trial.set_user_attr("multiply_adds", x // 10)
    trial.set_user_attr("microseconds_per_image", float(x))
    right = np.arange(1000) < 900 + x
    trial.set_user_attr("right", objectives.pack(right))
    objectives._record(trial, int(right.sum()), 1000, 2, 0.0)
    if x < 20:
        raise optuna.TrialPruned()
    return (900 + x) / 1000


def test_the_default_is_the_first_trial_and_the_budget_counts_every_draw(tmp_path):
    search, space = settings({"epochs": 2}, optuna={"sampler": "qmc", "startup_trials": 2, "pruner": None})
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = studies.open_study("s", url, search, space, seed=0)
    [waiting] = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert waiting.number == 0 and waiting.system_attrs["fixed_params"] == spaces.default_values(space)
    assert waiting.user_attrs == {"default": True}
    studies.optimize(study, fake_objective, 7)
    assert len(study.trials) == 7 and len(studies.counted(study.trials)) == 7  # no draw thrown away
    assert study.trials[0].user_attrs["default"] and not any(
        t.user_attrs.get("default") for t in study.trials[1:]
    )
    # full: a second process runs none, and enqueues no second default
    studies.optimize(studies.open_study("s", url, search, space, seed=0), fake_objective, 7)
    assert len(study.get_trials()) == 7
    again = studies.open_study("t", url, search, space, seed=0)
    studies.optimize(again, fake_objective, 7)
    assert [t.params for t in again.trials] == [t.params for t in study.trials]  # seeded: the same trials


def test_the_trial_table_gives_intervals_states_and_the_kept_trial():
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    study.enqueue_trial({"x": 50}, user_attrs={"default": True})
    for _ in range(12):
        study.optimize(fake_objective, n_trials=1)
    study.add_trial(
        optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={"worker": "w:2"})
    )
    number, decision = results.decide(study, "optuna", 0.05)
    table = results.trial_table(study, number)
    assert len(table) == 13 and table["trial"].tolist() == list(range(13))
    assert table["default"].tolist() == [True] + [False] * 12
    kept = table.loc[table["kept"]].iloc[0]
    assert table["kept"].sum() == 1 and kept["trial"] == number
    assert (kept["accuracy_low"], kept["accuracy_high"]) == wilson_interval(
        round(kept["accuracy"] * 1000), 1000
    )
    assert table["state"].iloc[-1] == "FAIL" and np.isnan(table["accuracy"].iloc[-1])
    summary = results.summary(study, number, decision)
    assert summary["trials"] == 12 and summary["fail"] == 1 and summary["complete"] + summary["pruned"] == 12
    assert summary["kept_trial"] == number and summary["decision"] == decision


def study_of(default_right, challengers):
    """A study whose default gets `default_right` right and whose complete challengers
    are given as (right, microseconds per image)."""
    study = optuna.create_study(direction="maximize")
    for number, (right, cost) in enumerate([(default_right, 100.0), *challengers]):
        right = np.asarray(right, bool)
        study.add_trial(
            optuna.trial.create_trial(
                value=right.mean(),
                intermediate_values={1: right.mean()},
                user_attrs={
                    "default": number == 0,
                    "right": objectives.pack(right),
                    "correct": int(right.sum()),
                    "images": len(right),
                    "microseconds_per_image": cost,
                },
            )
        )
    return study


def images_right(wrong: list[int], images: int = 10000) -> np.ndarray:
    right = np.ones(images, bool)
    right[wrong] = False
    return right


def test_a_challenger_better_within_the_noise_does_not_replace_the_default():
    # 9,900 against 9,910 right of 10,000: 0.1 points more, 40 images it alone gets right, 30 it
    # alone gets wrong
    default, challenger = images_right(range(100)), images_right(range(40, 130))
    kept, decision = results.decide(study_of(default, [(challenger, 200.0)]), "optuna", 0.05)
    assert kept == 0 and decision["kept"] == "default" and decision["outcome"] == "a tie, so default stays"
    assert decision["candidates"]["default"] == {
        "right": 9900,
        "accuracy": 0.99,
        "only_right": 30,
        "cost": 100.0,
        "kept": True,
        "trial": 0,
    }
    assert decision["candidates"]["challenger"]["only_right"] == 40
    assert decision["p_value"] == pytest.approx(scipy.stats.binomtest(40, 70).pvalue)
    assert decision["p_value"] > 0.2
    assert decision["cost"] == results.SEARCH_COST
    # 10 more right and none fewer is beyond the noise (p = 2 / 2**10)
    kept, beyond = results.decide(study_of(default, [(images_right(range(90)), 200.0)]), "optuna", 0.05)
    assert kept == 1 and beyond["p_value"] == pytest.approx(2 * 0.5**10)


def test_a_challenger_better_beyond_the_noise_replaces_the_default():
    default, challenger = images_right(range(100)), images_right(range(60))  # 40 more right, none fewer
    kept, decision = results.decide(
        study_of(default, [(images_right(range(95)), 50.0), (challenger, 200.0)]), "optuna", 0.05
    )
    assert kept == 2 and decision["outcome"] == "challenger is better beyond the noise"
    assert decision["candidates"]["challenger"]["trial"] == 2 and decision["p_value"] < 1e-9


def test_the_same_accuracy_on_other_images_is_a_tie_that_goes_to_the_cheaper():
    default, challenger = images_right(range(100)), images_right(range(50, 150))
    assert results.decide(study_of(default, [(challenger, 50.0)]), "optuna", 0.05)[0] == 1  # cheaper
    assert results.decide(study_of(default, [(challenger, 100.0)]), "optuna", 0.05)[0] == 0  # equal
    kept, worse = results.decide(study_of(default, [(images_right(range(300)), 10.0)]), "optuna", 0.05)
    assert kept == 0 and worse["outcome"] == "default is better beyond the noise"


def test_with_no_complete_challenger_the_default_stays():
    kept, decision = results.decide(study_of(images_right(range(100)), []), "optuna", 0.05)
    assert kept == 0 and decision == {"outcome": "the default stayed: no other trial completed"}


def test_rank_correlations_say_how_well_each_early_epoch_ranks_the_trials():
    study = optuna.create_study(direction="maximize")
    for early, late, score in [(0.1, 0.5, 0.5), (0.2, 0.4, 0.4), (0.3, 0.6, 0.6), (0.4, 0.7, 0.7)]:
        study.add_trial(
            optuna.trial.create_trial(value=score, intermediate_values={1: early, 2: late, 3: score})
        )
    assert results.rank_correlations(study) == {"1": 0.8, "2": 1.0}


def test_a_real_trial_trains_reports_and_records(monkeypatch):
    search, space = settings(
        {
            "epochs": 3,
            "batch_size": 16,
            "model": {**MLP, "learning_rate": 0.05},
            "search": {"width": {"low": 8, "high": 16}},
        },
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
        and trial.params["width"] in (8, 16)
    )
    right = objectives.unpack(trial.user_attrs["right"], 60)  # which images the model gets right
    assert right.dtype == bool and right.sum() == trial.user_attrs["correct"]
    assert trial.user_attrs["microseconds_per_image"] > 0


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
        {"batch_size": 8, "grid": {"width": [8, 16, 32]}, "model": MLP},
        method="grid_cv",
        grid_cv={"folds": 2, "epochs": 1, "early_stopping_patience": 1},
    )
    assert studies.n_trials(search, space) == 3
    study = studies.open_study("grid", f"sqlite:///{tmp_path / 'study.db'}", search, space, seed=0)
    x, y = np.zeros((200, 6, 6), np.float32), np.repeat(np.arange(2), 100)
    studies.optimize(
        study, objectives.cross_validation_objective(search, space, x, y, seed=0, num_classes=2), 3
    )
    kept, _ = results.decide(study, search.method, 0.05)
    table = results.trial_table(study, kept).set_index("width")
    assert sorted(table.index) == [8, 16, 32] and study.best_trial.params == {"width": 16}
    assert table.loc[16, "accuracy"] == 196 / 200 and table.loc[16, ["fold_1", "fold_2"]].tolist() == [
        0.97,
        0.99,
    ]
    assert table.loc[16, "epochs"] == 3  # the most any fold trained
    assert table.loc[8, "fold_std"] == pytest.approx(np.std([0.80, 0.84], ddof=1))
    assert table.loc[16, "kept"] and table["kept"].sum() == 1
