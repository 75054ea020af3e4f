"""Ranking the images whose given label a model disputes, by cleanlab's label-quality
score (for the default method, self-confidence: the model's probability for the given
label; the lower, the more doubtful). inspect ranks the training images, evaluate the
test images."""

import numpy as np
import pandas as pd


def ranked(labels: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray) -> pd.DataFrame:
    """The flagged images (a boolean mask), most doubtful first: index, given and suggested
    class (numbers), score."""
    from cleanlab.rank import get_label_quality_scores

    scores = get_label_quality_scores(labels, probabilities)
    index = np.flatnonzero(flagged)
    frame = pd.DataFrame(
        {
            "index": index,
            "given": labels[index],
            "suggested": probabilities[index].argmax(axis=1),
            "score": scores[index],
        }
    )
    return frame.sort_values(["score", "index"], kind="stable").reset_index(drop=True)
