"""A trained Keras model in the formats it ships in, and each format run in its own
runtime: a TensorFlow SavedModel (what TF Serving serves) run by TensorFlow; LiteRT
flatbuffers converted from that SavedModel (float, and optionally dynamic-range quantized:
int8 weights) run by ai-edge-litert; ONNX converted from the same SavedModel by tf2onnx,
run by onnxruntime. Every format takes a float32 batch of prepared images, named
`images`, and gives the class probabilities."""

import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np

INPUT_NAME = "images"
ONNX_OPSET = 17  # onnxruntime 1.32 runs opsets up to 23; 17 is tf2onnx's default
# Each format's file (or folder) in the export folder, for the model exported as NAME.
FORMATS = {
    "saved_model": "{name}/saved_model",
    "litert": "{name}.tflite",
    "litert_dynamic_range": "{name}.dynamic_range.tflite",
    "onnx": "{name}.onnx",
}

Runner = Callable[[np.ndarray], np.ndarray]  # a batch of images -> class probabilities


def format_paths(folder: Path, name: str, dynamic_range: bool) -> dict[str, Path]:
    """Where each format of the model exported as `name` goes in `folder`."""
    return {
        kind: folder / file.format(name=name)
        for kind, file in FORMATS.items()
        if dynamic_range or kind != "litert_dynamic_range"
    }


def write_formats(model, paths: dict[str, Path]) -> None:
    """Writes `model` (a Keras model) in each format of `paths` (format_paths)."""
    import tensorflow as tf
    import tf2onnx

    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=INPUT_NAME)]
    saved_model = str(paths["saved_model"])
    model.export(saved_model, format="tf_saved_model", input_signature=signature, verbose=False)
    for kind in ("litert", "litert_dynamic_range"):
        if kind in paths:
            converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
            if kind == "litert_dynamic_range":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
            paths[kind].write_bytes(converter.convert())
    loaded = tf.saved_model.load(saved_model)  # kept: its functions use its variables
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)  # one INFO line per graph rewrite
    tf2onnx.convert.from_function(
        loaded.serve,
        input_signature=loaded.serve.input_signature,
        opset=ONNX_OPSET,
        output_path=str(paths["onnx"]),
    )


def runner(kind: str, path: Path) -> Runner:
    """The format `kind` (one of FORMATS) at `path`, loaded in its runtime."""
    if kind == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        return lambda images: loaded.serve(tf.constant(images)).numpy()
    if kind == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda images: session.run(None, {INPUT_NAME: images})[0]
    return _litert_runner(path)


def _litert_runner(path: Path) -> Runner:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=os.cpu_count())
    [images_input], [probabilities] = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.allocate_tensors()

    def run(images: np.ndarray) -> np.ndarray:
        # The converted model keeps the SavedModel's batch of any size (shape_signature
        # -1), resized here to each batch's.
        if tuple(interpreter.get_input_details()[0]["shape"]) != images.shape:
            interpreter.resize_tensor_input(images_input["index"], images.shape)
            interpreter.allocate_tensors()
        interpreter.set_tensor(images_input["index"], np.ascontiguousarray(images, np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(probabilities["index"]).copy()

    return run
