"""The model card the export stage writes beside each exported model (NAME/README.md), in
Hugging Face's format: YAML metadata with `model-index` results, then sections. Every
figure comes from the run's own files, gathered by the export stage into a CardFacts."""

from dataclasses import dataclass

import pandas as pd
import yaml

from stages.lib.core.decisions import sentence
from stages.lib.core.intervals import wilson_interval

PREPARATIONS = {
    "mass": "as the training images were: light ink on a dark background (dark ink on light paper is "
    "inverted), the drawing fitted into a box of 20/28 of each side and centred by its centre of mass",
    "none": "resized with its aspect ratio kept, the rest padded with black",
}


@dataclass
class CardFacts:
    name: str  # as exported (final, or a trained model's name)
    model: str  # the trained model it is
    dataset_name: str
    dataset: dict  # data/prepared/dataset.json
    split_sizes: dict[str, int]  # search, validation, holdout
    scores: dict  # metrics/evaluate.json's entry for the model
    per_class: pd.DataFrame  # class, precision, recall, f1, support
    predictions: pd.DataFrame  # actual, predicted (class names), one row per test image
    decisions: list[tuple[str, dict, str]]  # what was decided, its record, the images scored
    blessing: dict  # metrics/bless.json
    formats: dict  # export's figures per format


def model_card(facts: CardFacts) -> str:
    return "\n".join([metadata(facts), *body(facts)]) + "\n"


def metadata(facts: CardFacts) -> str:
    scores = facts.scores
    results = {
        "task": {"type": "image-classification", "name": "Image classification"},
        "dataset": {"name": facts.dataset_name, "type": facts.dataset_name.lower(), "split": "test"},
        "metrics": [
            {"type": "accuracy", "value": round(scores["accuracy"], 4), "name": "Test accuracy"},
            {"type": "f1", "value": round(scores["macro_f1"], 4), "name": "Test macro F1"},
        ],
    }
    header = {
        "library_name": "keras",
        "tags": ["image-classification", "keras", "dvc"],
        "datasets": [facts.dataset_name],
        "metrics": ["accuracy", "f1"],
        "model-index": [{"name": f"{facts.name} ({facts.model})", "results": [results]}],
    }
    return f"---\n{yaml.safe_dump(header, sort_keys=False)}---"


def body(facts: CardFacts) -> list[str]:
    dataset, classes = facts.dataset, facts.dataset["classes"]
    height, width = dataset["image_size"]
    channels = 3 if dataset["color"] == "rgb" else 1
    test_images, sizes = dataset["images"]["test"], facts.split_sizes
    finalist = facts.model not in ("baseline", "big")  # trained as train_final trains (or averaged)
    trained_on = (
        f"the search and validation images ({sizes['search'] + sizes['validation']:,})"
        if finalist
        else f"the search and holdout images ({sizes['search'] + sizes['holdout']:,}), validated on the rest"
    )
    right = round(facts.scores["accuracy"] * test_images)
    low, high = wilson_interval(right, test_images)
    return [
        f"# {facts.name}: {facts.model}, an image classifier trained on {facts.dataset_name}",
        "",
        f"A Keras model that sorts a picture into one of {len(classes)} classes of {facts.dataset_name}, "
        f"trained and chosen by this project's DVC pipeline. It gets {facts.scores['accuracy']:.2%} of the "
        f"{test_images:,} test images right (95% interval {low:.2%} to {high:.2%}).",
        "",
        "## Intended use and input",
        f"- Classes: {', '.join(classes)}. It always answers one of them, even for a picture of none.",
        f"- Input: float32 images of {height}x{width}x{channels} ({dataset['color']}), values in [0, 1], in "
        f"batches: shape (batch, {height}, {width}, {channels}).",
        f"- A picture is prepared {PREPARATIONS[dataset['centre']]}. `python -m stages.predict` and "
        "`python -m stages.serve` read PNG and JPEG files and prepare them so.",
        "",
        "## Training data and split",
        f"{facts.dataset_name}: {dataset['images']['train']:,} training and {test_images:,} test images "
        f"({dataset['format']}). The training images were split into {sizes['search']:,} to search on, "
        f"{sizes['validation']:,} for validation and {sizes['holdout']:,} held out to decide between trained "
        f"models; copies of one picture stay in one part. {facts.model} was trained on {trained_on}. "
        "The test images chose nothing: they were read once, to score.",
        "",
        "## Evaluation on the test images",
        f"Accuracy {facts.scores['accuracy']:.4f} ({right:,} of {test_images:,}; Wilson 95% interval "
        f"[{low:.4f}, {high:.4f}]), macro F1 {facts.scores['macro_f1']:.4f}.",
        "",
        per_class_table(facts.per_class),
        "",
        "## How it was chosen",
        *(f"- {what}: {said(record, images)}" for what, record, images in facts.decisions),
        f"- Release: {facts.blessing['outcome']}.",
        "",
        "The holdout images chose between the trained models and then blessed the kept one, so its "
        "holdout accuracy is a little optimistic; the test accuracy above is not: the test images "
        "chose nothing.",
        "",
        "## Limitations",
        *limitations(facts),
        "",
        "## Formats",
        "Each format ran in its own runtime on the test images (agreement: the share of images whose "
        "class it gives as the .keras model does); speed measured by the export stage on the machine "
        "that ran it.",
        "",
        formats_table(facts.formats),
    ]


def said(record: dict, images: str) -> str:
    """A recorded decision in a sentence; one with a single candidate by its outcome."""
    return (
        sentence(record, images)
        if "p_value" in record
        else f"{record['outcome'][:1].upper()}{record['outcome'][1:]}."
    )


def per_class_table(scores: pd.DataFrame) -> str:
    rows = ["| class | precision | recall | F1 | test images |", "| --- | --- | --- | --- | --- |"]
    rows += [
        f"| {row['class']} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} "
        f"| {row['support']:,} |"
        for _, row in scores.iterrows()
    ]
    return "\n".join(rows)


def limitations(facts: CardFacts) -> list[str]:
    weakest = facts.per_class.nsmallest(3, "f1")
    wrong = facts.predictions[facts.predictions["actual"] != facts.predictions["predicted"]]
    pairs = wrong.value_counts(["actual", "predicted"]).head(3)
    calibration = facts.scores["calibration_error"]
    return [
        "- Weakest classes (lowest F1 on the test images): "
        + ", ".join(f"{row['class']} ({row['f1']:.4f})" for _, row in weakest.iterrows())
        + ".",
        "- Most frequent mistakes: "
        + (
            ", ".join(
                f"{actual} read as {predicted} ({count})" for (actual, predicted), count in pairs.items()
            )
            or "none"
        )
        + ".",
        f"- Calibration: expected calibration error {calibration:.4f} on the test images (the mean gap "
        "between its confidence and its accuracy); its probabilities are "
        + (
            "close to how often it is right."
            if calibration < 0.02
            else "not to be read as how often it is right."
        ),
        f"- It learned from {facts.dataset_name}'s pictures only: pictures unlike them (other sizes of "
        "drawing, other backgrounds, other objects) can be misread with high confidence.",
    ]


def formats_table(formats: dict) -> str:
    rows = [
        "| format | file | bytes | ms per image | images/s (batch 256) | agreement with .keras |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows += [
        f"| {kind} | {row['file']} | {row['bytes']:,} | {row['latency_ms']:.3f} "
        f"| {row['images_per_second']:,} | {row['agreement']:.4f} |"
        for kind, row in formats.items()
    ]
    return "\n".join(rows)
