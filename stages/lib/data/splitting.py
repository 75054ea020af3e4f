"""Splitting the labelled training images into the parts each decision uses."""

import numpy as np
from sklearn.model_selection import train_test_split

from stages.lib.core.errors import ParamsError
from stages.lib.data.duplicates import duplicate_groups, is_exact


def split_indices(labels: np.ndarray, validation_size: int, method: str, seed: int):
    """(train indices, validation indices), both sorted.

    last: the last `validation_size` examples validate (notebook 000's x[50000:]).
    stratified: a seeded random choice with each class's share kept in both parts.
    """
    n = len(labels)
    if not 0 < validation_size < n:
        raise ParamsError(
            f"validation size {validation_size} must be between 1 and {n - 1}: the data has {n} examples"
        )
    indices = np.arange(n)
    if method == "last":
        return indices[: n - validation_size], indices[n - validation_size :]
    if method == "stratified":
        try:
            train, validation = train_test_split(
                indices, test_size=validation_size, stratify=labels, random_state=seed
            )
        except ValueError as error:  # a class too rare to appear on both sides
            raise ParamsError(
                f"cannot stratify a validation set of {validation_size} of {n}: {error}"
            ) from None
        return np.sort(train), np.sort(validation)
    raise ParamsError(f"split method must be 'last' or 'stratified', got {method!r}")


def partition(
    labels: np.ndarray, *, validation_size: int, holdout_size: int, method: str, seed: int, groups=()
) -> dict:
    """Three disjoint, sorted index sets of the training images:
    - validation: the search scores its trials here (notebook 000's validation split);
    - holdout: split the same way out of the rest; only picks `final` between the
      finalists, so no hyperparameter was chosen on it;
    - search: the rest; the search trains its trials here.
    train_baseline and train_big train on search + holdout (notebook 000's 50,000).
    Each of `groups` (index arrays: copies of one picture) then moves wholly into the
    part that holds most of it, so that no copy is on both sides of a decision."""
    train, validation = split_indices(labels, validation_size, method, seed)
    search, holdout = split_indices(labels[train], holdout_size, method, seed)
    parts = {"search": train[search], "holdout": train[holdout], "validation": validation}
    part = np.zeros(len(labels), dtype=int)
    for number, index in enumerate(parts.values()):
        part[index] = number
    part = keep_together(part, groups)
    return {name: np.flatnonzero(part == number) for number, name in enumerate(parts)}


def balanced_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample of `size` examples with each class's share
    kept; all of them if there are no more than `size`."""
    if size >= len(labels):
        return np.arange(len(labels))
    chosen, _ = train_test_split(np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed)
    return np.sort(chosen)


def training_groups(groups: list[dict], kept: np.ndarray) -> list[np.ndarray]:
    """The training images of each group of copies (duplicates.json's records), as
    positions among the `kept` training images, where two or more remain."""
    position = {int(index): number for number, index in enumerate(kept)}
    found = [
        [position[index] for part, index in group["images"] if part == "train" and index in position]
        for group in groups
    ]
    return [np.array(members) for members in found if len(members) > 1]


def keep_together(part: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """`part` (each image's part number) with every group moved wholly into the part that
    holds most of it (on a tie, the lowest number)."""
    part = part.copy()
    for group in groups:
        part[group] = np.bincount(part[group]).argmax()
    return part


def copies_across(parts: dict[str, dict[str, np.ndarray]], threshold: float, movable: bool):
    """The groups of copies among all parts' images (each part a dict of arrays: x, y and
    maybe path), as records {"kind": exact or near, "images": [[part, index], ...]}, and
    the parts, where `movable`, with each group moved wholly into one (keep_together, in
    the parts' order); else the parts as they were."""
    names = list(parts)
    images = np.concatenate([parts[name]["x"] for name in names])
    part = np.repeat(np.arange(len(names)), [len(parts[name]["x"]) for name in names])
    groups = duplicate_groups(images, threshold)
    if movable and groups:
        part = keep_together(part, groups)
        everything = {key: np.concatenate([parts[name][key] for name in names]) for key in parts[names[0]]}
        parts = {name: {key: v[part == i] for key, v in everything.items()} for i, name in enumerate(names)}
    position = np.zeros(len(part), dtype=int)
    for i in range(len(names)):
        position[part == i] = np.arange((part == i).sum())
    records = [
        {
            "kind": "exact" if is_exact(images, group) else "near",
            "images": [[names[part[k]], int(position[k])] for k in group],
        }
        for group in groups
    ]
    return records, parts
