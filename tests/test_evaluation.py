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


class Predicts:
    """A stand-in for a trained model that predicts the given classes."""

    def __init__(self, predicted: np.ndarray, num_classes: int = 10, name: str = "model"):
        self.probabilities = np.eye(num_classes, dtype=np.float32)[predicted]
        self.name = name

    def predict(self, x, batch_size, verbose):
        assert len(x) == len(self.probabilities)
        return self.probabilities


def holdout_predictions(y: np.ndarray, right: np.ndarray, name: str = "model") -> Predicts:
    return Predicts(np.where(right, y, (y + 1) % 10), name=name)


# What each space's duel.json says its kept model costs (seconds of train_final, estimated).
DUELS = {
    "mlp": {"kept": "default", "candidates": {"default": {"cost": 94.0}}},
    "cnn": {"kept": "challenger", "candidates": {"default": {"cost": 232.0}, "challenger": {"cost": 240.0}}},
}


def test_final_is_chosen_by_the_paired_test_where_the_intervals_overlap():
    """Issue 26's measured case: on 6,000 holdout images cnn_final got 5,963 right and
    mlp_final 5,936, 42 only the CNN and 15 only the MLP. The 95% intervals overlap (the
    old rule kept the cheaper mlp_final); McNemar's test says the CNN is better."""
    from stages.lib.core.intervals import wilson_interval
    from stages.lib.report.final_choice import choose_final

    y = np.arange(6000) % 10
    mlp_right, cnn_right = np.ones(6000, bool), np.ones(6000, bool)
    mlp_right[:22] = cnn_right[:22] = False
    cnn_right[22:37] = False  # 15 only the MLP gets right
    mlp_right[37:79] = False  # 42 only the CNN
    assert wilson_interval(5963, 6000)[0] < wilson_interval(5936, 6000)[1]
    finalists = {"mlp": holdout_predictions(y, mlp_right), "cnn": holdout_predictions(y, cnn_right)}
    averaged_right = cnn_right.copy()
    averaged_right[:5] = True  # 5 more than the CNN: p = 0.062, not better beyond the noise
    averaged = holdout_predictions(y, averaged_right, "finalists")
    decision = choose_final(finalists, averaged, (np.zeros((6000, 28, 28)), y), DUELS, 0.05)
    assert decision["kept"] == "cnn_final" and decision["p_value"] == pytest.approx(0.00046, abs=1e-5)
    assert (
        decision["outcome"] == "cnn_final is better beyond the noise; their average is not better than "
        "cnn_final beyond the noise, so it stays"
    )
    assert decision["candidates"]["finalists"] == {
        "right": 5968,
        "accuracy": 5968 / 6000,
        "cost": 94.0 + 240.0,  # both paid already
        "kept": False,
        "members": ["mlp_final", "cnn_final"],
    }
    assert decision["ensemble"]["compared_with"] == "cnn_final"
    assert decision["ensemble"]["only_right"] == {"cnn_final": 0, "finalists": 5}
    assert decision["candidates"]["mlp_final"] == {
        "right": 5936,
        "accuracy": 5936 / 6000,
        "only_right": 15,
        "cost": 94.0,
        "kept": False,
    }
    assert decision["candidates"]["cnn_final"] == {
        "right": 5963,
        "accuracy": 5963 / 6000,
        "only_right": 42,
        "cost": 240.0,
        "kept": True,
    }
    averaged_right[:22] = True  # 22 more than the CNN: better beyond the noise, so the average
    averaged = holdout_predictions(y, averaged_right, "finalists")
    decision = choose_final(finalists, averaged, (np.zeros((6000, 28, 28)), y), DUELS, 0.05)
    assert decision["kept"] == "finalists" and decision["candidates"]["finalists"]["kept"]


def test_a_tie_on_the_holdout_images_keeps_both_finalists_averaged_unless_the_average_is_worse():
    from stages.lib.report.final_choice import choose_final

    y = np.arange(6000) % 10
    holdout = (np.zeros((6000, 28, 28)), y)
    mlp_right, cnn_right = np.ones(6000, bool), np.ones(6000, bool)
    mlp_right[:30], cnn_right[20:40] = False, False  # 20 only the CNN, 10 only the MLP: p = 0.1
    finalists = {"mlp": holdout_predictions(y, mlp_right), "cnn": holdout_predictions(y, cnn_right)}
    averaged_right = np.arange(6000) >= 34  # 4 fewer than the MLP: within the noise
    averaged = holdout_predictions(y, averaged_right, "finalists")
    decision = choose_final(finalists, averaged, holdout, DUELS, 0.05)
    assert decision["kept"] == "finalists"
    assert decision["outcome"] == (
        "a tie, so mlp_final stays; mlp_final is not better than their average beyond the noise, so both "
        "are kept, averaged"
    )
    assert [name for name, c in decision["candidates"].items() if c["kept"]] == ["finalists"]
    worse = mlp_right & cnn_right  # 10 fewer than the MLP, which the pair's rule keeps: p = 0.002
    decision = choose_final(finalists, holdout_predictions(y, worse, "finalists"), holdout, DUELS, 0.05)
    assert decision["kept"] == "mlp_final"
    assert decision["outcome"] == (
        "a tie, so mlp_final stays; mlp_final is better than their average beyond the noise, so it stays"
    )
    # at 0.2 the CNN wins (p = 0.1); the average is not better than it
    assert choose_final(finalists, averaged, holdout, DUELS, 0.2)["kept"] == "cnn_final"
