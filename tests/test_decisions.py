"""The one rule of every choice between two models (stages.lib.core.decisions)."""

import numpy as np
import pytest
import scipy.stats

from stages.lib.core.decisions import Candidate, alone, record, sentence
from stages.lib.core.intervals import wilson_interval
from stages.lib.core.power import detectable_difference


def scored(images: int, both_wrong: int, only_first: int, only_second: int) -> tuple[np.ndarray, np.ndarray]:
    """Which of `images` images two models get right: `both_wrong` wrong for both, then
    `only_first` right for the first alone, then `only_second` for the second alone."""
    first, second = np.ones(images, bool), np.ones(images, bool)
    first[:both_wrong] = second[:both_wrong] = False
    second[both_wrong : both_wrong + only_first] = False
    first[both_wrong + only_first : both_wrong + only_first + only_second] = False
    return first, second


def test_the_measured_case_mcnemar_picks_the_cnn_where_the_intervals_overlap():
    """Issue 26, measured on a Zen 4: on 6,000 holdout images cnn_final got 5,963 right
    and mlp_final 5,936; 42 only the CNN, 15 only the MLP. The 95% intervals overlap,
    so the old rule called it a tie and kept the cheaper mlp_final; the paired test
    says the CNN is better (p = 0.00046)."""
    mlp, cnn = scored(6000, both_wrong=22, only_first=15, only_second=42)
    assert (mlp.sum(), cnn.sum()) == (5936, 5963)
    mlp_interval, cnn_interval = wilson_interval(5936, 6000), wilson_interval(5963, 6000)
    assert cnn_interval[0] < mlp_interval[1]  # the intervals overlap
    decision = record(
        Candidate("mlp_final", mlp, 94.0),
        Candidate("cnn_final", cnn, 232.0),
        significance=0.05,
        cost="estimated seconds",
    )
    assert decision["kept"] == "cnn_final" and decision["outcome"] == "cnn_final is better beyond the noise"
    assert decision["p_value"] == pytest.approx(0.00046, abs=0.00001)
    assert decision["p_value"] == scipy.stats.binomtest(42, 57, 0.5).pvalue
    assert decision["candidates"] == {
        "mlp_final": {"right": 5936, "accuracy": 5936 / 6000, "only_right": 15, "cost": 94.0, "kept": False},
        "cnn_final": {"right": 5963, "accuracy": 5963 / 6000, "only_right": 42, "cost": 232.0, "kept": True},
    }
    assert decision["power"] == {
        "power": 0.8,
        "discordant": 57,
        "detectable_difference": detectable_difference(6000, 57, 0.05),
    }
    assert decision["images"] == 6000 and decision["significance"] == 0.05
    assert decision["cost"] == "estimated seconds" and decision["test"] == "McNemar's exact test"


@pytest.mark.parametrize(
    "only_first, only_second, kept, outcome",
    [
        # 10 against 0 discordant: p = 2 / 2**10 = 0.002, just beyond the noise
        (0, 10, "challenger", "challenger is better beyond the noise"),
        # 1 against 10: p = 0.012
        (1, 10, "challenger", "challenger is better beyond the noise"),
        # 2 against 9: p = 0.065, within the noise at 0.05: the cheaper stays
        (2, 9, "default", "a tie, so default stays"),
        # a challenger worse beyond the noise never replaces, even if cheaper
        (10, 0, "default", "default is better beyond the noise"),
    ],
)
def test_nearly_equal_models_one_just_beyond_the_noise_and_one_within_it(
    only_first, only_second, kept, outcome
):
    """Two models on 10,000 images, 0.01 points apart or less: only the discordant
    images count, not how the accuracies round."""
    default, challenger = scored(10000, both_wrong=80, only_first=only_first, only_second=only_second)
    decision = record(
        Candidate("default", default, 100.0),
        Candidate("challenger", challenger, 120.0),
        significance=0.05,
        cost="c",
    )
    assert decision["p_value"] == pytest.approx(
        scipy.stats.binomtest(only_second, only_first + only_second).pvalue
    )
    assert (decision["kept"], decision["outcome"]) == (kept, outcome)


def test_a_tie_goes_to_the_cheaper_and_on_equal_cost_to_the_first():
    first, second = scored(1000, both_wrong=10, only_first=5, only_second=6)
    cheaper_second = record(
        Candidate("a", first, 2.0), Candidate("b", second, 1.0), significance=0.05, cost="c"
    )
    assert (cheaper_second["kept"], cheaper_second["outcome"]) == ("b", "a tie, so the cheaper b is kept")
    assert (
        record(Candidate("a", first, 1.0), Candidate("b", second, 2.0), significance=0.05, cost="c")["kept"]
        == "a"
    )
    equal = record(Candidate("a", first, 1.0), Candidate("b", second, 1.0), significance=0.05, cost="c")
    assert (equal["kept"], equal["outcome"]) == ("a", "a tie, so a stays (equal cost)")
    same = record(Candidate("a", first, 2.0), Candidate("b", first, 1.0), significance=0.05, cost="c")
    assert same["p_value"] == 1.0 and same["kept"] == "b"  # no discordant image: a tie


def test_the_significance_is_the_level_of_the_test():
    default, challenger = scored(10000, both_wrong=80, only_first=1, only_second=10)  # p = 0.012
    for significance, kept in ((0.05, "challenger"), (0.01, "default")):
        decision = record(
            Candidate("default", default, 1.0),
            Candidate("challenger", challenger, 2.0),
            significance=significance,
            cost="c",
        )
        assert decision["kept"] == kept


def test_models_scored_on_other_images_are_refused():
    with pytest.raises(ValueError, match="must be scored on the same images"):
        record(
            Candidate("a", np.ones(10, bool), 1.0),
            Candidate("b", np.ones(11, bool), 1.0),
            significance=0.05,
            cost="c",
        )


def test_the_sentence_quotes_the_counts_the_test_and_the_outcome():
    mlp, cnn = scored(6000, both_wrong=22, only_first=15, only_second=42)
    decision = record(
        Candidate("mlp_final", mlp, 94.0),
        Candidate("cnn_final", cnn, 232.4),
        significance=0.05,
        cost="seconds",
    )
    assert sentence(decision, "holdout images") == (
        "On the 6,000 holdout images, mlp_final got 5,936 right (0.9893) and cnn_final 5,963 (0.9938); "
        "15 only mlp_final got right and 42 only cnn_final (McNemar's exact test: p = 0.00046, "
        "significance 0.05; cost: seconds, 94 against 232.4): cnn_final is better beyond the noise. "
        "At 80% power, this could see differences of 0.36 points (22 of the 6,000 images) or more; "
        "smaller ones read as a tie."
    )


@pytest.mark.parametrize("discordant", [6, 7, 18, 28, 57, 200])
def test_the_detectable_difference_is_where_the_exact_test_reaches_80_percent_power(discordant):
    """Checked against scipy's binomtest itself: with the better model right on the share
    of the discordant images that the detectable difference means, the test finds it
    beyond the noise at least 80% of the time; a little less of a difference, less often."""
    difference = detectable_difference(800, discordant, 0.05)

    def power(share):
        return sum(
            scipy.stats.binom.pmf(k, discordant, share)
            for k in range(discordant + 1)
            if scipy.stats.binomtest(k, discordant, 0.5).pvalue < 0.05
        )

    share = (1 + difference * 800 / discordant) / 2
    assert power(share) == pytest.approx(0.8, abs=1e-6) or (discordant <= 7 and share == 1.0)
    assert power(share - 0.01) < 0.8


def test_the_issues_example_800_holdout_images_see_about_one_and_a_half_points():
    """Issue 37: the colour pictures' duel, 13 against 5 of 800 holdout images."""
    assert detectable_difference(800, 18, 0.05) == pytest.approx(0.0146, abs=1e-4)
    assert detectable_difference(800, 5, 0.05) is None  # even 5 against 0 has p = 0.0625
    assert detectable_difference(800, 0, 0.05) is None
    # more discordant images (less alike models) need a bigger difference to show
    assert detectable_difference(6000, 28, 0.05) < detectable_difference(6000, 61, 0.05)


def averaged_decision(first_only, second_only, ensemble_only, kept_only, significance=0.05):
    """default and challenger on 1,000 images (10 wrong for both, then the discordant
    ones), and their average, which gets `ensemble_only` more images right than the
    model the pair's rule keeps and `kept_only` fewer."""
    first, second = scored(
        1000, both_wrong=10 + ensemble_only, only_first=first_only, only_second=second_only
    )
    pair = record(
        Candidate("default", first, 1.0), Candidate("challenger", second, 2.0), significance=0.05, cost="c"
    )
    kept = first if pair["kept"] == "default" else second
    averaged = kept.copy()
    averaged[:ensemble_only] = True
    averaged[np.flatnonzero(kept)[:kept_only]] = False
    ensemble = Candidate("default+challenger", averaged, 3.0)
    return record(
        Candidate("default", first, 1.0),
        Candidate("challenger", second, 2.0),
        significance=significance,
        cost="c",
        ensemble=ensemble,
    )


TIE, WIN = "a tie, so default stays", "challenger is better beyond the noise"
KEPT_AFTER_TIE = (
    f"{TIE}; default is not better than their average beyond the noise, so both are kept, averaged"
)
STAYS_AFTER_WIN = f"{WIN}; their average is not better than challenger beyond the noise, so it stays"


@pytest.mark.parametrize(
    "first_only, second_only, ensemble_only, kept_only, kept, outcome",
    [
        # after a tie: the average, even no better, unless the kept one beats it beyond the noise
        (5, 6, 0, 0, "default+challenger", KEPT_AFTER_TIE),
        (5, 6, 3, 1, "default+challenger", KEPT_AFTER_TIE),
        (5, 6, 1, 7, "default+challenger", KEPT_AFTER_TIE),
        (
            5,
            6,
            0,
            10,
            "default",
            f"{TIE}; default is better than their average beyond the noise, so it stays",
        ),
        # after a win: the average only if better than the winner beyond the noise
        (0, 12, 0, 0, "challenger", STAYS_AFTER_WIN),
        (0, 12, 5, 0, "challenger", STAYS_AFTER_WIN),
        (
            0,
            12,
            10,
            0,
            "default+challenger",
            f"{WIN}; their average is better than challenger beyond the noise, so both are kept, averaged",
        ),
    ],
)
def test_the_average_of_two_models_trained_in_full(
    first_only, second_only, ensemble_only, kept_only, kept, outcome
):
    decision = averaged_decision(first_only, second_only, ensemble_only, kept_only)
    assert (decision["kept"], decision["outcome"]) == (kept, outcome)
    assert [name for name, c in decision["candidates"].items() if c["kept"]] == [kept]
    averaged = decision["candidates"]["default+challenger"]
    assert averaged["members"] == ["default", "challenger"] and averaged["cost"] == 3.0
    compared = decision["ensemble"]["compared_with"]
    assert decision["ensemble"]["only_right"] == {compared: kept_only, "default+challenger": ensemble_only}
    assert decision["ensemble"]["p_value"] == (
        scipy.stats.binomtest(ensemble_only, ensemble_only + kept_only).pvalue
        if ensemble_only + kept_only
        else 1.0
    )
    said = sentence(decision, "holdout images")
    assert said.startswith("On the 1,000 holdout images") and said.endswith(
        f"Outcome: {outcome} ({kept} is kept)."
    )


def test_a_model_kept_alone_is_recorded_with_a_decisions_fields():
    right = np.arange(10) < 7
    kept = alone(Candidate("default", right, 5.0), cost="seconds", outcome="no duel")
    assert kept == {
        "images": 10,
        "candidates": {"default": {"right": 7, "accuracy": 0.7, "cost": 5.0, "kept": True}},
        "cost": "seconds",
        "kept": "default",
        "outcome": "no duel",
    }
    paired = record(
        Candidate("default", right, 5.0), Candidate("b", right, 6.0), significance=0.05, cost="seconds"
    )
    assert kept.keys() <= paired.keys()
    assert kept["candidates"]["default"].items() <= paired["candidates"]["default"].items()
