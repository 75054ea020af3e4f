"""Serve a trained model on a local web page and a JSON API (not a pipeline stage).

    python -m stages.serve [--model NAME | NAME@VERSION | NAME#STAGE] [--host HOST] [--port PORT]
        [--runtime auto|onnx|litert|keras] [--threads N] [--max-batch N] [--max-wait MS]

Open http://127.0.0.1:8000/ to draw a picture (or upload one) and watch the class
probabilities. POST /predict takes PNG or JPEG files as multipart/form-data (at most 32,
5 MB and 100 million pixels in all, sent within 30 s; at most 32 such requests read at
once, the others waiting up to a second for their turn),
prepares each as `stages.predict` does and answers JSON: the model and, per file, its
class's name, that class's probability and every class's:

    curl -F file=@digit.png http://127.0.0.1:8000/predict

GET /health answers the model's name, its runtime and test accuracy (metrics/evaluate.json). Bad input
gets a 4xx and one line of JSON, {"error": ...}. The default model is `final`, the finalist
evaluate chose; `--model classifier@v1.0.0` serves a version registered with GTO, fetched
from DVC's cache at its commit (README, "Release"). It listens on 127.0.0.1 only, unless
--host says otherwise (0.0.0.0: every network interface, for other machines to reach it).

The model runs in the runtime of its exported ONNX file (models/export, written and
checked against the .keras model by the export stage), or in Keras where it has no
current export: the first log line says which. The pictures of concurrent requests go to
the model together, at most --max-batch at once, as soon as the model is free (after
waiting at most --max-wait milliseconds for more); docs/serving.md has the figures
behind the defaults.
"""

import argparse
import logging
import time

import numpy as np

from stages.lib.core.cli import run_stage
from stages.lib.serving.app import create_app
from stages.lib.serving.batching import Batching
from stages.lib.serving.classifier import Classifier, add_arguments, positive

log = logging.getLogger("serve")


def main(args):
    import uvicorn

    start = time.perf_counter()
    batching = Batching(args.max_batch, args.max_wait / 1000)
    classifier = Classifier(args.model, args.runtime, args.threads)
    classifier.answers(np.zeros((1, *classifier.preparation.shape), np.float32))  # warm up
    app = create_app(classifier, batching)
    log.info(
        "serving %s (%s, test accuracy %.4f) in %s, batches of at most %d after at most %g ms, "
        "loaded in %.1f s: open http://%s:%d/",
        classifier.name,
        classifier.dataset,
        classifier.test_accuracy,
        classifier.runtime,
        batching.max_batch,
        args.max_wait,
        time.perf_counter() - start,
        args.host,
        args.port,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)


def milliseconds(value: str) -> float:
    """--max-wait's type: 0 to 1,000 milliseconds."""
    try:
        wait = float(value)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= 1000:
        raise argparse.ArgumentTypeError(f"expected 0 to 1000 milliseconds, got {value!r}")
    return wait


def arguments(parser):
    add_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="the port to listen on (default: 8000)")
    parser.add_argument(
        "--max-batch",
        type=positive,
        default=Batching.max_batch,
        help=f"the most pictures the model takes in one call (default: {Batching.max_batch})",
    )
    parser.add_argument(
        "--max-wait",
        type=milliseconds,
        default=1000 * Batching.max_wait,
        help="milliseconds a batch may wait for more pictures once the model is free "
        f"(default: {1000 * Batching.max_wait:g}: none)",
    )


if __name__ == "__main__":
    run_stage(main, __doc__, arguments)
