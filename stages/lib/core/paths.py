"""Where each stage reads and writes; dvc.yaml declares the same paths."""

from pathlib import Path

RAW_DIR = Path("data/raw")
PREPARED_DIR = Path("data/prepared")
SPLIT_DIR = Path("data/split")
MODELS_DIR = Path("models")
METRICS_DIR = Path("metrics")
# preprocess's description of the dataset: class names, image size, colour, preparation.
DATASET_INFO = PREPARED_DIR / "dataset.json"
# preprocess's groups of copies (exact and near) among the train and test images.
DUPLICATES = PREPARED_DIR / "duplicates.json"
# inspect's list of training images that split leaves out (inspect.drop; none by default).
DROPPED = Path("data/inspect/dropped.json")
INSPECT_DIR = METRICS_DIR / "inspect"

# The model families searched and trained to the end: cv_search.spaces and
# train_final's sections name them, and dvc.yaml's foreach stages run one of each.
FINALISTS = ("mlp", "cnn")
# Every model the pipeline trains, by the name of its file (model_path); a finalist may
# be two models trained in full and averaged (where train_final's duel tied).
TRAINED_MODELS = ("baseline", "big", *(f"{space}_final" for space in FINALISTS))
# The finalists averaged, which evaluate builds as a third candidate for `final`;
# `final` is one of the finalists or this (metrics/final.json says which).
AVERAGED_FINALISTS = "finalists"
MODELS = (*TRAINED_MODELS, AVERAGED_FINALISTS)
# Where evaluate records its choice of `final` between the finalists.
FINAL_CHOICE = METRICS_DIR / "final.json"
# Where bless records whether `final` may ship (stage bless).
BLESSING = METRICS_DIR / "bless.json"
# Where the export stage writes each exported model's formats, its model card and its
# description (the artifact dvc.yaml declares and GTO versions, by this name).
EXPORT_DIR = MODELS_DIR / "export"
RELEASE_ARTIFACT = "classifier"


def model_path(name: str) -> Path:
    return MODELS_DIR / f"{name}.keras"


BUDGET = METRICS_DIR / "budget.json"


def search_space_path(space: str) -> Path:
    """The search space as stage budget fitted it to what train_final may spend."""
    return MODELS_DIR / "search_space" / f"{space}.json"


def best_config_path(space: str) -> Path:
    return MODELS_DIR / "best_config" / f"{space}.json"


def training_log_dir(model: str) -> Path:
    """Where the stage that trained `model` (baseline, big or SPACE_final) keeps its
    dvclive metrics.json and plots/: metrics/train_MODEL or metrics/train_final/SPACE."""
    if model.endswith("_final"):
        return METRICS_DIR / "train_final" / model.removesuffix("_final")
    return METRICS_DIR / f"train_{model}"


def duel_path(space: str) -> Path:
    """Where train_final records the space's duel (or why there was none)."""
    return training_log_dir(f"{space}_final") / "duel.json"
