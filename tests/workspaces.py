"""A folder laid out like the repository after `dvc repro`, with small models trained on
real MNIST digits, for the tests of what comes after the pipeline: stages.predict,
stages.serve and the export stage's library."""

import contextlib
import json
import shutil
from pathlib import Path

import numpy as np

from stages.lib.core.artifacts import save_arrays
from stages.lib.core.model_files import averaged, load_model, save_model
from stages.lib.core.paths import EXPORT_DIR, model_path
from stages.lib.core.specs import validate_spec
from stages.lib.serving.formats import format_paths, sources, write_formats
from stages.lib.training.fitting import train
from tests import REPO
from tests.real_data import subset

CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def digits(dataset_folder: Path, train_size: int = 3000, test_size: int = 40):
    """Training and test digits of real MNIST as the pipeline feeds them: pixels in [0, 1]."""
    return [
        ((images / 255.0).astype(np.float32), labels)
        for images, labels in subset(dataset_folder, train_size, test_size)
    ]


def trained_workspace(root: Path, digits) -> Path:
    """`root` made a workspace: the repository's params.yaml, a small CNN trained on the
    training `digits` as cnn_final (evaluate's choice of `final`), a much worse MLP as
    mlp_final, preprocess's description of MNIST with the classes renamed, as another
    dataset would name them, the test digits as data/prepared/test.npz and the two models'
    accuracy on them, and the two averaged's (`finalists`), as metrics/evaluate.json."""
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    (root / "data" / "prepared").mkdir(parents=True)
    (root / "data" / "prepared" / "dataset.json").write_text(
        json.dumps({"classes": CLASSES, "image_size": [28, 28], "color": "grayscale", "centre": "mass"})
    )
    train_data, test_data = digits
    save_arrays(root / "data" / "prepared" / "test.npz", x=test_data[0], y=test_data[1])
    cnn = validate_spec(
        {
            "family": "lenet",
            "filters": [8, 16],
            "kernel_size": 5,
            "dense_units": 32,
            "optimizer": "adam",
            "learning_rate": 0.003,
        },
        "cnn",
    )
    mlp = validate_spec(
        {"family": "mlp", "hidden_units": [2], "dropout": 0.0, "optimizer": "adam", "learning_rate": 0.0001},
        "mlp",
    )
    scores, trained = {}, {}
    for name, spec, epochs in (("cnn", cnn, 4), ("mlp", mlp, 1)):
        model, _ = train(spec, train_data, test_data, epochs=epochs, batch_size=64, seed=0, num_classes=10)
        save_model(model, root / "models" / f"{name}_final.keras")
        trained[f"{name}_final"] = model
    trained["finalists"] = averaged(dict(trained), "finalists")  # no file: load_trained builds it
    for name, model in trained.items():
        predicted = model.predict(test_data[0], verbose=0).argmax(axis=1)
        scores[name] = {"accuracy": float(np.mean(predicted == test_data[1]))}
    (root / "metrics").mkdir()
    (root / "metrics" / "final.json").write_text(json.dumps({"kept": "cnn_final"}))
    (root / "metrics" / "evaluate.json").write_text(json.dumps({**scores, "final": scores["cnn_final"]}))
    return root


def exported_workspace(root: Path, digits) -> Path:
    """trained_workspace's, with `final` (its cnn_final) exported as the export stage
    exports it: models/export/final.onnx, .tflite and saved_model/, and final/model.json
    naming the model, its input and the sha256 of the .keras file it came from."""
    trained_workspace(root, digits)
    with contextlib.chdir(root):
        write_formats(
            load_model(model_path("cnn_final")), format_paths(EXPORT_DIR, "final", dynamic_range=False)
        )
        description = {"model": "cnn_final", "classes": CLASSES, "image_size": [28, 28], "color": "grayscale"}
        description |= {"centre": "mass", "sources": sources("cnn_final")}
        (EXPORT_DIR / "final").mkdir(exist_ok=True)
        (EXPORT_DIR / "final" / "model.json").write_text(json.dumps(description))
    return root
