"""A trained model ready to classify users' pictures (stages.predict, stages.serve): loaded
once, with the dataset's class names and the preparation preprocess used for its images
(data/prepared/dataset.json), or a released version with its own (final/model.json of
the export folder at its commit)."""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from stages.lib.core.artifacts import read_json
from stages.lib.core.config import load_params
from stages.lib.core.model_files import chosen_final, load_model, load_trained
from stages.lib.core.paths import DATASET_INFO, METRICS_DIR
from stages.lib.core.paths import MODELS as FILES
from stages.lib.data.pictures import Preparation
from stages.lib.serving.releases import SPEC, fetch, find

MODELS = ("final", *FILES)


def model_name(value: str) -> str:
    """--model's type: one of MODELS, or a released version (NAME@VERSION, NAME#STAGE)."""
    if value in MODELS or SPEC.match(value):
        return value
    raise argparse.ArgumentTypeError(
        f"{value!r} is none of {', '.join(MODELS)}, nor a released version such as classifier@v1.0.0"
    )


class Classifier:
    def __init__(self, model: str = "final"):
        """`model`: one of MODELS (final: what evaluate chose, a finalist or their average), or a released
        version: NAME@VERSION or NAME#STAGE, as GTO names it. Also names the dataset
        and the model's test accuracy, as evaluate scored it."""
        if model in MODELS:
            description = read_json(DATASET_INFO)
            self.name = chosen_final() if model == "final" else model
            self.model = load_trained(self.name)
            self.dataset = load_params().dataset.name
            self.test_accuracy = read_json(METRICS_DIR / "evaluate.json")[self.name]["accuracy"]
        else:
            release = find(model)
            with tempfile.TemporaryDirectory() as folder:
                files = fetch(release, ["final.keras", "final/model.json"], Path(folder))
                self.model = load_model(files["final.keras"])
                description = read_json(files["final/model.json"])
            self.name = f"{release.artifact}@{release.version} ({description['model']})"
            self.dataset, self.test_accuracy = description["dataset"], description["test_accuracy"]
        self.classes = description["classes"]
        self.preparation = Preparation(
            tuple(description["image_size"]), description["color"], description["centre"]
        )

    def answers(self, images: np.ndarray) -> list[dict]:
        """Per image of a batch of prepared `images`: the predicted class's name, its
        probability and every class's probability, by name."""
        probabilities = self.model.predict_on_batch(images)
        return [
            {
                "class": self.classes[row.argmax()],
                "probability": float(row.max()),
                "probabilities": dict(zip(self.classes, map(float, row), strict=True)),
            }
            for row in probabilities
        ]
