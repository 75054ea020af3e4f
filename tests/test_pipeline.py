"""The real `dvc repro`, `dvc exp` and `dvc metrics diff` on a copy of the project that
trains on 1,200 training and 300 test images of real MNIST with few epochs.

Each test starts from a committed, reproduced project (`project`, shared by the
module) and leaves it so, so they pass in any order. (tests/test_another_dataset.py
runs the pipeline on another dataset, runs experiments on it and shares it between
clones.)
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml

from stages.lib.report.protocol import what_held
from stages.pr_report import said
from tests import postgres, vega_browser
from tests.idx_files import write_mirror
from tests.projects import ALL_STAGES, MODELS, SMALL_SETTINGS, Project, reproduced_project
from tests.real_data import subset
from tests.test_dvc_yaml import expand, paths

pytestmark = [pytest.mark.slow, pytest.mark.project]


@pytest.fixture(scope="module")
def project(tmp_path_factory, dataset_folder) -> Project:
    """The project on 1,200 training and 300 test images of real MNIST."""
    mirror = tmp_path_factory.mktemp("mirror")
    files = write_mirror(mirror, *subset(dataset_folder, 1200, 300))
    return reproduced_project(tmp_path_factory, mirror, {"dataset": {"files": files}, **SMALL_SETTINGS})


def test_first_repro_runs_every_stage(project):
    assert sorted(project.first_run) == sorted(ALL_STAGES)
    scores = project.read_json("metrics/evaluate.json")
    assert set(scores) == {"random_guess", *MODELS, "final"}
    for name in MODELS:
        assert set(scores[name]) >= {"accuracy", "macro_f1", "loss", "macro_precision", "macro_recall"}
        # About 1,000 real digits and 2 to 4 epochs: well above chance, well below MNIST's best.
        assert scores[name]["accuracy"] > 0.3
        # finalists, the two finalists averaged, has no file: it is built from theirs
        assert name == "finalists" or (project.root / f"models/{name}.keras").stat().st_size > 0
        assert (
            len((project.root / f"metrics/evaluate/predictions_{name}.csv").read_text().splitlines()) == 301
        )
    assert abs(scores["random_guess"]["accuracy"] - 0.1) < 0.06
    final = project.read_json("metrics/final.json")
    assert set(final["candidates"]) == {"mlp_final", "cnn_final", "finalists"} and final["images"] == 150
    assert final["power"]["discordant"] == sum(
        final["candidates"][m]["only_right"] for m in ("mlp_final", "cnn_final")
    )
    assert scores["final"] == scores[final["kept"]]
    for space, n_trials in (("mlp", 4), ("cnn", 3)):
        results = pd.read_csv(project.root / f"metrics/cv_search/{space}/results.csv")
        assert results["trial"].tolist() == list(range(len(results)))
        assert len(results) == n_trials and results["accuracy"].notna().all()  # every draw trained
        assert set(results["state"]) <= {"COMPLETE", "PRUNED"} and "COMPLETE" in set(results["state"])
        assert results["default"].tolist() == [True] + [False] * (n_trials - 1)  # trial 0
        summary = project.read_json(f"metrics/cv_search/{space}/metrics.json")
        kept = results.loc[results["kept"]].iloc[0]
        assert kept["trial"] == summary["kept_trial"]
        decision, duel = summary["decision"], project.read_json(f"metrics/train_final/{space}/duel.json")
        if "candidates" in decision:  # a challenger completed: the rule decided
            assert decision["candidates"][decision["kept"]]["trial"] == kept["trial"]
            assert decision["images"] == 200  # validation
        # where the search kept a challenger, train_final trained it and the default
        assert duel["duel"] == (kept["trial"] != 0) and duel["images"] == 150
        assert set(duel["candidates"]) == (
            {"default", "challenger", "default+challenger"} if duel["duel"] else {"default"}
        )
        assert final["candidates"][f"{space}_final"]["cost"] == duel["candidates"][duel["kept"]]["cost"]
        assert kept["accuracy"] == summary["kept_accuracy"]
        assert kept["accuracy_low"] < kept["accuracy"] < kept["accuracy_high"]
        best = kept
        spec = project.read_json(f"models/best_config/{space}.json")
        assert (
            (spec["hidden_units"] == [best["width"]])
            if space == "mlp"
            else spec["blocks"][0] == [best["filters_1"]]
        )
    # the mlp default learns almost nothing in 2 epochs: a challenger replaced it, and held in
    # full (alone, or averaged with the default where the challenger is not better than that)
    mlp_duel = project.read_json("metrics/train_final/mlp/duel.json")
    assert mlp_duel["duel"] and mlp_duel["outcome"].startswith("challenger is better beyond the noise")
    assert mlp_duel["kept"] in ("challenger", "default+challenger"), mlp_duel
    history = (
        (project.root / "metrics/train_baseline/plots/metrics/eval/accuracy.tsv").read_text().splitlines()
    )
    assert len(history) == 1 + 2  # header and two epochs
    report = (project.root / "metrics/evaluate/report.md").read_text()
    assert f"  - mlp: {what_held(mlp_duel)}. On the 150 holdout images" in report
    figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", report)
    assert len(figures) >= 4 and all(
        (project.root / "metrics/evaluate" / f).stat().st_size > 0 for f in figures
    )
    assert f"scores {scores['baseline']['accuracy']:.4f}" in report
    assert report.startswith("# MNIST: the evaluation report")
    assert "MNIST's 28x28 grayscale images into 10 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)" in report
    exported = project.read_json("metrics/export.json")
    assert list(exported) == ["final"] and exported["final"]["model"] == final["kept"]
    assert list(exported["final"]["formats"]) == [
        "keras",
        "saved_model",
        "litert",
        "litert_dynamic_range",
        "onnx",
    ]
    for kind, row in exported["final"]["formats"].items():
        assert (project.root / row["file"]).exists() and row["bytes"] > 0
        assert row["agreement"] == 1.0 or kind == "litert_dynamic_range"
    blessing = project.read_json("metrics/bless.json")
    assert blessing["blessed"] and blessing["ships"] and not blessing["forced"], blessing
    assert blessing["comparison"] == "no released model to compare with"  # no git tag yet
    assert blessing["floor"]["right"] == final["candidates"][final["kept"]]["right"]  # the same 150 images
    description = project.read_json("models/export/final/model.json")
    assert description["model"] == final["kept"] and description["classes"] == [str(d) for d in range(10)]
    card = (project.root / "models/export/final/README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    [result] = header["model-index"][0]["results"]
    assert result["metrics"][0] == {
        "type": "accuracy",
        "value": scores["final"]["accuracy"],
        "name": "Test accuracy",
    }
    assert f"# final: {final['kept']}, an image classifier trained on MNIST" in card
    for section in (
        "Intended use",
        "Training data and split",
        "Evaluation",
        "How it was chosen",
        "Limitations",
    ):
        assert f"## {section}" in card
    assert f"p = {final['p_value']:.2g}" in card and blessing["outcome"] in card
    assert card.count("\n| ") == 2 + 10 + 2 + 5  # per class and per format, with their headers


def test_second_repro_runs_nothing(project):
    assert project.repro() == []
    assert "Data and pipelines are up to date" in project.run("dvc", "status")


def test_plots_show_embeds_the_numbers_of_the_files_it_draws(project, tmp_path):
    project.run("dvc", "plots", "show", "-o", str(tmp_path))
    page = (tmp_path / "index.html").read_text()
    specs = {
        view: json.loads(spec)["data"]["values"]
        for view, spec in re.findall(
            r'<div id = "(\w+)">\s*<script type = "text/javascript">\s*var spec = (.*?);\n', page
        )
    }
    assert len(specs) == len(yaml.safe_load((project.root / "dvc.yaml").read_text())["plots"])
    for split in ("train", "eval"):
        curve = pd.read_csv(
            project.root / f"metrics/train_baseline/plots/metrics/{split}/accuracy.tsv", sep="\t"
        )
        drawn = [
            float(row["accuracy"])
            for row in specs["Accuracy_per_epoch__training_and_held_out"]
            if row["filename"] == f"train_baseline/plots/metrics/{split}/accuracy.tsv"
        ]
        assert drawn == curve["accuracy"].tolist()
    results = pd.read_csv(project.root / "metrics/cv_search/cnn/results.csv").dropna(subset=["accuracy"])
    drawn = [
        (int(row["trial"]), float(row["accuracy"]))
        for row in specs["Validation_accuracy_per_trial"]
        if row["filename"] == "cnn/results.csv" and row["accuracy"] != ""
    ]
    assert drawn == list(zip(results["trial"], results["accuracy"], strict=True))
    predictions = pd.read_csv(project.root / "metrics/evaluate/predictions_cnn_final.csv", dtype=str)
    drawn = [
        (row["actual"], row["predicted"])
        for row in specs["Confusion_matrix__test_set"]
        if row["filename"] == "predictions_cnn_final.csv"
    ]
    assert drawn == list(zip(predictions["actual"], predictions["predicted"], strict=True))


def test_every_declared_plot_draws_its_data_in_headless_chromium(project, tmp_path):
    if reason := vega_browser.missing():
        pytest.skip(reason)
    template = tmp_path / "template.html"
    template.write_text(vega_browser.offline_template())
    project.run("dvc", "plots", "show", "--html-template", str(template), "-o", str(tmp_path / "plots"))
    declared = len(yaml.safe_load((project.root / "dvc.yaml").read_text())["plots"])
    screenshot = tmp_path / "dvc_plots.png"
    marks = vega_browser.render(tmp_path / "plots" / "index.html", screenshot, declared)
    print(f"screenshot: {screenshot}")
    assert len(marks) == declared
    assert all(count > 0 for count in marks.values()), marks
    trained = sum(
        pd.read_csv(project.root / f"metrics/cv_search/{space}/results.csv")["accuracy"].notna().sum()
        for space in ("mlp", "cnn")
    )
    assert marks["#Validation_accuracy_per_trial"] == trained  # one point per trained trial
    assert marks["#Confusion_matrix__test_set"] > 0
    image = matplotlib.image.imread(screenshot)
    assert image.shape[0] > 1000 and image.std() > 0


def test_each_stage_reads_and_writes_what_dvc_yaml_declares(project):
    """From the records of every stage run in this project (tests/recording): each data
    file a stage read is a declared dependency (or its own output), each file it wrote
    a declared output, each declared path was read or written, and each params key it
    read is declared: so DVC reruns a stage exactly when what it reads changed."""
    stages = expand(yaml.safe_load((project.root / "dvc.yaml").read_text())["stages"], project.params())
    by_command = {stage["cmd"]: name for name, stage in stages.items()}

    def within(path: str, folders: list[str]) -> bool:
        return any(path == folder or path.startswith(folder + "/") for folder in folders)

    seen = set()
    for record in map(json.loads, map(Path.read_text, project.record_dir.glob("*.json"))):
        name = by_command[record["cmd"]]
        seen.add(name)
        stage = stages[name]
        deps = [path for path in paths(stage["deps"]) if not path.startswith("stages/")]
        outs = paths(stage.get("outs")) + paths(stage.get("metrics"))
        assert [path for path in record["read"] if not within(path, deps + outs)] == [], name
        assert [path for path in record["written"] if not within(path, outs)] == [], name
        unread = declared_unread(project).get(name, set())
        assert [
            dep for dep in deps if dep not in unread and not any(within(p, [dep]) for p in record["read"])
        ] == [], name
        assert [out for out in outs if not any(within(path, [out]) for path in record["written"])] == [], name
        declared = stage.get("params", [])
        assert [
            key for key in record["params"] if not any(key == d or key.startswith(d + ".") for d in declared)
        ] == [], name
    assert seen == set(ALL_STAGES)


def declared_unread(project) -> dict[str, set[str]]:
    """What a stage declares but need not read, by stage: bless reads the holdout images
    and `final` only to compare it with a released model; export (which declares every
    model and what its card says of each) reads the models export.models names (by
    default final alone)."""
    final = project.read_json("metrics/final.json")["kept"]
    others = [model for model in MODELS if model != final]
    other_space = [space for space in ("mlp", "cnn") if final not in (f"{space}_final", "finalists")]
    return {
        "bless": {"data/split/holdout.npz", "models/mlp_final.keras", "models/cnn_final.keras"},
        "export": {
            *(f"models/{model}.keras" for model in others if model != "finalists"),
            *(f"metrics/evaluate/predictions_{model}.csv" for model in others),
            *(f"metrics/cv_search/{space}/metrics.json" for space in other_space),
            *(f"metrics/train_final/{space}/duel.json" for space in other_space),
        },
    }


TRAINING_STAGES = [
    "cv_search@cnn",
    "cv_search@mlp",
    "train_baseline",
    "train_big",
    "train_final@cnn",
    "train_final@mlp",
]


@pytest.mark.parametrize(
    "module, stages",
    [
        ("stages/lib/report/markdown.py", ["evaluate"]),
        ("stages/lib/search/studies.py", ["budget", "cv_search@cnn", "cv_search@mlp"]),
        # augmentation and model building: every training stage and inspect (its label issues'
        # cheap model), not evaluate (it loads models, never builds them)
        ("stages/lib/training/batches.py", sorted(["inspect", *TRAINING_STAGES])),
        ("stages/lib/inspection/label_issues.py", ["inspect"]),
        (
            "stages/lib/data/splitting.py",
            ["cv_search@cnn", "cv_search@mlp", "download", "inspect", "preprocess", "split"],
        ),
        ("stages/lib/core/paths.py", sorted(ALL_STAGES)),
        ("stages/evaluate.py", ["evaluate"]),
        ("stages/lib/serving/formats.py", ["bless", "export"]),
    ],
)
def test_a_code_change_makes_exactly_the_stages_that_import_it_stale(project, module, stages):
    """What `dvc repro` would rerun (test_train_final_param_... reruns one for real): the
    stages whose script or package folders (dvc.yaml's deps) hold the changed file."""
    code = project.root / module
    code.write_text(code.read_text() + "\n# a change\n")
    try:
        assert sorted(json.loads(project.run("dvc", "status", "--json"))) == stages
    finally:
        project.restore()


def test_python_bytecode_beside_the_code_does_not_make_a_stage_stale(project):
    """The stages depend on package folders, where Python writes __pycache__ (.dvcignore)."""
    # what imports write where PYTHONDONTWRITEBYTECODE is not set
    project.run(sys.executable, "-m", "compileall", "-q", "stages")
    assert list((project.root / "stages" / "lib").glob("*/__pycache__/*.pyc"))
    assert "up to date" in project.run("dvc", "status")


def test_train_final_param_reruns_that_spaces_search_finalist_and_evaluate_then_metrics_diff(
    project, tmp_path
):
    before = project.read_json("metrics/evaluate.json")["mlp_final"]
    project.edit_params("train_final", mlp={"epochs": 3, "batch_size": 128})
    # not the search: its space, fitted to minutes of train_final as train_final.mlp
    # trains, is the same in fewer epochs
    assert project.repro() == ["budget", "train_final@mlp", "evaluate", "bless", "export"]
    assert project.read_json("metrics/budget.json")["mlp"]["epochs"] == 3
    project.commit("train_final@mlp for 3 epochs")
    diff = json.loads(project.run("dvc", "metrics", "diff", "HEAD~1", "HEAD", "--json"))
    assert diff["metrics/evaluate.json"]["mlp_final.accuracy"]["old"] == before["accuracy"]
    assert diff["metrics/train_final/mlp/metrics.json"]["step"] == {"old": 1, "new": 2, "diff": 1}
    assert "baseline.accuracy" not in diff["metrics/evaluate.json"]  # unchanged metrics are not listed
    # the pull request's report (make pr-report)
    project.run(sys.executable, "-m", "stages.pr_report", "--base", "HEAD~1", "--out", str(tmp_path))
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# What this change does, against HEAD~1\n\n## Release\n")
    assert "| params.yaml | train_final.mlp.epochs | 2 | 3 | 1 |" in report
    old, new = before["accuracy"], project.read_json("metrics/evaluate.json")["mlp_final"]["accuracy"]
    assert f"| metrics/evaluate.json | mlp_final.accuracy | {old} | {new} | {new - old} |" in report
    old_duel = json.loads(project.run("git", "show", "HEAD~1:metrics/train_final/mlp/duel.json"))
    new_duel = project.read_json("metrics/train_final/mlp/duel.json")
    changed = f"- **train_final@mlp**: was {said(old_duel)}; now {said(new_duel)}."
    assert (changed in report) == (said(old_duel) != said(new_duel)), report
    assert "## Training curves that changed\n![curves_mlp_final](curves_mlp_final.png)\n" in report
    assert [path.name for path in tmp_path.glob("*.png")] == ["curves_mlp_final.png"]


def test_a_label_issue_param_reruns_inspect_and_the_report_never_split_or_training(project):
    project.edit_params("inspect", label_issues={**project.params()["inspect"]["label_issues"], "epochs": 2})
    try:
        assert project.repro() in (["inspect"], ["inspect", "evaluate"])
    finally:
        project.restore()


def test_dropping_the_label_issues_leaves_them_out_of_split(project):
    issues = pd.read_csv(project.root / "metrics/inspect/lists/label_issues.csv")
    assert len(issues) and (issues["part"] == "train").all()
    project.edit_params("inspect", drop=["label_issues"])
    try:
        assert project.repro("split") == ["inspect", "split"]
        dropped = project.read_json("data/inspect/dropped.json")
        assert dropped == {"reasons": ["label_issues"], "index": sorted(issues["index"].tolist())}
        summary = project.read_json("metrics/inspect/summary.json")
        assert summary["dropped"] == len(dropped["index"])
        split_images = sum(
            len(np.load(project.root / f"data/split/{part}.npz")["y"])
            for part in ("search", "holdout", "validation")
        )
        assert split_images == 1200 - len(dropped["index"])
    finally:
        project.restore()


def test_same_params_give_the_same_metrics(project):
    before = (project.root / "metrics/train_baseline/metrics.json").read_text()
    assert project.repro("--force", "--single-item", "train_baseline") == ["train_baseline"]
    assert (project.root / "metrics/train_baseline/metrics.json").read_text() == before
    project.restore()  # dvc.lock names the new model file (Keras writes another zip per save)


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_training_leaves_nothing_dvc_takes_as_complete(project, signal_number):
    """Ctrl-C (SIGINT to the whole process group) or SIGTERM in the middle of a
    training stage: the stage shows as changed, and the next repro restores the last
    finished run, with the same metrics as before."""
    before = project.read_json("metrics/train_big/metrics.json")
    project.edit_params("train_big", epochs=500)
    try:
        # Unbuffered, so that the stage's epoch lines reach this pipe as they are printed;
        # SIGINT's default action restored, as in a terminal (a background job started
        # by a non-interactive shell, as CI may run us, inherits SIGINT ignored).
        process = subprocess.Popen(
            ["dvc", "repro", "--single-item", "train_big"],
            cwd=project.root,
            env={**project.env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("Epoch 3/500"):
                break
        else:
            pytest.fail("the stage ended before its third epoch:\n" + "".join(seen))
        os.killpg(process.pid, signal_number)
        process.communicate(timeout=120)
        assert process.returncode != 0
    finally:
        project.edit_params("train_big", epochs=SMALL_SETTINGS["train_big"]["epochs"])
    assert "train_big" in project.run("dvc", "status")
    assert list((project.root / "models").glob(".*tmp*")) == []  # no half-written model
    # The interrupted run recorded nothing; the finished run before it comes back from
    # the run cache.
    log = project.run("dvc", "repro", "train_big")
    assert "Stage 'train_big' is cached - skipping run, checking out outputs" in log, log
    assert "train_big" not in project.run("dvc", "status")
    assert project.read_json("metrics/train_big/metrics.json") == before


def trials(project, space="mlp") -> pd.DataFrame:
    """results.csv without what differs from run to run (seconds, who ran each trial)."""
    return pd.read_csv(project.root / f"metrics/cv_search/{space}/results.csv").drop(
        columns=["seconds", "worker"]
    )


def study_names(project, space="mlp") -> list[str]:
    import optuna

    return optuna.get_all_study_names(f"sqlite:///{project.root}/metrics/cv_search/{space}/study.db")


def test_the_search_gives_the_same_trials_and_winner_again_and_a_changed_space_is_a_new_study(project):
    before, config, name, decision = (
        trials(project),
        project.read_json("models/best_config/mlp.json"),
        study_names(project),
        project.read_json("metrics/cv_search/mlp/metrics.json")["decision"],
    )
    try:
        project.run(sys.executable, "-m", "stages.cv_search", "mlp")
        pd.testing.assert_frame_equal(trials(project), before)
        assert project.read_json("models/best_config/mlp.json") == config and study_names(project) == name
        assert project.read_json("metrics/cv_search/mlp/metrics.json")["decision"] == decision
        project.edit_params(
            "cv_search",
            spaces={
                **project.params()["cv_search"]["spaces"],
                "mlp": {**project.params()["cv_search"]["spaces"]["mlp"], "n_trials": 2},
            },
        )
        # the space stage budget fitted is the old one until it runs again
        stale = project.run(sys.executable, "-m", "stages.cv_search", "mlp", check=False)
        assert (
            "fitted to other cv_search.spaces.mlp params than params.yaml's: run `dvc repro budget`" in stale
        )
        project.run(sys.executable, "-m", "stages.budget")
        project.run(sys.executable, "-m", "stages.cv_search", "mlp")
        assert project.read_json("metrics/cv_search/mlp/metrics.json")["trials"] == 2
        assert len(study_names(project)) == 1 and study_names(project) != name
    finally:
        project.restore()


def test_the_stage_and_two_workers_share_one_postgresql_study(project):
    """Debian's PostgreSQL in a temporary folder; `cv_search mlp` and two `--worker`
    processes started together on it run every trial number once between them."""
    if reason := postgres.missing():
        pytest.skip(reason)
    import optuna

    spaces = project.params()["cv_search"]["spaces"]
    project.edit_params("cv_search", spaces={**spaces, "mlp": {**spaces["mlp"], "n_trials": 12}})
    try:
        project.run(sys.executable, "-m", "stages.budget")
        with postgres.server() as url:
            env = {**project.env, "CV_SEARCH_STORAGE": url}
            command = [sys.executable, "-m", "stages.cv_search", "mlp"]
            processes = [
                subprocess.Popen(
                    command + extra,
                    cwd=project.root,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                for extra in ([], ["--worker"], ["--worker"])
            ]
            logs = [process.communicate(timeout=600)[0] for process in processes]
            assert [process.returncode for process in processes] == [0, 0, 0], logs
            results = pd.read_csv(project.root / "metrics/cv_search/mlp/results.csv")
            assert sorted(results["trial"]) == list(range(len(results)))  # every trial number once
            trained = results[results["state"] != "FAIL"]  # FAIL: started after the budget was spent
            assert len(trained) == 12
            ran = trained["worker"].str.rsplit(":", n=1).str[1].astype(int)
            assert set(ran) == {process.pid for process in processes}, logs  # all three took trials
            [study] = optuna.get_all_study_summaries(url)
            assert study.n_trials == len(results) and study_names(project) == [study.study_name]
            summary = project.read_json("metrics/cv_search/mlp/metrics.json")
            kept = optuna.load_study(study_name=study.study_name, storage=url).trials[summary["kept_trial"]]
            assert summary["trials"] == 12 and kept.user_attrs["spec"] == project.read_json(
                "models/best_config/mlp.json"
            )
            # Only the stage prints the results table; the workers log their trials.
            assert ["kept trial" in log for log in logs] == [True, False, False]
            assert all("trials finished" in log for log in logs)
    finally:
        project.restore()


def test_a_killed_workers_trial_is_failed_and_run_again(project):
    """A `--worker` killed (SIGKILL) in the middle of a trial on PostgreSQL: once its
    heartbeat is cv_search.worker_timeout seconds old the trial is FAIL, a copy of it
    runs again, and the stage ends with n_trials trained trials, each number once."""
    if reason := postgres.missing():
        pytest.skip(reason)
    import optuna

    spaces = project.params()["cv_search"]["spaces"]
    project.edit_params(
        "cv_search",
        worker_timeout=4,
        spaces={**spaces, "mlp": {**spaces["mlp"], "n_trials": 6, "epochs": 6}},
    )
    try:
        project.run(sys.executable, "-m", "stages.budget")
        with postgres.server() as url:
            env = {**project.env, "CV_SEARCH_STORAGE": url}
            command = [sys.executable, "-m", "stages.cv_search", "mlp"]
            worker = subprocess.Popen(
                [*command, "--worker"],
                cwd=project.root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            stage = subprocess.Popen(
                command,
                cwd=project.root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            killed = None
            for _ in range(1200):  # up to 2 minutes for the worker to start a trial
                names = optuna.get_all_study_names(url)
                running = [
                    t
                    for t in (
                        optuna.load_study(study_name=names[0], storage=url).get_trials() if names else []
                    )
                    if t.state == optuna.trial.TrialState.RUNNING
                    and t.user_attrs.get("worker", "").endswith(f":{worker.pid}")
                ]
                if running:
                    worker.kill()
                    worker.wait()
                    killed = running[0].number
                    break
                time.sleep(0.1)
            assert killed is not None, "the worker never started a trial"
            log = stage.communicate(timeout=600)[0]
            assert stage.returncode == 0, log
            [study] = [
                optuna.load_study(study_name=name, storage=url) for name in optuna.get_all_study_names(url)
            ]
            trials = study.get_trials()
            assert trials[killed].state == optuna.trial.TrialState.FAIL
            [rerun] = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
            assert rerun.state.is_finished() and rerun.state != optuna.trial.TrialState.FAIL
            assert rerun.params == trials[killed].params
            results = pd.read_csv(project.root / "metrics/cv_search/mlp/results.csv")
            assert results["trial"].tolist() == list(range(len(trials)))  # each trial number once
            assert (results["state"] != "FAIL").sum() == 6 and (results["state"] == "FAIL").sum() == 1
            summary = project.read_json("metrics/cv_search/mlp/metrics.json")
            assert summary["trials"] == 6 and summary["fail"] == 1
    finally:
        project.restore()


def predict_json(project, *args: str) -> dict:
    """`python -m stages.predict --json ARGS` in the project: its answer."""
    result = subprocess.run(
        [sys.executable, "-m", "stages.predict", "--json", *args],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_version_registered_with_gto_refuses_a_worse_model_unless_forced_and_can_be_served(
    project, tmp_path
):
    """README's "Release", for real: v1.0.0 registered and assigned prod with gto; a
    clearly worse run refused against it with its counts and p; the same run with
    release.force shipped and recorded as forced; `--model classifier@v1.0.0` answers as
    v1.0.0's final did."""
    images = tmp_path / "holdout.npy"
    np.save(images, np.load(project.root / "data/split/holdout.npz")["x"][:20])
    released_answers = predict_json(project, str(images))
    try:
        project.run("gto", "register", "classifier", "--version", "v1.0.0")
        project.run("gto", "assign", "classifier", "--version", "v1.0.0", "--stage", "prod")
        # one step of training for each finalist: both near chance
        project.edit_params(
            "train_final", mlp={"epochs": 1, "batch_size": 1024}, cnn={"epochs": 1, "batch_size": 1024}
        )
        log = project.run("dvc", "repro", check=False)
        blessing = project.read_json("metrics/bless.json")
        assert not blessing["blessed"] and not blessing["ships"], blessing
        assert blessing["released"] == "classifier@v1.0.0 (prod)"
        comparison = blessing["comparison"]
        assert comparison["kept"] == "classifier@v1.0.0 (prod)" and comparison["p_value"] < 0.05
        assert (
            "is not blessed: " in log
            and "the released classifier@v1.0.0 (prod) is better beyond the noise (" in log
        )
        assert "Running stage 'export'" in log and "release.force: true" in log
        project.edit_params("release", force=True)
        assert project.repro() == ["bless", "export"]
        blessing = project.read_json("metrics/bless.json")
        assert blessing["forced"] and blessing["ships"] and not blessing["blessed"], blessing
        assert (
            "Shipped all the same: release.force is true"
            in (project.root / "models/export/final/README.md").read_text()
        )
        answers = predict_json(project, "--model", "classifier@v1.0.0", str(images))
        assert answers["model"] == f"classifier@v1.0.0 ({released_answers['model']})"
        assert answers["predictions"] == released_answers["predictions"]
        missing = project.run(
            sys.executable, "-m", "stages.predict", "--model", "classifier@v2.0.0", str(images), check=False
        )
        assert "classifier@v2.0.0: no such release (registered versions of classifier: v1.0.0)" in missing
    finally:
        for tag in project.run("git", "tag", "--list").split():
            project.run("git", "tag", "-d", tag)
        project.restore()
