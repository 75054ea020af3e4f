"""The images each check flags, as rows a user can act on: the part, the image's index in
that part's file (data/prepared/PART.npz), its class names and, for a folder dataset,
its file."""

import pandas as pd


def named(frame: pd.DataFrame, part: str, arrays: dict, classes: list[str] | None = None) -> pd.DataFrame:
    """`frame` (indexed by image index in `part`) with part, index and path first, and its
    given and suggested classes by name."""
    index = frame.index.to_numpy()
    rows = pd.DataFrame({"part": part, "index": index})
    if "path" in arrays:
        rows["path"] = arrays["path"][index]
    rows = pd.concat([rows, frame.reset_index(drop=True)], axis=1)
    for column in ("given", "suggested"):
        if classes is not None and column in rows:
            rows[column] = [classes[label] for label in rows[column]]
    return rows


def duplicate_rows(groups: list[dict], parts: dict, classes: list[str]) -> pd.DataFrame:
    """One row per image of each group of copies: group number, kind (exact or near),
    part, index, label, path; across: the group has train and test images;
    different_labels: its copies carry more than one label (a label problem)."""
    rows = []
    for number, group in enumerate(groups):
        labels = {int(parts[part]["y"][index]) for part, index in group["images"]}
        across = len({part for part, _ in group["images"]}) > 1
        for part, index in group["images"]:
            row = {"group": number, "kind": group["kind"], "part": part, "index": index}
            if "path" in parts[part]:
                row["path"] = parts[part]["path"][index]
            label = classes[int(parts[part]["y"][index])]
            rows.append({**row, "label": label, "across": across, "different_labels": len(labels) > 1})
    columns = ["group", "kind", "part", "index", "label", "across", "different_labels"]
    frame = pd.DataFrame(rows, columns=None if rows else columns)
    return frame.astype({"group": int, "index": int, "across": bool, "different_labels": bool})


def dropped_images(reasons: list[str], issues: pd.DataFrame, duplicates: pd.DataFrame) -> list[int]:
    """The training images inspect.drop names, sorted: label_issues, the listed training
    label issues; test_duplicates, the training copies of a test image."""
    dropped = set()
    if "label_issues" in reasons:
        dropped |= set(issues["index"].tolist())
    if "test_duplicates" in reasons:
        across = duplicates[duplicates["across"] & (duplicates["part"] == "train")]
        dropped |= set(across["index"].tolist())
    return sorted(int(index) for index in dropped)


def conflicting_copies(duplicates: pd.DataFrame) -> pd.DataFrame:
    """The images of each group of copies whose copies carry different labels, as label
    issues: given, the image's label; suggested, the other labels its copies carry."""
    conflicting = duplicates[duplicates["different_labels"]]
    rows = conflicting.drop(columns=["kind", "across", "different_labels"]).rename(columns={"label": "given"})
    rows["suggested"] = [
        " or ".join(sorted(set(conflicting.loc[conflicting["group"] == group, "label"]) - {given}))
        for group, given in zip(rows["group"], rows["given"], strict=True)
    ]
    return rows.drop(columns="group").assign(reason="a copy carries another label")
