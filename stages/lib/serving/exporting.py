"""The export stage's work for one model: its formats written, then each run in its own
runtime on the test images beside the .keras model, measured and checked."""

import logging
from pathlib import Path

from stages.lib.core.config import Export
from stages.lib.core.model_files import chosen_final, load_model
from stages.lib.core.paths import model_path
from stages.lib.serving.checks import BATCH, check, measure, predict_all
from stages.lib.serving.formats import format_paths, runner, write_formats

log = logging.getLogger(__name__)


def export_model(name: str, folder: Path, shown_folder: Path, test: tuple, settings: Export) -> dict:
    """Exports the model `name` (final: the finalist evaluate chose) into `folder`, which
    becomes `shown_folder` once every model is exported, and returns its figures:
    the trained model's name, the number of test images and, per format (the .keras file
    first, as the reference), its file, size, speed and agreement. Raises an ExportError
    where a format disagrees."""
    images, labels = test
    trained = chosen_final() if name == "final" else name
    model = load_model(model_path(trained))
    paths = format_paths(folder, name, settings.dynamic_range)
    write_formats(model, paths)
    reference = predict_all(model.predict_on_batch, images)
    runners = {"keras": (model.predict_on_batch, model_path(trained))}
    runners |= {kind: (runner(kind, path), path) for kind, path in paths.items()}
    formats = {}
    for kind, (run, path) in runners.items():
        shown = shown_folder / path.relative_to(folder) if kind != "keras" else path
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
