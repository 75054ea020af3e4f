"""Stage export: ships each model of params.yaml's export.models (final: the finalist
evaluate chose) in models/export/, the artifact `classifier` of dvc.yaml, if bless
blessed `final` (metrics/bless.json) or release.force is set; else it stops with the
check that failed. Per model: NAME.keras, NAME/saved_model/ (a TensorFlow SavedModel,
what TF Serving serves), NAME.tflite (LiteRT, converted from it), NAME.dynamic_range.tflite
(int8 weights; with export.dynamic_range), NAME.onnx (tf2onnx), NAME/README.md (its model
card, every figure from the run's files) and NAME/model.json (its classes and input, for
`stages.serve --model classifier@VERSION`). Each format runs in its own runtime
(TensorFlow, ai-edge-litert, onnxruntime) on the test images, which it reads only to
compare each format's predictions with the .keras model's: nothing is chosen on them.
Writes metrics/export.json: per model and format, its size, single-image latency and
batch-256 throughput on this CPU, and its agreement with the .keras model. A format
that disagrees stops the stage with one line, and nothing is written.
"""

from stages.lib.core.artifacts import atomic_folder, load_arrays, read_json, write_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.errors import DataError
from stages.lib.core.paths import BLESSING, EXPORT_DIR, METRICS_DIR, PREPARED_DIR
from stages.lib.serving.exporting import describe, export_model


def main(args):
    params = load_params()
    if not (blessing := read_json(BLESSING))["ships"]:
        raise DataError(blessing["outcome"])
    test = load_arrays(PREPARED_DIR / "test.npz", "x", "y")
    with atomic_folder(EXPORT_DIR) as folder:
        figures = {
            name: export_model(name, folder, EXPORT_DIR, test, params.export) for name in params.export.models
        }
        for name, exported in figures.items():
            describe(name, exported, folder, params, blessing)
    write_json(METRICS_DIR / "export.json", figures)


if __name__ == "__main__":
    run_stage(main, __doc__)
