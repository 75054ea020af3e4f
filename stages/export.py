"""Stage export: ships each model of params.yaml's export.models (final: the finalist
evaluate chose) in models/export/: NAME/saved_model/ (a TensorFlow SavedModel, what TF
Serving serves), NAME.tflite (LiteRT, converted from it), NAME.dynamic_range.tflite
(int8 weights; with export.dynamic_range) and NAME.onnx (tf2onnx). Each format runs in its
own runtime (TensorFlow, ai-edge-litert, onnxruntime) on the test images, which it reads
only to compare each format's predictions with the .keras model's: nothing is chosen on
them. Writes metrics/export.json: per model and format, its size, single-image latency
and batch-256 throughput on this CPU, and its agreement with the .keras model. A format
that disagrees stops the stage with one line, and nothing is written.
"""

from stages.lib.core.artifacts import atomic_folder, load_arrays, write_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.paths import EXPORT_DIR, METRICS_DIR, PREPARED_DIR
from stages.lib.serving.exporting import export_model


def main(args):
    settings = load_params().export
    test = load_arrays(PREPARED_DIR / "test.npz", "x", "y")
    with atomic_folder(EXPORT_DIR) as folder:
        figures = {name: export_model(name, folder, EXPORT_DIR, test, settings) for name in settings.models}
    write_json(METRICS_DIR / "export.json", figures)


if __name__ == "__main__":
    run_stage(main, __doc__)
