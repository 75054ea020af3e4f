"""A trained model ready to classify users' pictures (stages.predict, stages.serve): loaded
once, with the dataset's class names and the preparation preprocess used for its images
(data/prepared/dataset.json), or a released version with its own (final/model.json of
the export folder at its commit).

It runs in the runtime of the format the export stage wrote and checked against the
.keras model (ONNX Runtime by default: the fastest here, docs/serving.md), and in Keras
only where the model has no export, or where its export was made from other .keras files
than the run's (a model retrained since `dvc repro export`)."""

import argparse
import functools
import logging
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from stages.lib.core.artifacts import read_json
from stages.lib.core.cli import import_tensorflow_quietly
from stages.lib.core.config import load_params
from stages.lib.core.errors import DataError
from stages.lib.core.model_files import chosen_final, load_model, load_trained
from stages.lib.core.paths import DATASET_INFO, EXPORT_DIR, METRICS_DIR
from stages.lib.core.paths import MODELS as FILES
from stages.lib.data.pictures import Preparation
from stages.lib.serving.formats import FORMATS, Runner, runner, sources
from stages.lib.serving.releases import SPEC, Release, fetch, find

MODELS = ("final", *FILES)
# --runtime: the exported formats a model can run from, fastest first, or keras (the
# .keras file itself); auto: the first of EXPORTED the model has, else keras.
EXPORTED = ("onnx", "litert")
RUNTIMES = ("auto", *EXPORTED, "keras")

log = logging.getLogger(__name__)


def model_name(value: str) -> str:
    """--model's type: one of MODELS, or a released version (NAME@VERSION, NAME#STAGE)."""
    if value in MODELS or SPEC.match(value):
        return value
    raise argparse.ArgumentTypeError(
        f"{value!r} is none of {', '.join(MODELS)}, nor a released version such as classifier@v1.0.0"
    )


def positive(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --runtime and --threads, as stages.predict and stages.serve take them."""
    parser.add_argument(
        "--model",
        type=model_name,
        default="final",
        help="which trained model: final (the default), baseline, big, mlp_final, cnn_final, or a "
        "released version, NAME@VERSION or NAME#STAGE (e.g. classifier@v1.0.0, classifier#prod)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="auto",
        help="what runs the model: its exported ONNX file in ONNX Runtime, its LiteRT file, or the "
        ".keras file in Keras; auto (the default): onnx where the export stage wrote a current one, "
        "else keras",
    )
    parser.add_argument(
        "--threads", type=positive, help="threads the runtime computes with (default: its own, one per core)"
    )


class Classifier:
    def __init__(
        self, model: str = "final", runtime: str = "auto", threads: int | None = None, spinning: bool = True
    ):
        """`model`: one of MODELS (final: what evaluate chose, a finalist or their average), or a released
        version: NAME@VERSION or NAME#STAGE, as GTO names it. `runtime`: one of
        RUNTIMES; `threads`: how many threads it computes with (None: its default);
        `spinning`: whether they wait for the next call spinning (formats.runner).
        Also names the dataset, the model's test accuracy, as evaluate scored it, and
        `runtime`: what it runs in, and from which file."""
        if runtime not in RUNTIMES:
            raise DataError(f"runtime {runtime!r} is none of {', '.join(RUNTIMES)}")
        load = functools.partial(runner, threads=threads, spinning=spinning)
        if model in MODELS:
            description = read_json(DATASET_INFO)
            self.name = chosen_final() if model == "final" else model
            self.dataset = load_params().dataset.name
            self.test_accuracy = read_json(METRICS_DIR / "evaluate.json")[self.name]["accuracy"]
            self.probabilities, self.runtime = _local(self.name, runtime, load)
        else:
            release = find(model)
            with tempfile.TemporaryDirectory() as folder:
                description = read_json(
                    fetch(release, ["final/model.json"], Path(folder))["final/model.json"]
                )
                self.probabilities, self.runtime = _released(release, runtime, load, Path(folder))
            self.name = f"{release.artifact}@{release.version} ({description['model']})"
            self.dataset, self.test_accuracy = description["dataset"], description["test_accuracy"]
        self.classes = description["classes"]
        self.preparation = Preparation(
            tuple(description["image_size"]), description["color"], description["centre"]
        )

    def answers(self, images: np.ndarray) -> list[dict]:
        """Per image of a batch of prepared `images`: the predicted class's name, its
        probability and every class's probability, by name."""
        return self.named(self.probabilities(images))

    def named(self, probabilities: np.ndarray) -> list[dict]:
        """`answers` of the model's `probabilities` for a batch."""
        return [
            {
                "class": self.classes[row.argmax()],
                "probability": float(row.max()),
                "probabilities": dict(zip(self.classes, map(float, row), strict=True)),
            }
            for row in probabilities
        ]


def _keras(model) -> Runner:
    return lambda images: np.asarray(model.predict_on_batch(images))


def _local(trained: str, runtime: str, load: Callable[[str, Path], Runner]) -> tuple[Runner, str]:
    """The run's model `trained` in `runtime` (an exported format loaded by `load`, as
    formats.runner), and what that is: its export's format where it has a current one."""
    if runtime != "keras":
        exported, why_not = _current_export(trained)
        kinds = EXPORTED if runtime == "auto" else (runtime,)
        for kind in kinds if exported else ():
            if (path := EXPORT_DIR / FORMATS[kind].format(name=exported)).exists():
                return load(kind, path), f"{kind} ({path})"
            why_not = f"{path} is missing: run `dvc checkout models/export`, or `dvc repro export`"
        if runtime != "auto":
            raise DataError(f"{trained} cannot run in {runtime}: {why_not}")
        log.warning("%s runs in Keras, slower than its export would: %s", trained, why_not)
    import_tensorflow_quietly()  # the Keras runtime only
    return _keras(load_trained(trained)), "keras"


def _current_export(trained: str) -> tuple[str | None, str]:
    """The name the export folder gives the model `trained`, where its formats were made
    from the run's .keras files; else None, and why not."""
    described = {path.parent.name: read_json(path) for path in sorted(EXPORT_DIR.glob("*/model.json"))}
    names = [name for name, description in described.items() if description["model"] == trained]
    if not names:
        return None, (
            f"{EXPORT_DIR} holds no export of it (export.models: {', '.join(described) or 'none'}); "
            f"add it to export.models, or name final, and run `dvc repro export`"
        )
    if described[names[0]].get("sources") != sources(trained):
        return None, (
            f"{EXPORT_DIR}/{names[0]} was made from other .keras files than the run's (retrained since): "
            "run `dvc repro export`"
        )
    return names[0], ""


def _released(
    release: Release, runtime: str, load: Callable[[str, Path], Runner], folder: Path
) -> tuple[Runner, str]:
    """A released version in `runtime`: its exported format, fetched into `folder`, or
    its final.keras."""
    kinds = EXPORTED if runtime == "auto" else () if runtime == "keras" else (runtime,)
    for kind in kinds:
        file = FORMATS[kind].format(name="final")
        try:
            path = fetch(release, [file], folder)[file]
        except DataError as error:
            if runtime != "auto":
                raise
            why_not = error
            continue
        return load(kind, path), f"{kind} ({release} {file})"
    if runtime == "auto":  # a release older than its formats' export
        log.warning("%s runs in Keras, slower than its export would: %s", release, why_not)
    import_tensorflow_quietly()  # the Keras runtime only
    return _keras(load_model(fetch(release, ["final.keras"], folder)["final.keras"])), "keras"
