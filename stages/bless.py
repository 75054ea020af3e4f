"""Stage bless: whether `final` may ship, decided on the holdout images as every choice
is (the test images choose nothing). `final` is blessed when its holdout accuracy is at
least release.min_accuracy and the released model is not better on the same images
beyond the noise (McNemar's exact test at `significance`). The released model is GTO's
version of the artifact `classifier` assigned to release.stage (else its latest
registered version), fetched from DVC's cache at its commit; with no release tag, the
floor alone decides; a released model that takes other images (another dataset) cannot
be compared, and that check fails. The floor takes `final`'s holdout count from
evaluate's record (metrics/final.json); TensorFlow is loaded only to score a release.
Writes metrics/bless.json; the export stage ships only a blessed model, or any with
release.force: true.

Reads the git tags as they are when it runs: after `gto assign`, `dvc repro -f -s bless`
checks the model again against the newly assigned version.
"""

import logging
import tempfile
from pathlib import Path

from stages.lib.core.artifacts import load_arrays, read_json, write_json
from stages.lib.core.blessing import NO_RELEASE, bless, compare
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.decisions import Candidate
from stages.lib.core.model_files import load_model, load_trained, right_answers
from stages.lib.core.paths import BLESSING, FINAL_CHOICE, SPLIT_DIR
from stages.lib.serving.releases import Release, fetch, released

log = logging.getLogger("bless")


def compared(name: str, release: Release, significance: float) -> dict | str:
    """`name` and the released model scored on the holdout images and compared, or why
    they cannot be (the released one takes other images)."""
    x, y = load_arrays(SPLIT_DIR / "holdout.npz", "x", "y")
    model = load_trained(name)
    with tempfile.TemporaryDirectory() as folder:
        released_model = load_model(fetch(release, ["final.keras"], Path(folder))["final.keras"])
    shapes = [(m.input_shape[1:], m.output_shape[1]) for m in (released_model, model)]
    if shapes[0] != shapes[1]:
        return (
            f"the released {release} takes images of {shapes[0][0]} into {shapes[0][1]} classes, "
            f"{name} {shapes[1][0]} into {shapes[1][1]}: they cannot be compared"
        )
    return compare(
        Candidate(name, right_answers(model, x, y), 0.0),
        Candidate(f"{release}", right_answers(released_model, x, y), 0.0),
        significance,
    )


def main(args):
    params = load_params()
    # evaluate scored `final` on the holdout images when it chose it (metrics/final.json)
    choice = read_json(FINAL_CHOICE)
    name = choice["kept"]
    release = released(params.release.stage)
    blessing = bless(
        name,
        choice["candidates"][name]["right"],
        choice["images"],
        NO_RELEASE if release is None else compared(name, release, params.significance),
        min_accuracy=params.release.min_accuracy,
        force=params.release.force,
    )
    write_json(BLESSING, blessing)
    log.info(blessing["outcome"])


if __name__ == "__main__":
    run_stage(main, __doc__)
