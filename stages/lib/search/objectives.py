"""What one cv_search trial does. method optuna: train on the search images, report
each epoch's validation accuracy to the study's pruner, and keep which validation
images the trained model gets right (for the paired test that decides whether it
replaces the default). method grid_cv: score by stratified k-fold cross-validation
(notebook 003's protocol)."""

import os
import socket
import time

import numpy as np
import optuna
from sklearn.model_selection import StratifiedKFold, train_test_split

from stages.lib.core.costs import microseconds_per_image, multiply_adds
from stages.lib.core.model_files import right_answers
from stages.lib.core.search_config import CvSearch, Space
from stages.lib.core.specs import ModelSpec
from stages.lib.search.spaces import configure, suggest
from stages.lib.training.fitting import fit, new_model, train


def _start(trial, search: CvSearch, space: Space, input_shape, num_classes: int) -> ModelSpec:
    """The trial's spec, its cost and worker recorded."""
    if search.method == "grid_cv":
        values = {key: trial.suggest_categorical(key, choices) for key, choices in space.grid.items()}
    else:
        values = suggest(trial, space)
    spec = configure(space.model, values)
    trial.set_user_attr("spec", spec.model_dump())
    trial.set_user_attr("multiply_adds", multiply_adds(spec, input_shape, num_classes))
    trial.set_user_attr(
        "microseconds_per_image",
        round(microseconds_per_image(spec, input_shape, num_classes, space.batch_size), 1),
    )
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    return spec


def _record(trial, correct: int, images: int, epochs: int, started: float) -> float:
    trial.set_user_attr("correct", correct)
    trial.set_user_attr("images", images)
    trial.set_user_attr("epochs", epochs)
    trial.set_user_attr("seconds", round(time.perf_counter() - started, 1))
    return correct / images


def scoring_callback(trial, validation_data):
    """A Keras callback that, after each epoch, scores the model on `validation_data`
    (`.right`: which images it gets right), reports the accuracy to `trial` and stops
    training once the pruner says so (`.pruned` is then True); a trial that reached its
    last epoch is complete, whatever the pruner would say. The default is never pruned
    (every challenger is compared with it, trained in full), but the pruner is asked
    all the same: that records the default's accuracy among those the challengers are
    ranked with at that epoch."""
    import keras

    x, y = validation_data
    prunable = not trial.user_attrs.get("default")

    class Scoring(keras.callbacks.Callback):
        pruned, right = False, None

        def on_epoch_end(self, epoch, logs=None):
            self.right = right_answers(self.model, x, y)
            logs["val_accuracy"] = accuracy = float(self.right.mean())  # on the epoch's log line
            trial.report(accuracy, epoch + 1)
            if trial.should_prune() and prunable and epoch + 1 < self.params["epochs"]:
                self.pruned, self.model.stop_training = True, True

    return Scoring()


def trial_objective(
    search: CvSearch, space: Space, train_data, validation_data, *, seed: int, num_classes: int
):
    """method optuna: train on `train_data` for the space's epochs, scored on
    `validation_data` after each epoch and pruned on it; the value is the trained
    model's validation accuracy, and user attribute `right` says which validation
    images it classifies correctly."""
    import keras

    def objective(trial):
        spec = _start(trial, search, space, train_data[0].shape[1:], num_classes)
        started = time.perf_counter()
        keras.backend.clear_session()
        epochs, batch_size = space.epochs, space.batch_size
        model = new_model(spec, train_data[0], num_classes, epochs=epochs, batch_size=batch_size, seed=seed)
        scoring = scoring_callback(trial, validation_data)
        history = fit(
            model,
            spec.augmentation,
            train_data,
            None,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            callbacks=[scoring],
        )
        trial.set_user_attr("right", pack(scoring.right))
        accuracy = _record(trial, int(scoring.right.sum()), len(scoring.right), len(history["loss"]), started)
        if scoring.pruned:
            raise optuna.TrialPruned()
        return accuracy

    return objective


def pack(right: np.ndarray) -> str:
    """Which images a model got right, as hexadecimal bits (a study attribute is JSON)."""
    return np.packbits(right).tobytes().hex()


def unpack(packed: str, images: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes.fromhex(packed), np.uint8))[:images].astype(bool)


def cross_validation_objective(
    search: CvSearch, space: Space, x: np.ndarray, y: np.ndarray, *, seed: int, num_classes: int
):
    """method grid_cv: the pooled accuracy of stratified k-fold cross-validation; each
    fold's accuracy and the std across folds are kept as user attributes."""

    def objective(trial):
        spec = _start(trial, search, space, x.shape[1:], num_classes)
        started = time.perf_counter()
        folds = cross_validate(
            spec,
            x,
            y,
            batch_size=space.batch_size,
            seed=seed,
            num_classes=num_classes,
            **search.grid_cv.model_dump(),
        )
        scores = [correct / images for correct, images, _ in folds]
        trial.set_user_attr("folds", scores)
        trial.set_user_attr("std", float(np.std(scores, ddof=1)))
        return _record(
            trial,
            sum(correct for correct, _, _ in folds),
            len(y),
            max(epochs for _, _, epochs in folds),
            started,
        )

    return objective


def cross_validate(spec, x, y, *, folds, epochs, batch_size, early_stopping_patience, seed, num_classes):
    """(correct, images, epochs trained) of each of `folds` stratified folds. Each fold's model stops
    early on a stratified tenth of its own training images, never on the fold's
    validation images, which only score it."""
    import keras

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    results = []
    for train_index, validation_index in splitter.split(x, y):
        fit_index, stop_index = train_test_split(
            train_index, test_size=0.1, stratify=y[train_index], random_state=seed
        )
        stop = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=early_stopping_patience, restore_best_weights=True
        )
        model, history = train(
            spec,
            (x[fit_index], y[fit_index]),
            (x[stop_index], y[stop_index]),
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            num_classes=num_classes,
            callbacks=[stop],
        )
        predicted = model.predict(x[validation_index], batch_size=1024, verbose=0).argmax(axis=1)
        results.append(
            (
                int((predicted == y[validation_index]).sum()),
                len(validation_index),
                len(history["val_accuracy"]),
            )
        )
        keras.backend.clear_session()
    return results
