"""Classify your own pictures with a trained model (not a pipeline stage).

    python -m stages.predict [--model NAME | NAME@VERSION | NAME#STAGE] [--json] FILE [FILE ...]

A PNG or JPEG file holds one picture, of any size (16-bit, palette and transparent PNGs
and phones' MPO JPEGs too, read as a person sees them): it is made like the dataset's
images first, as preprocess made them (data/prepared/dataset.json): for MNIST
(dataset.centre mass), grayscale, dark on light or light on dark, fitted into a box of
20/28 of each side with its aspect ratio kept and centred by its centre of mass, as
MNIST's digits were made; for a folder dataset, resized to its image size with the
aspect ratio kept and padded, in grayscale or RGB (dataset.color). A .npy file holds one image or a
batch (n, height, width[, 3]) of the size the model takes, already like the dataset's.
Prints each image's predicted class, by the name the dataset gives it, and its
probability (with --json, one JSON object: the model's name and the answers, with every
class's probability, as stages.serve answers). A file that cannot be used gets an error
line and the exit status 1; the other files are still classified. The default model is
`final`, what evaluate chose (a finalist or their average; metrics/final.json says which); a
released version (classifier@v1.0.0) is fetched from DVC's cache at its commit.
"""

import json
import sys

from stages.lib.core.cli import import_tensorflow_quietly, run_stage
from stages.lib.core.errors import DataError
from stages.lib.data.pictures import read_images
from stages.lib.serving.classifier import Classifier, model_name


def main(args):
    import_tensorflow_quietly()
    classifier = Classifier(args.model)
    answers = []
    for path in args.files:
        try:
            images = read_images(path, classifier.preparation)
        except DataError as error:
            answers.append({"file": path, "error": str(error)})
            continue
        for index, answer in enumerate(classifier.answers(images)):
            answers.append({"file": path, **({"index": index} if path.endswith(".npy") else {}), **answer})
    if args.json:
        print(json.dumps({"model": classifier.name, "predictions": answers}, indent=2))
    for answer in answers:
        where = answer["file"] + (f"[{answer['index']}]" if "index" in answer else "")
        if "error" in answer:
            print(f"error: {answer['error']}", file=sys.stderr)
        elif not args.json:
            print(f"{where}: {answer['class']} (probability {answer['probability']:.3f})")
    if any("error" in answer for answer in answers):
        sys.exit(1)


def arguments(parser):
    parser.add_argument("files", nargs="+", metavar="FILE", help="PNG, JPEG or .npy files")
    parser.add_argument(
        "--model",
        type=model_name,
        default="final",
        help="which trained model: final (the default), baseline, big, mlp_final, cnn_final, or a "
        "released version, NAME@VERSION or NAME#STAGE (e.g. classifier@v1.0.0)",
    )
    parser.add_argument("--json", action="store_true", help="print the answers as JSON")


if __name__ == "__main__":
    run_stage(main, __doc__, arguments)
