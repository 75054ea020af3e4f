"""Stage evaluate: the only stage that reads the test images (data/prepared/test.npz).

Scores the two finalists (mlp_final, cnn_final), and notebook 000's baseline and big
models for comparison, against a uniform random guess. `final` is the finalist with the
higher accuracy on its held-out training images (never chosen on the test set). Writes
metrics/evaluate.json (per model: accuracy, loss, macro precision, recall and F1) and,
in metrics/evaluate/: per_class.csv (precision, recall, F1 and support of each class and
model), confusion_matrix.csv (the final model's), predictions_MODEL.csv (true and
predicted class of each test image, for DVC's confusion plots) and comparison.md
(notebook 000's table: validation and test accuracy).
"""

import pandas as pd

from stages.lib.artifacts import load_arrays, write_csv, write_json, write_text
from stages.lib.cli import run_stage
from stages.lib.dataset import dataset_params
from stages.lib.evaluation import (
    confusion, final_model_name, held_out_accuracy, per_class, random_guess, summarize,
)
from stages.lib.params import load_params, seed
from stages.lib.paths import FINALISTS, METRICS_DIR, PREPARED_DIR, model_path
from stages.lib.training import load_model

OUT_DIR = METRICS_DIR / "evaluate"


def main(args):
    params = load_params()
    num_classes = dataset_params(params)["num_classes"]
    models = ("baseline", "big", *(f"{space}_final" for space in FINALISTS))
    validation = {name: held_out_accuracy(name) for name in models}
    final = final_model_name()
    x, y = load_arrays(PREPARED_DIR / "test.npz", "x", "y")

    probabilities = {"random_guess": random_guess(len(y), num_classes, seed(params))}
    for name in models:
        probabilities[name] = load_model(model_path(name)).predict(x, batch_size=1024, verbose=0)
    probabilities["final"] = probabilities[final]
    summaries = {name: summarize(y, p) for name, p in probabilities.items()}
    predictions = {name: probabilities[name].argmax(axis=1) for name in models}

    write_json(METRICS_DIR / "evaluate.json", summaries)
    write_csv(OUT_DIR / "per_class.csv", pd.concat(
        [per_class(y, predicted, num_classes).assign(model=name) for name, predicted in predictions.items()]
    ))
    write_csv(OUT_DIR / "confusion_matrix.csv", confusion(y, predictions[final], num_classes), index=True)
    for name, predicted in predictions.items():
        write_csv(OUT_DIR / f"predictions_{name}.csv", pd.DataFrame({"actual": y, "predicted": predicted}))

    validation["final"] = validation[final]
    table = pd.DataFrame({
        "model": [f"final ({final})" if name == "final" else name for name in summaries],
        "validation accuracy": [validation.get(name, "") for name in summaries],
        "test accuracy": [s["accuracy"] for s in summaries.values()],
        "test macro F1": [s["macro_f1"] for s in summaries.values()],
    })
    write_text(OUT_DIR / "comparison.md", table.to_markdown(index=False, floatfmt=".4f", missingval="") + "\n")
    print(table.to_string(index=False, na_rep=""))


if __name__ == "__main__":
    run_stage(main, __doc__)
