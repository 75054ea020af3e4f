import pytest

from stages.lib.core.intervals import wilson_interval


def test_wilson_interval():
    low, high = wilson_interval(9773, 10000)  # the 9-image decision: 9773 against 9764
    assert (round(low, 4), round(high, 4)) == (0.9742, 0.9800)
    assert wilson_interval(9764, 10000)[1] > low  # overlapping: a tie
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12) and wilson_interval(10, 10)[
        1
    ] == pytest.approx(1.0)
    assert wilson_interval(99, 100, confidence=0.99)[0] < wilson_interval(99, 100)[0]  # wider at 99%
    with pytest.raises(ValueError, match="0 <= correct <= total"):
        wilson_interval(11, 10)
