"""Classify your own digits with a trained model (not a pipeline stage).

    python -m stages.predict [--model NAME] [--json] FILE [FILE ...]

A PNG or JPEG file holds one handwritten digit, of any size, dark on light or light on
dark: it is made MNIST-like first (grayscale, fitted into 20x20 with its aspect ratio
kept, centred by its centre of mass in 28x28). A .npy file holds one 28x28 image or a
batch (n, 28, 28), already MNIST-like. Prints each image's predicted digit and its
probability (with --json, one JSON object: the model's name and the answers). A file
that cannot be used gets an error line and the exit status 1; the other files are
still classified. The default model is `final`: the finalist with the better held-out
accuracy, as evaluate chooses it.
"""

import json
import sys

from stages.lib.cli import run_stage
from stages.lib.digits import read_images
from stages.lib.errors import DataError
from stages.lib.evaluation import final_model_name
from stages.lib.paths import FINALISTS, model_path
from stages.lib.training import load_model

MODELS = ("final", "baseline", "big", *(f"{space}_final" for space in FINALISTS))


def main(args):
    name = final_model_name() if args.model == "final" else args.model
    model = load_model(model_path(name))
    answers = []
    for path in args.files:
        try:
            images = read_images(path)
        except DataError as error:
            answers.append({"file": path, "error": str(error)})
            continue
        probabilities = model.predict(images, verbose=0)
        for index, row in enumerate(probabilities):
            answers.append({"file": path, **({"index": index} if path.endswith(".npy") else {}),
                            "digit": int(row.argmax()), "probability": float(row.max())})
    if args.json:
        print(json.dumps({"model": name, "predictions": answers}, indent=2))
    for answer in answers:
        where = answer["file"] + (f"[{answer['index']}]" if "index" in answer else "")
        if "error" in answer:
            print(f"error: {answer['error']}", file=sys.stderr)
        elif not args.json:
            print(f"{where}: {answer['digit']} (probability {answer['probability']:.3f})")
    if any("error" in answer for answer in answers):
        sys.exit(1)


def arguments(parser):
    parser.add_argument("files", nargs="+", metavar="FILE", help="PNG, JPEG or .npy files")
    parser.add_argument("--model", choices=MODELS, default="final", help="which trained model (default: final)")
    parser.add_argument("--json", action="store_true", help="print the answers as JSON")


if __name__ == "__main__":
    run_stage(main, __doc__, arguments)
