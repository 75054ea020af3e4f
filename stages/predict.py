"""Classify your own pictures with a trained model (not a pipeline stage).

    python -m stages.predict [--model NAME | NAME@VERSION | NAME#STAGE] [--format text|csv|jsonl|json]
        [--runtime auto|onnx|litert|keras] [--threads N] [--batch N] [--workers N] SOURCE [SOURCE ...]

A SOURCE is a file, a folder (its PNG, JPEG and .npy files, in its subfolders too), a
glob pattern in quotes ('scans/**/*.png') or @LIST, a text file naming one file per line.
A PNG or JPEG file holds one picture, of any size (16-bit, palette and transparent PNGs
and phones' MPO JPEGs too, read as a person sees them): it is made like the dataset's
images first, as preprocess made them (data/prepared/dataset.json): for MNIST
(dataset.centre mass), grayscale, dark on light or light on dark, fitted into a box of
20/28 of each side with its aspect ratio kept and centred by its centre of mass, as
MNIST's digits were made; for a folder dataset, resized to its image size with the
aspect ratio kept and padded, in grayscale or RGB (dataset.color). A .npy file holds one image or a
batch (n, height, width[, 3]) of the size the model takes, already like the dataset's.

Prints each image's predicted class, by the name the dataset gives it, and its
probability, as each batch is done: one line per image (text, the default), a CSV table
with every class's probability (csv), a JSON object per line (jsonl), or one JSON object
at the end, the model's name and the answers, as stages.serve answers (json; --json for
short). A progress bar shows on a terminal. A file that cannot be used gets an error line
on standard error, and the exit status 1; the other files are still classified. The
files are read --workers at a time and go to the model --batch at a time, which runs in
the runtime of the model's export (ONNX Runtime), or in Keras where it has no current
export (a line on standard error says so). The default model is `final`, what evaluate
chose (a finalist or their average; metrics/final.json says which); a released version
(classifier@v1.0.0) is fetched from DVC's cache at its commit.
"""

import logging
import os
import sys

from stages.lib.core.cli import run_stage
from stages.lib.core.errors import DataError
from stages.lib.serving.classifier import Classifier, add_arguments, positive
from stages.lib.serving.many_files import FORMATS, Writer, expand, prepared_batches


def main(args):
    from tqdm import tqdm

    # Notices on standard error: standard output is the answers'.
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr, force=True)
    # Its threads sleep between batches: they would spin on the cores that read the files.
    classifier = Classifier(args.model, args.runtime, args.threads, spinning=False)
    paths = list(expand(args.sources))
    writer = Writer(args.format, classifier.name, classifier.classes)
    failed = 0
    with tqdm(total=len(paths), unit="file", disable=None, file=sys.stderr) as progress:
        for batch in prepared_batches(paths, classifier.preparation, args.batch, args.workers):
            answers = iter(classifier.answers(batch.images) if len(batch.images) else [])
            for file, index in batch.entries:
                if isinstance(index, DataError):
                    progress.write(f"error: {index}", file=sys.stderr)
                    writer.error(file, index)
                    failed += 1
                else:
                    writer.answer(file, index, next(answers))
            writer.out.flush()  # each batch's answers as soon as they are known
            progress.update(batch.files)
    writer.close()
    if failed:
        sys.exit(1)


def arguments(parser):
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="PNG, JPEG or .npy files, folders, glob patterns, @LIST files",
    )
    add_arguments(parser)
    parser.add_argument(
        "--format", choices=FORMATS, default="text", help="how to print the answers (default: text)"
    )
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="--format json")
    parser.add_argument(
        "--batch", type=positive, default=256, help="files classified in one model call (default: 256)"
    )
    parser.add_argument(
        "--workers",
        type=positive,
        default=os.cpu_count(),
        help="files read and prepared at once (default: one per core)",
    )


if __name__ == "__main__":
    run_stage(main, __doc__, arguments)
