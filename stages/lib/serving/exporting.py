"""The export stage's work for one model: its formats written, then each run in its own
runtime on the test images beside the .keras model, measured and checked."""

import logging
from pathlib import Path

import pandas as pd

from stages.lib.core.artifacts import read_json, write_json
from stages.lib.core.config import Export, Params
from stages.lib.core.model_files import chosen_final, load_trained, save_model
from stages.lib.core.paths import (
    AVERAGED_FINALISTS,
    DATASET_INFO,
    FINAL_CHOICE,
    FINALISTS,
    METRICS_DIR,
    duel_path,
)
from stages.lib.serving.checks import BATCH, check, measure, predict_all
from stages.lib.serving.formats import format_paths, runner, sources, write_formats
from stages.lib.serving.model_card import CardFacts, model_card

log = logging.getLogger(__name__)


def export_model(name: str, folder: Path, shown_folder: Path, test: tuple, settings: Export) -> dict:
    """Exports the model `name` (final: what evaluate chose, a finalist or their average) into `folder`, which
    becomes `shown_folder` once every model is exported, and returns its figures:
    the trained model's name, the number of test images and, per format (the .keras file
    first, as the reference), its file, size, speed and agreement. Raises an ExportError
    where a format disagrees."""
    images, labels = test
    trained = chosen_final() if name == "final" else name
    model = load_trained(trained)
    save_model(model, folder / f"{name}.keras")  # shipped with the other formats
    paths = format_paths(folder, name, settings.dynamic_range)
    write_formats(model, paths)
    reference = predict_all(model.predict_on_batch, images)
    runners = {"keras": (model.predict_on_batch, folder / f"{name}.keras")}
    runners |= {kind: (runner(kind, path), path) for kind, path in paths.items()}
    formats = {}
    for kind, (run, path) in runners.items():
        shown = shown_folder / (path.relative_to(folder) if kind != "keras" else f"{name}.keras")
        row = {"file": str(shown), **measure(run, path, images, labels, reference, settings.timing_runs)}
        log.info(
            "%s %s: %s bytes, %.3f ms per image, %s images/s in batches of %d, agreement %.4f "
            "(largest probability difference %.2g)",
            name,
            kind,
            f"{row['bytes']:,}",
            row["latency_ms"],
            f"{row['images_per_second']:,.0f}",
            min(BATCH, len(images)),
            row["agreement"],
            row["max_probability_difference"],
        )
        check(
            kind,
            row,
            trained,
            len(images),
            tolerance=settings.tolerance,
            min_agreement=settings.min_dynamic_range_agreement,
        )
        formats[kind] = row
    return {"model": trained, "images": len(images), "formats": formats}


def describe(name: str, figures: dict, folder: Path, params: Params, blessing: dict) -> None:
    """Writes the model exported as `name` its description, NAME/model.json (what
    stages.serve and stages.predict need to serve its exported formats: its classes, its
    input and the sha256 of the .keras files it was made from), and its model card, NAME/README.md
    (`blessing`: bless's record)."""
    trained, dataset = figures["model"], read_json(DATASET_INFO)
    scores = read_json(METRICS_DIR / "evaluate.json")[trained]
    write_json(
        folder / name / "model.json",
        {"model": trained, "dataset": params.dataset.name, "test_accuracy": scores["accuracy"]}
        | {key: dataset[key] for key in ("classes", "image_size", "color", "centre")}
        | {"sources": sources(trained)},
    )
    per_class = pd.read_csv(METRICS_DIR / "evaluate" / "per_class.csv", dtype={"class": str})
    facts = CardFacts(
        name=name,
        model=trained,
        dataset_name=params.dataset.name,
        dataset=dataset,
        split_sizes=params.split.sizes(dataset["images"]["train"]),
        scores=scores,
        per_class=per_class[per_class["model"] == trained],
        predictions=pd.read_csv(METRICS_DIR / "evaluate" / f"predictions_{trained}.csv", dtype=str),
        decisions=decisions(trained),
        blessing=blessing,
        formats=figures["formats"],
    )
    (folder / name / "README.md").write_text(model_card(facts))


def decisions(trained: str) -> list[tuple[str, dict, str]]:
    """The recorded decisions that chose the trained model (none for baseline and big;
    both spaces' for the finalists averaged)."""
    spaces = FINALISTS if trained == AVERAGED_FINALISTS else [trained.removesuffix("_final")]
    chosen = [
        decision
        for space in spaces
        if space in FINALISTS
        for decision in (
            (
                f"Search (cv_search@{space})",
                read_json(METRICS_DIR / "cv_search" / space / "metrics.json")["decision"],
                "validation images",
            ),
            (f"Trained in full (train_final@{space})", read_json(duel_path(space)), "holdout images"),
        )
    ]
    if chosen_final() == trained:
        chosen.append(("Final (evaluate, between the finalists)", read_json(FINAL_CHOICE), "holdout images"))
    return chosen
