import numpy as np
import pytest

from stages.lib.core.errors import ParamsError
from stages.lib.data.splitting import balanced_subset, partition, split_indices

LABELS = np.repeat(np.arange(10), 30)  # 300 labels, sorted by class


def test_last_is_the_notebook_protocol():
    train, validation = split_indices(np.zeros(60000), 10000, "last", seed=0)
    np.testing.assert_array_equal(train, np.arange(50000))
    np.testing.assert_array_equal(validation, np.arange(50000, 60000))


def test_stratified_keeps_class_shares_and_is_seeded():
    train, validation = split_indices(LABELS, 50, "stratified", seed=1)
    assert len(train) == 250 and len(validation) == 50
    assert set(train).isdisjoint(validation) and set(train) | set(validation) == set(range(300))
    assert np.bincount(LABELS[validation]).tolist() == [5] * 10
    again, _ = split_indices(LABELS, 50, "stratified", seed=1)
    other, _ = split_indices(LABELS, 50, "stratified", seed=2)
    np.testing.assert_array_equal(train, again)
    assert not np.array_equal(train, other)


@pytest.mark.parametrize("size", [0, 300, 301])
def test_validation_size_must_leave_both_parts(size):
    with pytest.raises(
        ParamsError, match=f"validation size {size} must be between 1 and 299: the data has 300"
    ):
        split_indices(LABELS, size, "last", seed=0)


def test_stratify_too_small_is_a_params_error():
    with pytest.raises(ParamsError, match="cannot stratify a validation set of 5 of 300"):
        split_indices(LABELS, 5, "stratified", seed=0)


@pytest.mark.parametrize("method", ["last", "stratified"])
def test_the_three_parts_are_disjoint_and_cover_the_images(method):
    """No image that chooses hyperparameters (validation) or trains the trials (search)
    is among the holdout images that choose `final`."""
    parts = partition(LABELS, validation_size=60, holdout_size=30, method=method, seed=3)
    assert [len(parts[name]) for name in ("search", "holdout", "validation")] == [210, 30, 60]
    assert set(parts["holdout"]).isdisjoint(parts["validation"])
    assert set(parts["holdout"]).isdisjoint(parts["search"])
    assert set(parts["search"]).isdisjoint(parts["validation"])
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(300))
    if method == "last":  # notebook 000: the last 60 validate; the last 30 before them are held out
        np.testing.assert_array_equal(parts["validation"], np.arange(240, 300))
        np.testing.assert_array_equal(parts["holdout"], np.arange(210, 240))
    else:
        assert np.bincount(LABELS[parts["holdout"]]).tolist() == [3] * 10


def test_balanced_subset_keeps_class_shares():
    chosen = balanced_subset(LABELS, 100, seed=0)
    assert len(chosen) == 100 and np.bincount(LABELS[chosen]).tolist() == [10] * 10
    np.testing.assert_array_equal(chosen, balanced_subset(LABELS, 100, seed=0))
    np.testing.assert_array_equal(balanced_subset(LABELS, 1000, seed=0), np.arange(300))
