import re

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml

from stages.lib.core.config import Params
from stages.lib.core.costs import TRAINING_COST
from stages.lib.core.decisions import Candidate, alone, record
from stages.lib.core.intervals import wilson_interval
from stages.lib.core.params import checked
from stages.lib.core.search_config import CvSearch
from stages.lib.report.curves import learning_curves, overfitting
from stages.lib.report.data_section import (
    data_section,
    disputed_section,
    disputed_test_labels,
    label_ranking,
)
from stages.lib.report.evaluation import (
    calibration,
    confusion,
    most_confident_mistakes,
    most_confused,
    per_class,
    summarize,
)
from stages.lib.report.figures import plot_gallery
from stages.lib.report.markdown import Run, write_report
from stages.lib.report.protocol import preparation
from stages.lib.search.results import SEARCH_COST
from tests import REPO


def test_calibration_error_is_the_weighted_gap_between_confidence_and_accuracy():
    # 10 predictions at confidence 0.9 (all right) and 10 at 0.6 (3 right).
    probabilities = np.zeros((20, 2))
    probabilities[:10] = [0.9, 0.1]
    probabilities[10:] = [0.6, 0.4]
    y = np.array([0] * 10 + [0] * 3 + [1] * 7)
    ece, table = calibration(y, probabilities, bins=10)
    assert ece == pytest.approx((10 * 0.1 + 10 * 0.3) / 20)
    assert table["count"].tolist() == [10, 10]
    assert table["accuracy"].tolist() == pytest.approx([0.3, 1.0])
    assert table["confidence"].tolist() == pytest.approx([0.6, 0.9])
    assert table["lower"].tolist() == pytest.approx([0.5, 0.8]) and table["upper"].tolist() == pytest.approx(
        [0.6, 0.9]
    )


def test_a_calibrated_model_has_no_calibration_error():
    probabilities = np.tile([0.75, 0.25], (8, 1))
    ece, _ = calibration(np.array([0, 0, 0, 1, 0, 0, 0, 1]), probabilities)
    assert ece == pytest.approx(0.0)


def test_most_confused_pairs_are_the_largest_off_diagonal_cells():
    frame = confusion(
        np.array([0, 0, 0, 1, 1, 2, 2, 2, 2]), np.array([0, 1, 1, 1, 0, 2, 1, 1, 1]), ["a", "b", "c"]
    )
    pairs = most_confused(frame)
    assert pairs[["true", "predicted", "count"]].values.tolist() == [
        ["c", "b", 3],
        ["a", "b", 2],
        ["b", "a", 1],
    ]
    assert pairs["share of true class"].tolist() == pytest.approx([3 / 4, 2 / 3, 1 / 2])


def test_most_confident_mistakes_come_first():
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7], [0.45, 0.55], [0.2, 0.8]])
    assert most_confident_mistakes(np.array([0, 0, 0, 0]), probabilities).tolist() == [3, 1, 2]
    assert most_confident_mistakes(np.array([0, 1, 1, 1]), probabilities).size == 0


def write_dvclive(folder, train_loss, held_out_loss):
    for split, losses in (("train", train_loss), ("eval", held_out_loss)):
        (folder / "metrics" / split).mkdir(parents=True, exist_ok=True)
        for metric, values in (("loss", losses), ("accuracy", [1 - value for value in losses])):
            pd.DataFrame({"step": range(len(values)), metric: values}).to_csv(
                folder / "metrics" / split / f"{metric}.tsv", sep="\t", index=False
            )
    return folder


def test_learning_curves_read_dvclive_tsvs_by_epoch(tmp_path):
    curves = learning_curves(write_dvclive(tmp_path, [0.5, 0.3, 0.2], [0.4, 0.35, 0.45]))
    assert curves.index.tolist() == [1, 2, 3]
    assert curves["held_out_loss"].tolist() == [0.4, 0.35, 0.45]
    assert curves["train_accuracy"].tolist() == pytest.approx([0.5, 0.7, 0.8])


def test_overfitting_names_the_best_epoch_or_says_there_was_none(tmp_path):
    curves = learning_curves(write_dvclive(tmp_path / "a", [0.5, 0.3, 0.2], [0.4, 0.35, 0.45]))
    assert "lowest at epoch 2 (0.3500) and rose to 0.4500 by epoch 3" in overfitting(curves)
    assert "training loss fell from 0.3000 to 0.2000" in overfitting(curves)
    curves = learning_curves(write_dvclive(tmp_path / "b", [0.5, 0.3], [0.4, 0.35]))
    assert "still falling at epoch 2: it did not overfit yet" in overfitting(curves)


CLASSES = ["ring", "bar", "cross"]


def toy_study(method):
    """A study like cv_search's: the default and a challenger, complete, 5 images apart
    on 1,000 (a tie), one trial pruned after an epoch and one failed."""
    import optuna

    from stages.lib.search.objectives import pack
    from stages.lib.search.results import decide, summary, trial_table

    study = optuna.create_study(direction="maximize")
    distribution = optuna.distributions.IntDistribution(1, 4)
    for number, (state, correct, epochs) in enumerate(
        [("COMPLETE", 900, 2), ("COMPLETE", 905, 2), ("PRUNED", 700, 1), ("FAIL", None, None)]
    ):
        attrs = {"spec": {"a": number}, "multiply_adds": 1000 * (number + 1), "worker": "host:1"}
        attrs.update(default=number == 0, microseconds_per_image=100.0 * (number + 1))
        if correct is not None:
            attrs.update(correct=correct, images=1000, epochs=epochs, seconds=1.5)
            attrs.update(right=pack(np.arange(1000) >= 1000 - correct))
        if method == "grid_cv" and state == "COMPLETE":
            attrs.update(folds=[correct / 1000 - 0.01, correct / 1000 + 0.01], std=0.0141)
        study.add_trial(
            optuna.trial.create_trial(
                state=getattr(optuna.trial.TrialState, state),
                params={"a": number + 1},
                distributions={"a": distribution},
                value=correct / 1000 if state == "COMPLETE" else None,
                user_attrs=attrs,
                intermediate_values={}
                if method == "grid_cv" or correct is None
                else {epoch: correct / 1000 - 0.01 * (epochs - epoch) for epoch in range(1, epochs + 1)},
            )
        )
    raw = yaml.safe_load((REPO / "params.yaml").read_text())["cv_search"]
    raw["method"] = method
    for space in raw["spaces"].values():  # grid_cv needs each space's grid
        space["grid"] = {"dropout": [0.0, 0.5]}
    kept, decision = decide(study, checked(CvSearch, raw, "cv_search").method, 0.05)
    return study, trial_table(study, kept), summary(study, kept, decision)


def duels(challenger_right: int, average_right: int | None = None) -> dict:
    """train_final's records: mlp's search kept its default (no duel); cnn's kept a
    challenger, which gets `challenger_right` of 150 holdout images right against the
    default's 140 (the first 140 for both); their average gets `average_right` right, by
    default the better one's."""
    default, challenger = np.arange(150) < 140, np.arange(150) < challenger_right
    return {
        "mlp": {
            "duel": False,
            **alone(
                Candidate("default", np.arange(150) < 135, 94.0),
                cost=TRAINING_COST,
                outcome="no duel: cv_search kept the default",
            ),
        },
        "cnn": {
            "duel": True,
            **record(
                Candidate("default", default, 232.0),
                Candidate("challenger", challenger, 240.0),
                significance=0.05,
                cost=TRAINING_COST,
                ensemble=Candidate(
                    "default+challenger",
                    default | challenger if average_right is None else np.arange(150) < average_right,
                    472.0,
                ),
            ),
        },
    }


def small_run(tmp_path, method="optuna", challenger_right=149, average_right=None):
    """A Run of three named classes and 60 test images of 12x16 pixels with made-up but
    consistent outputs; `challenger_right`: see duels()."""
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    models = ("baseline", "big", "mlp_final", "cnn_final")
    probabilities = {}
    for number, name in enumerate(models):
        logits = rng.normal(size=(60, 3)) + (1 + number / 2) * np.eye(3)[y]
        probabilities[name] = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probabilities["finalists"] = (probabilities["mlp_final"] + probabilities["cnn_final"]) / 2
    probabilities["random_guess"] = np.full((60, 3), 1 / 3)
    probabilities["final"] = probabilities["cnn_final"]
    predictions = {name: p.argmax(axis=1) for name, p in probabilities.items()}
    study, search, search_summary = toy_study(method)
    x = rng.random((60, 12, 16))
    figures = tmp_path / "out" / "figures"
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["cv_search"]["method"] = method
    for space in raw["cv_search"]["spaces"].values():  # grid_cv needs each space's grid
        space["grid"] = {"dropout": [0.0, 0.5]}
    return Run(
        params=checked(Params, raw, ""),
        dataset="Shapes",
        dataset_info={
            "format": "idx",
            "classes": CLASSES,
            "image_size": [12, 16],
            "size_reason": "the IDX files' size",
            "color": "grayscale",
            "centre": "none",
            "images": {"train": 1000, "test": 60},
        },
        split_sizes={"validation": 200, "holdout": 150, "search": 650},
        x=x,
        y=y,
        probabilities=probabilities,
        summaries={name: summarize(y, p) for name, p in probabilities.items()},
        final_choice=record(
            Candidate("mlp_final", np.arange(150) < 135, 94.0),
            Candidate("cnn_final", np.arange(150) < 149, 240.0),
            significance=0.05,
            cost=TRAINING_COST,
            ensemble=Candidate("finalists", np.arange(150) < 140, 334.0),  # worse beyond the noise
        ),
        duels=duels(challenger_right, average_right),
        held_out_accuracy={name: 0.9 for name in models},
        held_out_images={name: 1000 for name in models},
        member_accuracy={"cnn_final": {"default": 0.95, "challenger": 0.96}},
        per_class=pd.concat([per_class(y, predictions[name], CLASSES).assign(model=name) for name in models]),
        confusion=confusion(y, predictions["cnn_final"], CLASSES),
        learning_curves={
            name: learning_curves(write_dvclive(tmp_path / name, [0.5, 0.3, 0.2], [0.4, 0.35, 0.45]))
            for name in models
        },
        search_results={"mlp": search, "cnn": search},
        search_summaries={"mlp": search_summary, "cnn": search_summary},
        best_configs={"mlp": {"a": 2}, "cnn": {"a": 2}},
        studies={"mlp": study, "cnn": study},
        data_section=data_section(
            inspect_lists(tmp_path / "lists"), INSPECTED, training_images(x), CLASSES, figures
        ),
        disputed_section=disputed_section(
            disputed_test_labels(label_ranking(y, [probabilities["mlp_final"], probabilities["cnn_final"]])),
            x,
            y,
            predictions["cnn_final"],
            CLASSES,
            figures,
        ),
    )


INSPECTED = {  # what inspect_lists' files hold, as inspect summarises them
    "images": {"train": 90, "test": 60},
    "class_imbalance": {"train": 1.0, "test": 1.0},
    "odd_pictures": {"train": 1, "test": 0},
    "duplicate_groups": {"exact": 1, "near": 0, "across_train_and_test": 1, "with_different_labels": 0},
    "label_issues": 2,
    "cross_validated_accuracy": 0.9,
    "dropped": 0,
}


def inspect_lists(folder):
    """inspect's lists for training_images(): an odd picture, one copy across the parts, two
    disputed labels."""
    tables = {
        "class_balance": pd.DataFrame({"class": CLASSES, "train": 30, "test": 20, "all": 50}),
        "odd_pictures": pd.DataFrame(
            {
                "part": ["train"],
                "index": [4],
                "brightness": [0.9],
                "contrast": [0.1],
                "information": [1.0],
                "reason": ["light"],
            }
        ),
        "duplicates": pd.DataFrame(
            {
                "group": [0, 0],
                "kind": "exact",
                "part": ["train", "test"],
                "index": [2, 7],
                "label": CLASSES[1],
                "across": True,
                "different_labels": False,
            }
        ),
        "label_issues": pd.DataFrame(
            {
                "part": "train",
                "index": [3, 5],
                "given": [CLASSES[0], CLASSES[2]],
                "suggested": [CLASSES[1], CLASSES[0]],
                "score": [0.01, 0.2],
                "reason": "the cross-validated model disputes it",
            }
        ),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def training_images(test_x):
    return {
        "train": {"x": np.zeros((90, 12, 16)), "y": np.arange(90) % 3},
        "test": {"x": test_x, "y": np.arange(60) % 3},
    }


@pytest.mark.parametrize("method", ["optuna", "grid_cv"])
def test_report_states_the_runs_own_figures_and_its_pictures_exist(tmp_path, method):
    run = small_run(tmp_path, method)
    write_report(tmp_path / "out", run)
    report = (tmp_path / "out" / "report.md").read_text()

    for picture in re.findall(r"!\[[^]]*\]\(([^)]+)\)", report):
        image = matplotlib.image.imread(tmp_path / "out" / picture)
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0, picture
    # confusion, gallery, reliability, learning curves; per space: history, importances (+ epochs for
    # optuna); the data: class counts, examples, odd pictures, copies, training and test labels in doubt
    assert len(re.findall(r"!\[", report)) == 4 + 2 * (3 if method == "optuna" else 2) + 6
    assert "**Odd pictures:** 1 " in report and "**Training labels in doubt:** 2 images" in report
    assert "**Copies:** 1 exact and 0 near groups (2 images); of these, 1 span training" in report
    ranking = label_ranking(run.y, [run.probabilities["mlp_final"], run.probabilities["cnn_final"]])
    disputed = disputed_test_labels(ranking)
    # every test image once, most doubtful first; disputed: the averaged finalists put another class first
    assert sorted(ranking["index"]) == list(range(60)) and ranking["rank"].tolist() == list(range(1, 61))
    assert (ranking["score"].diff().dropna() >= 0).all()
    averaged = (run.probabilities["mlp_final"] + run.probabilities["cnn_final"]) / 2
    assert sorted(disputed["index"]) == np.flatnonzero(averaged.argmax(axis=1) != run.y).tolist()
    on_disputed = np.isin(
        np.flatnonzero(run.probabilities["final"].argmax(axis=1) != run.y), disputed["index"]
    ).sum()
    assert f"first on {len(disputed)} of 60 test images" in report
    assert f"{on_disputed} of the final model's" in report
    assert f"scores {run.summaries['random_guess']['accuracy']:.4f} on the test set" in report
    assert f"scores {run.summaries['baseline']['accuracy']:.4f}, so" in report
    errors = int((run.probabilities["final"].argmax(axis=1) != run.y).sum())
    assert f"misclassifies {errors} of 60 test images" in report
    assert report.startswith("# Shapes: the evaluation report")
    assert "Shapes's 12x16 grayscale images into 3 classes (ring, bar, cross)" in report
    assert re.search(r"\| ring +\| +\d\.\d{4} \|", report)  # the per-class tables name the classes
    for name in ("baseline", "big", "mlp_final", "cnn_final", "final"):
        low, high = wilson_interval(round(run.summaries[name]["accuracy"] * 60), 60)
        assert re.search(
            rf"\| {name} +\| +0.9000 \| \[0.8798, 0.9171\] +\| +{run.summaries[name]['accuracy']:.4f} "
            rf"\| \[{low:.4f}, {high:.4f}\] +\|",
            report,
        ), name
    for name in ("baseline", "big", "mlp_final", "cnn_final"):
        ece, _ = calibration(run.y, run.probabilities[name])
        assert re.search(rf"\| {name} +\| +{ece:.4f} \|", report)
    assert overfitting(run.learning_curves["big"]) in report
    assert (
        "**cnn_final**. On the 150 holdout images, mlp_final got 135 right (0.9000) and cnn_final 149 "
        "(0.9933); 0 only mlp_final got right and 14 only cnn_final (McNemar's exact test: p = 0.00012, "
        f"significance 0.05; cost: {TRAINING_COST}, 94 against 240). At 80% power, this could see "
        "differences of 7.2 points (11 of the 150 images) or more; smaller ones read as a tie. Their "
        "average, finalists, got 140 right (0.9333); 0 only it and 9 only cnn_final (p = 0.0039). At 80% "
        "power, this could see differences of 4.9 points (7 of the 150 images) or more; smaller ones read "
        "as a tie. Outcome: cnn_final is better beyond the noise; their average is not better than "
        "cnn_final beyond the noise, so it stays (cnn_final is kept)."
    ) in report
    finalists = run.summaries["finalists"]["accuracy"]
    mlp, cnn = run.summaries["mlp_final"]["accuracy"], run.summaries["cnn_final"]["accuracy"]
    assert (
        "- final: finalists, averaged, got 140 of 150 holdout images right, cnn_final alone 149: not kept. "
        f"On the test images {finalists:.4f}, against mlp_final {mlp:.4f}, cnn_final {cnn:.4f} alone."
    ) in report
    assert (
        "  - mlp: No duel: cv_search kept the default, so it alone was trained in full (135 of 150" in report
    )
    assert (
        "  - cnn: Trained in full, the challenger held. On the 150 holdout images, default got 140" in report
    )
    assert "the holdout images served two choices, the duel and `final`; the 60 test images" in report
    assert ("Optuna study" in report) == (method == "optuna")
    assert ("5-fold cross-validation" in report) == (method == "grid_cv")
    low, high = wilson_interval(905, 1000)
    mlp = run.params.cv_search.spaces.mlp
    budget = f"budget {mlp.n_trials}, {mlp.epochs} epochs each at most"
    assert f"3 trials ({budget}): 2 complete, 1 pruned, 1 failed. " in report
    if method == "optuna":
        assert (
            "The default is trial 0, the best challenger trial 1. On the 1,000 validation images, default "
            "got 900 right (0.9000) and challenger 905 (0.9050); 0 only default got right and 5 only "
            "challenger (McNemar's exact test: p = 0.062, significance 0.05; "
            f"cost: {SEARCH_COST}, 100 against 200): a tie, so default stays. Only 5 images told the two "
            "apart, too few for any difference to show. Trial 0 is kept: the search "
            "bought +0.00 points of validation accuracy over the default at the trials' fidelity."
        ) in report
    else:
        assert "Kept trial 1: the best cross-validated accuracy." in report
    kept = "True" if method == "grid_cv" else "False"  # trial 1 is kept by grid_cv only
    folds = "| 0.8950 | 0.9150 | 0.0141 " if method == "grid_cv" else ""  # each fold's accuracy, their std
    assert (
        f"| 1 | COMPLETE | False | 2 | 2000 | 200 | 2 | 0.9050 | [{low:.4f}, {high:.4f}] {folds}| {kept} |"
        in (re.sub(" +", " ", report))
    )
    assert "nan" not in report


def test_the_report_says_what_the_duel_kept_and_which_choices_the_holdout_images_served(tmp_path):
    run = small_run(tmp_path, challenger_right=139)  # within the noise of the default's 140
    write_report(tmp_path / "out", run)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "  - cnn: Trained in full, both were kept, averaged. On the 150 holdout" in report
    cnn = run.summaries["cnn_final"]["accuracy"]
    assert (
        "- cnn_final: default+challenger, averaged, got 140 of 150 holdout images right, default alone 140: "
        f"kept. On the test images {cnn:.4f}, against default 0.9500, challenger 0.9600 alone."
    ) in report
    assert (
        "Outcome: a tie, so default stays; default is not better than their average beyond the noise, so "
        "both are kept, averaged (default+challenger is kept)."
    ) in report
    search_section = report.split("### cnn")[1]
    assert "Trained in full, both were kept, averaged (the duel, in the protocol" in search_section
    run = small_run(tmp_path, challenger_right=120, average_right=125)  # both worse beyond the noise
    write_report(tmp_path / "out", run)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "  - cnn: Trained in full, the default came back. On the 150 holdout images" in report
    assert (
        "- cnn_final: default+challenger, averaged, got 125 of 150 holdout images right, default alone "
        "140: not kept." in report
    )
    run.duels["cnn"] = run.duels["mlp"]
    write_report(tmp_path / "out", run)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "the holdout images served one choice, `final`; the 60 test images" in report


def test_a_gallery_of_colour_pictures_shows_their_colours(tmp_path):
    red = np.zeros((4, 40, 40, 3), np.float32)
    red[..., 0] = 1.0
    plot_gallery(red, np.array([0, 1, 0, 1]), np.full((4, 2), 0.5), ["a", "b"], tmp_path / "gallery.png")
    pixels = matplotlib.image.imread(tmp_path / "gallery.png")[..., :3].reshape(-1, 3)
    assert ((pixels[:, 0] > 0.9) & (pixels[:, 1:] < 0.1).all(axis=1)).sum() > 4 * 20 * 20


def test_a_final_model_without_mistakes_gets_no_gallery(tmp_path):
    run = small_run(tmp_path)
    run.probabilities["final"] = run.probabilities["cnn_final"] = np.eye(3)[run.y]
    write_report(tmp_path / "out", run)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "misclassifies 0 of 60 test images" in report and "misclassified.png" not in report
    assert not (tmp_path / "out" / "figures" / "misclassified.png").exists()


@pytest.mark.parametrize(
    "info, sentence",
    [
        ({"format": "idx", "image_size": [28, 28]}, "The images are the IDX files' own, 28x28."),
        (
            {
                "format": "folder",
                "image_size": [28, 28],
                "size_reason": "every picture's size",
                "centre": "none",
            },
            "The pictures were made 28x28 (every picture's size): none was resized.",
        ),
        (
            {
                "format": "folder",
                "image_size": [24, 24],
                "size_reason": "dataset.image_size",
                "centre": "none",
            },
            "The pictures were made 24x24 (dataset.image_size): pictures of another size were resized "
            "with their aspect ratio kept and padded with black.",
        ),
        (
            {
                "format": "folder",
                "image_size": [28, 28],
                "size_reason": "every picture's size",
                "centre": "mass",
            },
            "The pictures were made 28x28 (every picture's size): each picture's drawing fitted into a box "
            "of 20/28 of each side and centred by its centre of mass, as MNIST's digits were.",
        ),
    ],
)
def test_the_report_says_how_the_images_were_made(info, sentence):
    assert preparation(info) == sentence
