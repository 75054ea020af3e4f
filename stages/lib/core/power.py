"""What a decision could have seen: the smallest difference in accuracy that McNemar's
exact test, on the images a decision scored, would have found beyond the noise with a
given probability (its power). A tie says only that the difference, if any, is likely
smaller than that."""

import numpy as np
from scipy import stats

POWER = 0.8


def detectable_difference(images: int, discordant: int, significance: float, power: float = POWER):
    """The smallest difference in accuracy (a fraction of `images`) that McNemar's
    exact test at `significance` detects with probability `power`, given the
    `discordant` images (those exactly one of the two models gets right): the test
    conditions on them, and a difference of d images means the better model is right
    on (discordant + d) / 2 of them. None where no split of so few discordant images
    could be beyond the noise (e.g. 5 or fewer at 0.05)."""
    if discordant == 0:
        return None
    counts = np.arange(discordant + 1)
    # The two-sided exact p-value of each count, as scipy's binomtest gives it at 1/2.
    tails = np.minimum(stats.binom.cdf(counts, discordant, 0.5), stats.binom.sf(counts - 1, discordant, 0.5))
    beyond = np.minimum(1.0, 2 * tails) < significance
    if not beyond.any():
        return None
    low, high = 0.5, 1.0  # the share of discordant images the better model gets right
    for _ in range(60):
        share = (low + high) / 2
        if stats.binom.pmf(counts, discordant, share)[beyond].sum() >= power:
            high = share
        else:
            low = share
    return float((2 * high - 1) * discordant / images)


def power_record(images: int, discordant: int, significance: float) -> dict:
    """detectable_difference() as a decision records it."""
    return {
        "power": POWER,
        "discordant": discordant,
        "detectable_difference": detectable_difference(images, discordant, significance),
    }


def power_sentence(images: int, power: dict) -> str:
    """The record in a sentence: 'At 80% power, this could see differences of 0.25 points
    (15 of the 6,000 images) or more; smaller ones read as a tie.'"""
    difference = power["detectable_difference"]
    if power["discordant"] == 0:
        return "The two got the same images right."
    if difference is None:
        return f"Only {power['discordant']} images told the two apart, too few for any difference to show."
    return (
        f"At {100 * power['power']:.0f}% power, this could see differences of {100 * difference:.2g} points "
        f"({round(difference * images):,} of the {images:,} images) or more; smaller ones read as a tie."
    )
