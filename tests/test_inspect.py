"""What inspect and preprocess find in the data: copies planted in a folder dataset
(exact, re-encoded, resized, shifted) found and never on both sides of a split, a
cropped and enlarged copy found, one shape on other noise at another size not taken for
a copy, a copy in another class's folder listed as a label problem, labels flipped on
purpose found, the odd pictures and the class counts."""

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from stages.lib.core.errors import ParamsError
from stages.lib.core.specs import validate_spec
from stages.lib.data import alignment, duplicates
from stages.lib.data.decoding import load_pictures
from stages.lib.data.folders import list_pictures
from stages.lib.data.pictures import pad_to
from stages.lib.data.splitting import copies_across, keep_together, partition, training_groups
from stages.lib.inspection.checks import class_balance, imbalance, odd_pictures, picture_measures
from stages.lib.inspection.label_issues import confident_learning, out_of_sample_probabilities
from stages.lib.inspection.listing import conflicting_copies, dropped_images, duplicate_rows
from tests.picture_folders import SHAPES, write_pictures
from tests.workspaces import digits as real_digits


def plant_copies(root):
    """Copies of four pictures beside them (exact, JPEG re-encoded, twice as large, shifted
    one pixel) and one exact copy in another class's folder: {original: (how, its copy)}.
    The originals are of the prepared size (a shift of one pixel in a larger picture is a
    fraction of one once resized). The enlarged copy repeats each pixel: these pictures
    are mostly strong noise, which a smoothing resize changes by more than a copy's
    0.025 on average (docs/data.md; on MNIST's digits, bicubic copies are all found)."""

    def prepared_size(folder):
        return [path for path in sorted(folder.iterdir()) if Image.open(path).size == (24, 24)]

    originals = prepared_size(root / "ring")[:4] + prepared_size(root / "bar")[:1]
    planted = {}
    for original, how in zip(originals, ["exact", "jpeg", "resized", "shifted", "other class"], strict=True):
        image = Image.open(original)
        pixels = np.asarray(image)
        if how == "exact":
            copy = original.with_name(f"copy-{original.name}")
            shutil.copy(original, copy)
        elif how == "jpeg":
            copy = original.with_name(f"copy-{original.stem}.jpg")
            image.convert("L").save(copy, quality=80)
        elif how == "resized":
            copy = original.with_name(f"copy-{original.stem}.png")
            image.resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST).save(copy)
        elif how == "shifted":
            copy = original.with_name(f"copy-{original.stem}.png")
            Image.fromarray(np.roll(pixels, 1, axis=1)).save(copy)
        else:
            copy = root / "cross" / f"copy-{original.name}"
            shutil.copy(original, copy)
        planted[str(original)] = (how, str(copy))
    return planted


@pytest.fixture(scope="module")
def planted_dataset(tmp_path_factory):
    """One tree of class folders with planted copies, prepared as preprocess prepares it
    (test_fraction 0.3): the planted copies, the groups found and the parts."""
    root = tmp_path_factory.mktemp("copies") / "shapes"
    write_pictures(root, 30, seed=3)
    planted = plant_copies(root)
    listing = list_pictures(root, None, 0.3, seed=0)
    decoded, _ = load_pictures(listing, [24, 24], "grayscale", "none")
    parts = {
        part: {"x": x, "y": y, "path": np.array([str(path) for path, _ in listing.parts[part]])}
        for part, (x, y) in decoded.items()
    }
    groups, moved = copies_across(parts, duplicates.THRESHOLD, movable=True)
    return planted, groups, moved


def paths_of(group, parts):
    return {str(parts[part]["path"][index]) for part, index in group["images"]}


def test_every_planted_copy_is_found_with_its_original_and_nothing_else(planted_dataset):
    planted, groups, parts = planted_dataset
    found = [paths_of(group, parts) for group in groups]
    assert sorted(map(sorted, found)) == sorted(
        sorted({original, copy}) for original, (_, copy) in planted.items()
    )
    kinds = {
        how: group["kind"]
        for group in groups
        for original, (how, _) in planted.items()
        if original in paths_of(group, parts)
    }
    assert kinds["exact"] == kinds["other class"] == "exact"
    assert kinds["jpeg"] == kinds["resized"] == kinds["shifted"] == "near"


def test_no_group_straddles_train_and_test_or_the_split(planted_dataset):
    _, groups, parts = planted_dataset
    assert all(len({part for part, _ in group["images"]}) == 1 for group in groups)
    train_groups = training_groups(groups, np.arange(len(parts["train"]["y"])))
    split = partition(
        parts["train"]["y"],
        validation_size=12,
        holdout_size=12,
        method="stratified",
        seed=0,
        groups=train_groups,
    )
    where = np.empty(len(parts["train"]["y"]), dtype=object)
    for name, index in split.items():
        where[index] = name
    assert sum(map(len, split.values())) == len(parts["train"]["y"])
    assert train_groups and all(len(set(where[group])) == 1 for group in train_groups)


def test_the_copy_in_another_class_is_a_label_problem(planted_dataset):
    planted, groups, parts = planted_dataset
    rows = duplicate_rows(groups, parts, sorted(SHAPES))
    issues = conflicting_copies(rows)
    copied = next(original for original, (how, _) in planted.items() if how == "other class")
    assert set(issues["path"]) == {copied, planted[copied][1]}
    assert set(zip(issues["given"], issues["suggested"], strict=True)) == {("bar", "cross"), ("cross", "bar")}
    assert rows["different_labels"].sum() == 2


def silhouettes(count: int, rng) -> np.ndarray:
    """Dark, hard-edged ellipses of random size, place and tilt on light paper, 28x28."""
    rows, cols = np.mgrid[:28, :28].astype(np.float32)
    pictures = []
    for _ in range(count):
        (cr, cc), (a, b), tilt = rng.uniform(11, 17, 2), rng.uniform(4, 9, 2), rng.uniform(0, np.pi)
        u = (rows - cr) * np.cos(tilt) + (cols - cc) * np.sin(tilt)
        v = -(rows - cr) * np.sin(tilt) + (cols - cc) * np.cos(tilt)
        paper, ink = rng.uniform(0.7, 0.95), rng.uniform(0.0, 0.3)
        pictures.append(np.where((u / a) ** 2 + (v / b) ** 2 <= 1, ink, paper).astype(np.float32))
    return np.stack(pictures)


def test_a_cropped_copy_enlarged_back_and_padded_is_found_with_its_original_only():
    images = silhouettes(120, np.random.default_rng(4))
    # 2 pixels cut off each side, 3 off the bottom: prepared back to 28x28 with the
    # aspect ratio kept, it is enlarged 28/25 times and padded with a black column.
    cropped = pad_to(images[7][0:25, 2:26], (28, 28))
    assert (cropped[:, 0] == 0).all() or (cropped[:, -1] == 0).all()
    groups = duplicates.duplicate_groups(np.concatenate([images, cropped[None]]))
    assert [group.tolist() for group in groups] == [[7, 120]]


def test_one_shape_on_other_noise_at_another_size_is_no_copy(tmp_path):
    """Each shape drawn on its own noise, in its own colour, at two sizes: enlarged to one
    size, the pairs of one shape are alike in ink, and only the noise tells them apart."""
    write_pictures(tmp_path, 180, seed=0, color=True, sizes=((40, 40), (60, 48)))
    decoded, _ = load_pictures(list_pictures(tmp_path, None, 0.2, seed=42), "auto", "rgb", "none")
    assert duplicates.duplicate_groups(np.concatenate([x for x, _ in decoded.values()])) == []


def test_without_copies_the_split_is_as_before():
    labels = np.random.default_rng(0).integers(0, 3, 300)
    for method in ("last", "stratified"):
        plain = partition(labels, validation_size=50, holdout_size=40, method=method, seed=1)
        grouped = partition(labels, validation_size=50, holdout_size=40, method=method, seed=1, groups=[])
        assert all(np.array_equal(plain[name], grouped[name]) for name in plain)


def test_the_window_bound_never_exceeds_the_difference_it_rules_out_pairs_by():
    """Random pictures, smooth ones and shifted near-copies: the cheap bound is at most
    the exact aligned difference for every pair, and the copies it must keep it keeps."""
    rng = np.random.default_rng(3)
    noise = rng.random((400, 28, 28), dtype=np.float32)
    smooth = np.stack([np.outer(np.hanning(28), np.hanning(28)) * rng.random()] * 200).astype(np.float32)
    a = np.concatenate([noise[:200], smooth, noise[200:]])
    b = np.concatenate([noise[200:], smooth[::-1], np.roll(noise[200:], (1, -2), axis=(1, 2)) + 0.01])
    windows = alignment.window_means
    bound = alignment.lower_bound(windows(a), windows(b))
    exact = alignment.difference(a, b)
    assert (bound <= exact + alignment.ROUNDING).all()
    assert (exact[-200:] <= 0.0101).all() and (bound[-200:] <= 0.06).all()  # the shifted copies
    assert (bound[:200] > 0.06).all()  # unrelated noise: ruled out without the exact comparison


def test_a_group_moves_to_the_part_holding_most_of_it():
    part = np.array([0, 0, 1, 2, 2, 1])
    moved = keep_together(part, [np.array([0, 2, 5]), np.array([3, 1])])
    assert moved.tolist() == [1, 0, 1, 0, 2, 1]  # 1 holds two of three; a tie goes to the lower part


def test_drop_names_the_label_issues_and_the_training_copies_of_test_images():
    issues = pd.DataFrame({"part": "train", "index": [7, 3]})
    rows = pd.DataFrame(
        {
            "group": [0, 0, 1, 1],
            "part": ["train", "test", "train", "train"],
            "index": [5, 0, 1, 2],
            "across": [True, True, False, False],
        }
    )
    assert dropped_images([], issues, rows) == []
    assert dropped_images(["label_issues"], issues, rows) == [3, 7]
    assert dropped_images(["label_issues", "test_duplicates"], issues, rows) == [3, 5, 7]


@pytest.mark.slow
def test_labels_flipped_on_purpose_are_found(dataset_folder):
    (x, y), _ = real_digits(dataset_folder, train_size=3000)
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), 60, replace=False)
    noisy = y.copy()
    noisy[flipped] = (noisy[flipped] + rng.integers(1, 10, len(flipped))) % 10
    spec = validate_spec(
        {"family": "mlp", "hidden_units": [128], "dropout": 0.0, "optimizer": "adam", "learning_rate": 0.002},
        "test",
    )
    probabilities = out_of_sample_probabilities(x, noisy, 10, spec, folds=4, epochs=8, batch_size=128, seed=0)
    issues = confident_learning(noisy, probabilities, "prune_by_class")
    found = np.isin(flipped, issues["index"])
    assert found.mean() >= 0.8, found.mean()  # recall
    assert np.isin(issues["index"], flipped).mean() >= 0.4, len(issues)  # precision
    assert (issues["score"].diff().dropna() >= 0).all()  # most doubtful first
    assert (issues["suggested"] != issues["given"]).mean() > 0.9


def test_too_few_images_of_a_class_for_the_folds_is_one_line():
    spec = validate_spec(
        {"family": "mlp", "hidden_units": [8], "dropout": 0.0, "optimizer": "adam", "learning_rate": 0.01},
        "test",
    )
    x, y = np.zeros((12, 4, 4), np.float32), np.array([0] * 10 + [1] * 2)
    with pytest.raises(ParamsError, match="folds is 4, but class 1 has 2 training images"):
        out_of_sample_probabilities(x, y, 2, spec, folds=4, epochs=1, batch_size=4, seed=0)


def test_odd_pictures_and_class_counts():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (200, 12, 12)).astype(np.float32) * (rng.uniform(0, 1, (200, 12, 12)) < 0.2)
    images[5] = 0.4  # blank
    images[9] = 1.0 - images[9]  # far lighter than the rest
    odd = odd_pictures(picture_measures(images))
    assert odd.loc[5, "reason"].startswith("blank") and "light" in odd.loc[9, "reason"]
    assert set(odd.index) == {5, 9}
    counts = class_balance({"train": np.array([0, 0, 0, 1]), "test": np.array([1, 1])}, ["a", "b"])
    assert counts.to_dict() == {"train": {"a": 3, "b": 1}, "test": {"a": 0, "b": 2}, "all": {"a": 3, "b": 3}}
    assert imbalance(counts["train"]) == 3.0 and imbalance(counts["test"]) == float("inf")
