"""The training stages' per-epoch histories, as the report reads them: learning curves
from dvclive's files, and what the big model's curves say about overfitting."""

from pathlib import Path

import pandas as pd

from stages.lib.report.figures import CURVES


def learning_curves(dvclive_dir: str | Path) -> pd.DataFrame:
    """One row per epoch (1-based): training and held-out accuracy and loss, read from a
    training stage's dvclive plots folder."""
    dvclive_dir = Path(dvclive_dir) / "metrics"
    columns = {
        f"{split}_{metric}": pd.read_csv(dvclive_dir / folder / f"{metric}.tsv", sep="\t")[metric]
        for split, folder in (("train", "train"), ("held_out", "eval"))
        for metric in CURVES
    }
    frame = pd.DataFrame(columns)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame


def overfitting(curves: pd.DataFrame) -> str:
    """What the big model's curves show about overfitting, in their own numbers."""
    last, best = len(curves), int(curves["held_out_loss"].idxmin())
    text = (
        "Notebook 000's larger network (`big`) reaches training accuracy "
        f"{curves['train_accuracy'].iloc[-1]:.4f} at epoch {last}, against "
        f"{curves['held_out_accuracy'].iloc[-1]:.4f} on the validation images. "
    )
    if best == last:
        return text + f"Its validation loss was still falling at epoch {last}: it did not overfit yet."
    return text + (
        f"Its validation loss was lowest at epoch {best} ({curves.loc[best, 'held_out_loss']:.4f}) and rose "
        f"to {curves['held_out_loss'].iloc[-1]:.4f} by epoch {last}, while its training loss fell from "
        f"{curves.loc[best, 'train_loss']:.4f} to {curves['train_loss'].iloc[-1]:.4f}: after epoch {best} it "
        "learns the training images themselves, not what their classes have in common. Compare the "
        "finalists' curves below."
    )
