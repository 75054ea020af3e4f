"""What a change does to the pipeline's results, for a pull request's review (not a
pipeline stage):

    python -m stages.pr_report [--base REV] [--out FOLDER]

Writes FOLDER/report.md (default pr-report/) comparing this workspace with the commit
REV (default main): the blessing, each decision that changed in one sentence, what `dvc
metrics diff` and `dvc params diff` show, and a PNG of each model's training curves that
changed (REV's dashed, this workspace's solid). REV's files are read as DVC reads any revision:
the metrics from git, the curves from DVC's cache (or remote). `make pr-report BASE=main`
runs it; .github/workflows/pr-report.yml posts the report on a pull request with CML.
"""

import io
import json
from pathlib import Path

import pandas as pd

from stages.lib.core.cli import run_stage
from stages.lib.core.paths import BLESSING, FINAL_CHOICE, FINALISTS, METRICS_DIR, TRAINED_MODELS, duel_path
from stages.lib.core.paths import training_log_dir as log_dir

# Each recorded decision: where it is, and the key holding it within that file (if any).
DECISIONS = {
    **{f"cv_search@{s}": (METRICS_DIR / "cv_search" / s / "metrics.json", "decision") for s in FINALISTS},
    **{f"train_final@{s}": (duel_path(s), None) for s in FINALISTS},
    "evaluate (final)": (FINAL_CHOICE, None),
    "bless": (BLESSING, None),
}
CURVES = ("train/accuracy", "eval/accuracy", "train/loss", "eval/loss")


def at(base: str | None, path: Path) -> str | None:
    """The file's text at the commit `base` (None: in this workspace), or None if absent."""
    if base is None:
        return path.read_text() if path.exists() else None
    import dvc.api
    from dvc.exceptions import DvcException

    try:
        return dvc.api.read(str(path), rev=base)
    except (DvcException, FileNotFoundError):  # absent at that commit, or never pushed
        return None


def dvc_diffs(base: str) -> dict[str, dict]:
    """`dvc metrics diff` and `dvc params diff` against `base`: per kind, per file, per
    key, its old and new value (None where absent) and the difference of numbers."""
    from dvc.repo import Repo

    with Repo() as repo:
        return {
            "metrics": repo.metrics.diff(a_rev=base)["diff"],
            "params": repo.params.diff(a_rev=base)["diff"],
        }


def diff_table(changes: dict[str, dict], base: str) -> str:
    rows = [
        f"| {path} | {key} | {value['old']} | {value['new']} | {value.get('diff', '')} |"
        for path, keys in changes.items()
        for key, value in sorted(keys.items())
    ]
    header = [f"| file | key | {base} | this change | difference |", "| --- | --- | --- | --- | --- |"]
    return "\n".join(header + rows) if rows else "None changed."


def decision(text: str | None, key: str | None) -> dict | None:
    if text is None:
        return None
    record = json.loads(text)
    return record.get(key) if key else record


def said(record: dict | None) -> str:
    """A decision's outcome, with its p-value where there was a test."""
    if record is None:
        return "none"
    if "floor" in record:  # the blessing: its outcome names its counts and p
        return record["outcome"]
    p = (
        record["comparison"].get("p_value")
        if isinstance(record.get("comparison"), dict)
        else record.get("p_value")
    )
    return f"{record['outcome']}" + (f" (p = {p:.2g})" if p is not None else "")


def changed_decisions(base: str) -> list[str]:
    lines = []
    for name, (path, key) in DECISIONS.items():
        old, new = decision(at(base, path), key), decision(at(None, path), key)
        if said(old) != said(new):
            lines.append(f"- **{name}**: was {said(old)}; now {said(new)}.")
    return lines or ["No decision changed."]


def curves(base: str | None, model: str) -> dict[str, pd.DataFrame]:
    found = {}
    for curve in CURVES:
        text = at(base, log_dir(model) / "plots" / "metrics" / f"{curve}.tsv")
        if text is not None:
            found[curve] = pd.read_csv(io.StringIO(text), sep="\t")
    return found


def plot_changed_curves(base: str, out: Path) -> list[Path]:
    """A PNG per model whose curves changed: accuracy and loss per epoch, training and held out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for model in TRAINED_MODELS:
        old, new = curves(base, model), curves(None, model)
        if all(old.get(c) is not None and new.get(c) is not None and old[c].equals(new[c]) for c in CURVES):
            continue
        figure, axes = plt.subplots(1, 2, figsize=(10, 4))
        for axis, metric in zip(axes, ("accuracy", "loss"), strict=True):
            for part, colour in (("train", "tab:blue"), ("eval", "tab:orange")):
                for frame, style, when in ((old, "--", base), (new, "-", "this change")):
                    if (table := frame.get(f"{part}/{metric}")) is not None:
                        steps, values = table["step"] + 1, table[metric]
                        axis.plot(steps, values, style, marker=".", color=colour, label=f"{part}, {when}")
            axis.set(title=f"{model}: {metric}", xlabel="epoch")
            axis.legend(fontsize=8)
        path = out / f"curves_{model}.png"
        figure.savefig(path, dpi=80, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    return written


def report(base: str, out: Path) -> str:
    blessing = decision(at(None, BLESSING), None)
    figures = plot_changed_curves(base, out)
    diffs = dvc_diffs(base)
    return "\n".join(
        [
            f"# What this change does, against {base}",
            "",
            "## Release",
            said(blessing) if blessing else "No blessing: run `dvc repro` first.",
            "",
            "## Decisions",
            *changed_decisions(base),
            "",
            "## Metrics (the blessing's record, metrics/bless.json, is under Release)",
            diff_table(
                {path: keys for path, keys in diffs["metrics"].items() if path != str(BLESSING)}, base
            ),
            "",
            "## Params",
            diff_table(diffs["params"], base),
            "",
            "## Training curves that changed",
            *([f"![{path.stem}]({path.name})" for path in figures] or ["None."]),
            "",
        ]
    )


def main(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("curves_*.png"):
        old.unlink()
    (out / "report.md").write_text(report(args.base, out))
    print(f"wrote {out / 'report.md'}")


def arguments(parser):
    parser.add_argument("--base", default="main", help="the commit to compare with (default: main)")
    parser.add_argument("--out", default="pr-report", help="the folder to write to (default: pr-report)")


if __name__ == "__main__":
    run_stage(main, __doc__, arguments)
