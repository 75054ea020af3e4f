"""A trained Keras model in the formats it ships in, and each format run in its own
runtime: a TensorFlow SavedModel (what TF Serving serves) run by TensorFlow; LiteRT
flatbuffers converted from that SavedModel (float, and optionally dynamic-range quantized:
int8 weights) run by ai-edge-litert; ONNX converted from the same SavedModel by tf2onnx,
run by onnxruntime. Every format takes a float32 batch of prepared images, named
`images`, and gives the class probabilities."""

import hashlib
import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np

from stages.lib.core.paths import AVERAGED_FINALISTS, FINALISTS, model_path

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


def sources(trained: str) -> dict[str, str]:
    """The sha256 of each .keras file the trained model `trained` is made of (both
    finalists' for their average), by path: what an export was made from."""
    names = [f"{space}_final" for space in FINALISTS] if trained == AVERAGED_FINALISTS else [trained]
    return {
        str(model_path(name)): hashlib.sha256(model_path(name).read_bytes()).hexdigest() for name in names
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


def runner(kind: str, path: Path, threads: int | None = None, spinning: bool = True) -> Runner:
    """The format `kind` (one of FORMATS) at `path`, loaded in its runtime, which computes
    with `threads` threads (None: the runtime's default, the machine's cores). ONNX
    Runtime's threads wait for the next call spinning (its default: the quickest answer),
    or, with `spinning` False, asleep, leaving the cores to other work (predict's)."""
    if kind == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        return lambda images: loaded.serve(tf.constant(images)).numpy()
    if kind == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: onnxruntime's default
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        session = onnxruntime.InferenceSession(path.read_bytes(), options, providers=["CPUExecutionProvider"])
        return lambda images: session.run(None, {INPUT_NAME: images})[0]
    return _litert_runner(path, threads or os.cpu_count())


def _litert_runner(path: Path, threads: int) -> Runner:
    from ai_edge_litert.interpreter import Interpreter

    # The file's bytes, not its path: a released version's files are gone once loaded.
    interpreter = Interpreter(model_content=path.read_bytes(), num_threads=threads)
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
