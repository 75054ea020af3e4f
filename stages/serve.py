"""Serve a trained model on a local web page and a JSON API (not a pipeline stage).

    python -m stages.serve [--model NAME | NAME@VERSION | NAME#STAGE] [--host HOST] [--port PORT]

Open http://127.0.0.1:8000/ to draw a picture (or upload one) and watch the class
probabilities. POST /predict takes PNG or JPEG files as multipart/form-data (at most 32,
5 MB and 100 million pixels in all, sent within 30 s; at most 32 such requests at once),
prepares each as `stages.predict` does and answers JSON: the model and, per file, its
class's name, that class's probability and every class's:

    curl -F file=@digit.png http://127.0.0.1:8000/predict

GET /health answers the model's name and test accuracy (metrics/evaluate.json). Bad input
gets a 4xx and one line of JSON, {"error": ...}. The default model is `final`, the finalist
evaluate chose; `--model classifier@v1.0.0` serves a version registered with GTO, fetched
from DVC's cache at its commit (README, "Release"). It listens on 127.0.0.1 only, unless
--host says otherwise (0.0.0.0: every network interface, for other machines to reach it).
"""

import logging
import time

import numpy as np

from stages.lib.core.cli import import_tensorflow_quietly, run_stage
from stages.lib.serving.app import create_app
from stages.lib.serving.classifier import Classifier, model_name

log = logging.getLogger("serve")


def main(args):
    import uvicorn

    start = time.perf_counter()
    import_tensorflow_quietly()
    classifier = Classifier(args.model)
    classifier.answers(np.zeros((1, *classifier.preparation.shape), np.float32))  # warm up
    app = create_app(classifier)
    log.info(
        "serving %s (%s, test accuracy %.4f), loaded in %.1f s: open http://%s:%d/",
        classifier.name,
        classifier.dataset,
        classifier.test_accuracy,
        time.perf_counter() - start,
        args.host,
        args.port,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)


def arguments(parser):
    parser.add_argument(
        "--model",
        type=model_name,
        default="final",
        help="which trained model: final (the default), baseline, big, mlp_final, cnn_final, or a "
        "released version, NAME@VERSION or NAME#STAGE (e.g. classifier@v1.0.0, classifier#prod)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="the port to listen on (default: 8000)")


if __name__ == "__main__":
    run_stage(main, __doc__, arguments)
