"""The typed model of params.yaml (see its comments for what each key does): every
stage reads its sections from load_params(), checked before any heavy work."""

from pathlib import Path
from typing import Annotated, Literal

import pydantic
from pydantic import Field

from stages.lib.core.dataset import Dataset
from stages.lib.core.errors import ParamsError
from stages.lib.core.params import CountOrFraction, Strict, checked, images_of, problem, read_yaml
from stages.lib.core.paths import MODELS
from stages.lib.core.search_config import CvSearch
from stages.lib.core.specs import ModelSpec

PARAMS_FILE = Path("params.yaml")

PositiveInt = Annotated[int, Field(ge=1)]


class Split(Strict):
    validation_size: CountOrFraction  # a fraction: of the training images
    holdout_size: CountOrFraction  # a fraction: of the training images
    method: Literal["last", "stratified"]

    def sizes(self, images: int) -> dict[str, int]:
        """The validation, holdout and search parts' sizes for `images` training images,
        or a ParamsError naming the key to change."""
        sizes = {part: images_of(getattr(self, f"{part}_size"), images) for part in ("validation", "holdout")}
        for part, size in sizes.items():
            if size < 1:
                raise ParamsError(
                    f"split.{part}_size {getattr(self, f'{part}_size')} is {size} of the dataset's "
                    f"{images:,} training images: give a larger fraction, or a count"
                )
        sizes["search"] = images - sizes["validation"] - sizes["holdout"]
        if sizes["search"] < 1:
            raise ParamsError(
                f"split.validation_size ({sizes['validation']:,} images) and split.holdout_size "
                f"({sizes['holdout']:,}) leave none of the dataset's {images:,} training images to train on: "
                "make them smaller, e.g. fractions such as 0.15 and 0.1 (of the training images)"
            )
        return sizes


class Distribution(Strict):
    strategy: Literal["none", "mirrored", "multi_worker"]
    cpu_devices: PositiveInt
    mixed_precision: bool = False

    @pydantic.field_validator("strategy")
    @classmethod
    def _usable(cls, value: str) -> str:
        if value == "multi_worker":
            raise problem(
                "",
                " multi_worker is not usable with Keras 3: Model.fit under "
                "tf.distribute.MultiWorkerMirroredStrategy fails in its first step ('Attempt to convert "
                "a value (PerReplica ...)', keras-team/keras#20585; seen here with two workers on 127.0.0.1 "
                "configured by TF_CONFIG). Use mirrored (every GPU of one machine) or none",
            )
        return value


class TrainSection(Strict):
    model: ModelSpec
    epochs: PositiveInt
    batch_size: PositiveInt


class FinalSection(Strict):
    epochs: PositiveInt
    batch_size: PositiveInt


class TrainFinal(Strict):  # one per stages.lib.core.paths.FINALISTS
    mlp: FinalSection
    cnn: FinalSection


class Export(Strict):
    models: Annotated[list[Literal["final", *MODELS]], Field(min_length=1)]
    dynamic_range: bool
    tolerance: Annotated[float, Field(gt=0.0, lt=1.0)]
    min_dynamic_range_agreement: Annotated[float, Field(gt=0.0, le=1.0)]
    timing_runs: PositiveInt

    @pydantic.field_validator("models")
    @classmethod
    def _once_each(cls, models: list[str]) -> list[str]:
        if len(set(models)) < len(models):
            raise problem("", f" names a model twice: {models}; name each once")
        return models


class Release(Strict):
    min_accuracy: Annotated[float, Field(ge=0.0, le=1.0)]
    stage: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]
    force: bool


class LabelIssues(Strict):
    model: ModelSpec
    folds: Annotated[int, Field(ge=2)]
    epochs: PositiveInt
    batch_size: PositiveInt
    # cleanlab's find_label_issues(filter_by=...): how many of each class to list
    filter_by: Literal["prune_by_class", "prune_by_noise_rate", "both"]


class Inspect(Strict):
    # The largest pixel difference (of 1) at which two pictures are copies; preprocess
    # and split keep each group of copies in one part.
    duplicate_threshold: Annotated[float, Field(ge=0.0, lt=1.0)]
    label_issues: LabelIssues
    # What split leaves out of the training images (nothing, by default).
    drop: list[Literal["label_issues", "test_duplicates"]]


class Params(Strict):
    seed: Annotated[int, Field(ge=0)]
    # Every choice between two models keeps the better one only where McNemar's test
    # gives p below this (stages.lib.core.decisions).
    significance: Annotated[float, Field(gt=0.0, lt=0.5)]
    dataset: Dataset
    inspect: Inspect
    split: Split
    distribution: Distribution
    train_baseline: TrainSection
    train_big: TrainSection
    cv_search: CvSearch
    train_final: TrainFinal
    release: Release
    export: Export


def load_params(path: Path = PARAMS_FILE) -> Params:
    """The whole params file, checked."""
    return checked(Params, read_yaml(path), "")
