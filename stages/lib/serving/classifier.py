"""A trained model ready to classify users' pictures (stages.predict, stages.serve): loaded
once, with the dataset's class names and the preparation preprocess used for its images
(data/prepared/dataset.json)."""

import numpy as np

from stages.lib.core.artifacts import read_json
from stages.lib.core.model_files import chosen_final, load_model
from stages.lib.core.paths import DATASET_INFO, METRICS_DIR, TRAINED_MODELS, model_path
from stages.lib.data.pictures import Preparation

MODELS = ("final", *TRAINED_MODELS)  # what --model accepts


class Classifier:
    def __init__(self, model: str = "final"):
        """`model`: one of MODELS; final is the finalist evaluate chose."""
        dataset = read_json(DATASET_INFO)
        self.classes = dataset["classes"]
        self.preparation = Preparation(tuple(dataset["image_size"]), dataset["color"], dataset["centre"])
        self.name = chosen_final() if model == "final" else model
        self.model = load_model(model_path(self.name))

    def test_accuracy(self) -> float:
        """Its accuracy on the test images, as evaluate scored it."""
        return read_json(METRICS_DIR / "evaluate.json")[self.name]["accuracy"]

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
