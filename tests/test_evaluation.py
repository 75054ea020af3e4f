import math

import numpy as np
import pytest

from stages.lib.report.evaluation import confusion, per_class, random_guess, summarize

Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0])


def one_hot(labels, num_classes=3, confidence=0.8):
    probabilities = np.full((len(labels), num_classes), (1 - confidence) / (num_classes - 1))
    probabilities[np.arange(len(labels)), labels] = confidence
    return probabilities


def test_summary():
    summary = summarize(Y_TRUE, one_hot(Y_PRED))
    assert summary["accuracy"] == pytest.approx(4 / 6)
    # class 0: P 1/2 R 1/2; class 1: P 2/3 R 1; class 2: P 1 R 1/2
    assert summary["macro_precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert summary["macro_recall"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert summary["macro_f1"] == pytest.approx((1 / 2 + 0.8 + 2 / 3) / 3)
    assert summary["loss"] == pytest.approx(-(4 * math.log(0.8) + 2 * math.log(0.1)) / 6)


def test_per_class_and_confusion():
    table = per_class(Y_TRUE, Y_PRED, ["a", "b", "c", "d"])
    assert table["class"].tolist() == ["a", "b", "c", "d"]
    assert table["support"].tolist() == [2, 2, 2, 0]
    assert table["recall"].tolist() == [0.5, 1.0, 0.5, 0.0]
    matrix = confusion(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert matrix.to_numpy().tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert matrix.index.tolist() == matrix.columns.tolist() == ["a", "b", "c"]


def test_random_guess_is_chance():
    probabilities = random_guess(100000, 10, seed=0)
    y = np.random.default_rng(1).integers(10, size=100000)
    summary = summarize(y, probabilities)
    assert summary["accuracy"] == pytest.approx(0.1, abs=0.005)
    assert summary["loss"] == pytest.approx(math.log(10), abs=1e-4)
    np.testing.assert_array_equal(probabilities, random_guess(100000, 10, seed=0))


def finalists(tmp_path, monkeypatch, mlp, cnn):
    import json

    monkeypatch.chdir(tmp_path)
    for stage, accuracy in (("train_final/mlp", mlp), ("train_final/cnn", cnn), ("train_big", 0.98)):
        (tmp_path / "metrics" / stage).mkdir(parents=True, exist_ok=True)
        (tmp_path / "metrics" / stage / "metrics.json").write_text(
            json.dumps({"eval": {"accuracy": accuracy}})
        )
    (tmp_path / "models/best_config").mkdir(parents=True, exist_ok=True)
    (tmp_path / "models/best_config/mlp.json").write_text(
        json.dumps(
            {
                "family": "mlp",
                "hidden_units": [100],
                "dropout": 0.0,
                "optimizer": "adam",
                "learning_rate": 0.001,
            }
        )
    )
    (tmp_path / "models/best_config/cnn.json").write_text(
        json.dumps(
            {
                "family": "cnn",
                "blocks": [[8], [16]],
                "kernel_size": 5,
                "dense_units": 32,
                "dropout": 0.0,
                "optimizer": "adam",
                "learning_rate": 0.001,
            }
        )
    )


def test_final_is_the_finalist_with_the_better_holdout_accuracy_beyond_noise(tmp_path, monkeypatch):
    from stages.lib.report.final_choice import final_model, held_out_accuracy

    finalists(tmp_path, monkeypatch, mlp=0.990, cnn=0.996)
    assert held_out_accuracy("big") == 0.98 and held_out_accuracy("mlp_final") == 0.990
    name, reason = final_model(6000, (28, 28), 10)
    assert name == "cnn_final" and "beyond the noise (0.9960 against 0.9900 on 6,000 holdout images" in reason


def test_a_tie_on_the_holdout_images_goes_to_the_cheaper_finalist(tmp_path, monkeypatch):
    """0.9960 against 0.9940 on 6,000 images is 12 images: inside the noise. The mlp
    (784*100 + 100*10 = 79,400 multiply-adds) is cheaper than the cnn."""
    from stages.lib.report.final_choice import final_model

    finalists(tmp_path, monkeypatch, mlp=0.994, cnn=0.996)
    name, reason = final_model(6000, (28, 28), 10)
    assert name == "mlp_final"
    assert "a tie (0.9960 against 0.9940 on 6,000 holdout images; the 95% intervals overlap)" in reason
    assert "79,400 multiply-adds per image" in reason
