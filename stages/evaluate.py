"""Stage evaluate: the only stage that reads the test images (data/prepared/test.npz).

Scores the two finalists (mlp_final, cnn_final), the two averaged (finalists), and
notebook 000's baseline and big models for comparison, against a uniform random guess.
`final` is chosen between the finalists and their average on the holdout images, which
no search used, by the rule of every decision (`significance`: McNemar's test; within
the noise, the cheaper to train; stages/lib/core/decisions.py), never on the test set.
Writes metrics/final.json (that decision), metrics/evaluate.json (per model:
accuracy, loss, macro precision, recall and F1) and, in metrics/evaluate/:
per_class.csv (precision, recall, F1 and support of each class and model),
confusion_matrix.csv (the final model's), predictions_MODEL.csv (true and predicted
class name of each test image, for DVC's confusion plots), label_ranking.csv (every
test image, most doubtful label first by the finalists' averaged probabilities, for a
person to review from the top), label_issues.csv (those whose label they dispute),
and report.md with its
figures/ (protocol, search, test metrics, confusion, misclassified digits, calibration
and learning curves, from this run's outputs).
"""

import optuna
import pandas as pd

from stages.lib.core.artifacts import load_arrays, load_parts, read_json, write_csv, write_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.model_files import averaged, load_model, members
from stages.lib.core.paths import (
    AVERAGED_FINALISTS,
    BUDGET,
    DATASET_INFO,
    FINAL_CHOICE,
    FINALISTS,
    INSPECT_DIR,
    METRICS_DIR,
    MODELS,
    PREPARED_DIR,
    SPLIT_DIR,
    TRAINED_MODELS,
    best_config_path,
    duel_path,
    model_path,
    training_log_dir,
)
from stages.lib.report.curves import learning_curves
from stages.lib.report.data_section import (
    data_section,
    disputed_section,
    disputed_test_labels,
    label_ranking,
)
from stages.lib.report.evaluation import confusion, per_class, random_guess, summarize
from stages.lib.report.final_choice import choose_final, held_out_accuracy
from stages.lib.report.markdown import Run, write_report

OUT_DIR = METRICS_DIR / "evaluate"


def load_study(space: str):
    """The study cv_search@SPACE wrote (the only one in its SQLite file)."""
    return optuna.load_study(
        study_name=None, storage=f"sqlite:///{METRICS_DIR / 'cv_search' / space / 'study.db'}"
    )


def main(args):
    params = load_params()
    dataset = read_json(DATASET_INFO)
    classes, sizes = dataset["classes"], params.split.sizes(dataset["images"]["train"])
    trained = {name: load_model(model_path(name)) for name in TRAINED_MODELS}
    finalists = {space: trained[f"{space}_final"] for space in FINALISTS}
    trained[AVERAGED_FINALISTS] = averaged(
        {f"{space}_final": model for space, model in finalists.items()}, AVERAGED_FINALISTS
    )
    duels = {space: read_json(duel_path(space)) for space in FINALISTS}
    final_choice = choose_final(
        finalists,
        trained[AVERAGED_FINALISTS],
        load_arrays(SPLIT_DIR / "holdout.npz", "x", "y"),
        duels,
        params.significance,
    )
    final = final_choice["kept"]

    parts = load_parts(PREPARED_DIR)
    x, y = parts["test"]["x"], parts["test"]["y"]
    probabilities = {"random_guess": random_guess(len(y), len(classes), params.seed)}
    for name, model in trained.items():
        probabilities[name] = model.predict(x, batch_size=1024, verbose=0)
    probabilities["final"] = probabilities[final]
    summaries = {name: summarize(y, p) for name, p in probabilities.items()}
    # What an average kept in a duel bought: its members' test accuracies alone.
    member_accuracy = {
        name: {
            member: summarize(y, m.predict(x, batch_size=1024, verbose=0))["accuracy"]
            for member, m in members(model).items()
        }
        for name, model in trained.items()
        if members(model) and name != AVERAGED_FINALISTS
    }
    predictions = {name: probabilities[name].argmax(axis=1) for name in MODELS}
    scores_per_class = pd.concat(
        [per_class(y, predictions[name], classes).assign(model=name) for name in MODELS]
    )
    final_confusion = confusion(y, predictions[final], classes)
    ranking = label_ranking(y, [probabilities[f"{space}_final"] for space in FINALISTS])
    disputed = disputed_test_labels(ranking)

    write_json(METRICS_DIR / "evaluate.json", summaries)
    write_json(FINAL_CHOICE, final_choice)
    write_csv(OUT_DIR / "per_class.csv", scores_per_class)
    write_csv(OUT_DIR / "confusion_matrix.csv", final_confusion, index=True)
    for name, labels in (("label_issues.csv", disputed), ("label_ranking.csv", ranking)):
        named_classes = {column: [classes[c] for c in labels[column]] for column in ("given", "suggested")}
        write_csv(OUT_DIR / name, labels.assign(**named_classes))
    for name, predicted in predictions.items():
        named = pd.DataFrame({"actual": y, "predicted": predicted}).map(classes.__getitem__)
        write_csv(OUT_DIR / f"predictions_{name}.csv", named)
    write_report(
        OUT_DIR,
        Run(
            params=params,
            dataset=params.dataset.name,
            dataset_info=dataset,
            split_sizes=sizes,
            x=x,
            y=y,
            probabilities=probabilities,
            summaries=summaries,
            final_choice=final_choice,
            duels=duels,
            # The finalists' and their average's on the holdout images (the decision's).
            held_out_accuracy={
                name: final_choice["candidates"][name]["accuracy"]
                if name in final_choice["candidates"]
                else held_out_accuracy(name)
                for name in MODELS
            },
            held_out_images={
                name: sizes["holdout" if name in final_choice["candidates"] else "validation"]
                for name in MODELS
            },
            member_accuracy=member_accuracy,
            per_class=scores_per_class,
            confusion=final_confusion,
            learning_curves={
                name: learning_curves(training_log_dir(name) / "plots") for name in TRAINED_MODELS
            },
            search_results={
                space: pd.read_csv(METRICS_DIR / "cv_search" / space / "results.csv") for space in FINALISTS
            },
            search_summaries={
                space: read_json(METRICS_DIR / "cv_search" / space / "metrics.json")
                | {"budget": read_json(BUDGET)[space]}
                for space in FINALISTS
            },
            best_configs={space: read_json(best_config_path(space)) for space in FINALISTS},
            studies={space: load_study(space) for space in FINALISTS},
            data_section=data_section(
                INSPECT_DIR / "lists",
                read_json(INSPECT_DIR / "summary.json"),
                parts,
                classes,
                OUT_DIR / "figures",
            ),
            disputed_section=disputed_section(
                disputed, x, y, predictions[final], classes, OUT_DIR / "figures"
            ),
        ),
    )
    print(pd.DataFrame(summaries).T.to_string(float_format="{:.4f}".format))


if __name__ == "__main__":
    run_stage(main, __doc__)
