import numpy as np
import pytest

from stages.lib.errors import ParamsError
from stages.lib.splitting import split_indices

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
    with pytest.raises(ParamsError, match=f"validation size {size} must be between 1 and 299: the data has 300"):
        split_indices(LABELS, size, "last", seed=0)


def test_stratify_too_small_is_a_params_error():
    with pytest.raises(ParamsError, match="cannot stratify a validation set of 5 of 300"):
        split_indices(LABELS, 5, "stratified", seed=0)
