"""The typed model of params.yaml (see its comments for what each key does): every
stage reads its sections from load_params(), checked before any heavy work."""

from pathlib import Path
from typing import Annotated, Literal

import pydantic
from pydantic import Field

from stages.lib.core.dataset import Dataset
from stages.lib.core.params import Strict, checked, problem, read_yaml
from stages.lib.core.search_config import CvSearch
from stages.lib.core.specs import ModelSpec

PARAMS_FILE = Path("params.yaml")

PositiveInt = Annotated[int, Field(ge=1)]


class Split(Strict):
    validation_size: PositiveInt
    holdout_size: PositiveInt
    method: Literal["last", "stratified"]


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


class Params(Strict):
    seed: Annotated[int, Field(ge=0)]
    dataset: Dataset
    split: Split
    distribution: Distribution
    train_baseline: TrainSection
    train_big: TrainSection
    cv_search: CvSearch
    train_final: TrainFinal


def load_params(path: Path = PARAMS_FILE) -> Params:
    """The whole params file, checked."""
    return checked(Params, read_yaml(path), "")
