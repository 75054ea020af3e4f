"""stages.predict's work on many files: the files its arguments name (files, folders, glob
patterns, @lists), read and prepared a few at a time in parallel, in batches for the
model, and each answer written as soon as its batch is done (text, CSV, JSON lines or
one JSON object)."""

import collections
import contextlib
import csv
import glob
import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, TextIO

import numpy as np

from stages.lib.core.errors import DataError
from stages.lib.data.pictures import PICTURE_SUFFIXES, Preparation, read_images

SUFFIXES = (*PICTURE_SUFFIXES, ".npy")
FORMATS = ("text", "csv", "jsonl", "json")


def expand(sources: Iterable[str]) -> Iterator[Path | DataError]:
    """The files `sources` name, in order: a file itself; a folder's PNG, JPEG and .npy
    files, sorted, in its subfolders too; a glob pattern's matches, sorted (** reaches into
    subfolders); @LIST: the files a text file lists, one per line (blank lines and lines
    starting with # skipped). A DataError, in its place, for a source that names none."""
    for source in sources:
        path = Path(source)
        if source.startswith("@") and not path.exists():
            try:
                lines = Path(source[1:]).read_text().splitlines()
            except OSError as error:
                yield DataError(f"cannot read the list {source[1:]}: {error.strerror}")
                continue
            yield from (Path(line.strip()) for line in lines if line.strip() and not line.startswith("#"))
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
            yield from files or [DataError(f"{path} holds no {', '.join(SUFFIXES)} file")]
        elif glob.has_magic(source) and not path.exists():
            matches = sorted(Path(match) for match in glob.glob(source, recursive=True))
            yield from matches or [DataError(f"no file matches {source}")]
        else:
            yield path  # read_images says what is wrong with it, if anything


class Batch(NamedTuple):
    files: int  # files read for it, usable or not
    # In the files' order, per image: its file and its index in a .npy file (None for a
    # picture); per file that could not be used: its name and what is wrong with it.
    entries: list[tuple[str, int | None | DataError]]
    images: np.ndarray  # the images of `entries`, in order


def _read(path: Path | DataError, preparation: Preparation) -> tuple[str, np.ndarray | DataError]:
    if isinstance(path, DataError):
        return "", path
    try:
        return str(path), read_images(path, preparation)
    except DataError as error:
        return str(path), error


def prepared_batches(
    paths: list[Path | DataError], preparation: Preparation, batch: int, workers: int
) -> Iterator[Batch]:
    """`paths` (expand's) read and prepared by `workers` processes (1: in this one), in
    order, `batch` files at a time, while the caller runs the model on the batch before.
    Processes, not threads: preparing a picture holds Python's lock, and threads took
    longer than one (docs/serving.md)."""
    chunks = [paths[start : start + batch] for start in range(0, len(paths), batch)]
    with contextlib.ExitStack() as stack:
        if workers > 1 and len(chunks) > 1:
            # forkserver: a fork of a process that has started no runtime's threads
            context = multiprocessing.get_context("forkserver")
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=context))
            reading = lambda chunk: pool.map(_read, chunk, [preparation] * len(chunk), chunksize=16)  # noqa: E731
        else:
            reading = lambda chunk: map(_read, chunk, [preparation] * len(chunk))  # noqa: E731
        ahead = collections.deque(reading(chunk) for chunk in chunks[:2])
        for number, chunk in enumerate(chunks):
            if number + 2 < len(chunks):  # two chunks in flight
                ahead.append(reading(chunks[number + 2]))
            entries, images = [], []
            for file, read in ahead.popleft():
                if isinstance(read, DataError):
                    entries.append((file, read))
                    continue
                images.append(read)
                npy = file.lower().endswith(".npy")
                entries.extend((file, index if npy else None) for index in range(len(read)))
            stacked = np.concatenate(images) if images else np.empty((0, *preparation.shape), np.float32)
            yield Batch(len(chunk), entries, stacked)


class Writer:
    """Answers written to `out` as they come, in `format` (one of FORMATS): text, one line
    per image, `FILE[INDEX]: CLASS (probability P)`; csv, a header and a row per image
    (file, index, class, probability, and p_CLASS per class); jsonl, one JSON object per
    image or unusable file; json, one object at the end, {"model": ..., "predictions":
    [...]}, as stages.serve answers. Unusable files also get a line on standard error."""

    def __init__(self, format: str, model: str, classes: list[str], out: TextIO | None = None):
        if format not in FORMATS:
            raise ValueError(f"format {format!r} is none of {', '.join(FORMATS)}")
        self.format, self.model, self.out = format, model, out or sys.stdout
        self.collected = []
        if format == "csv":
            self.table = csv.writer(self.out, lineterminator="\n")
            self.table.writerow(["file", "index", "class", "probability", *(f"p_{name}" for name in classes)])

    def answer(self, file: str, index: int | None, answer: dict) -> None:
        """One image's answer (Classifier.answers'): `index`, its index in a .npy file."""
        if self.format == "text":
            shown = file + (f"[{index}]" if index is not None else "")
            print(f"{shown}: {answer['class']} (probability {answer['probability']:.3f})", file=self.out)
        elif self.format == "csv":
            probabilities = [f"{p:.6g}" for p in answer["probabilities"].values()]
            row = [file, "" if index is None else index, answer["class"], f"{answer['probability']:.6g}"]
            self.table.writerow(row + probabilities)
        else:
            self._entry({"file": file, **({"index": index} if index is not None else {}), **answer})

    def error(self, file: str, error: DataError) -> None:
        """An unusable file: in the JSON formats, an entry of its own ({"file": ..., "error": ...})."""
        if self.format in ("jsonl", "json"):
            self._entry({"file": file, "error": str(error)})

    def _entry(self, entry: dict) -> None:
        if self.format == "jsonl":
            print(json.dumps(entry), file=self.out)
        else:
            self.collected.append(entry)

    def close(self) -> None:
        if self.format == "json":
            print(json.dumps({"model": self.model, "predictions": self.collected}, indent=2), file=self.out)
