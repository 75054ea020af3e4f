"""Copies of the project that train on small IDX datasets with few epochs, for tests
that run the real `dvc repro`, `dvc exp` and `dvc metrics diff`."""

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages.lib.data.fetching import MIRROR_ENVS
from tests import REPO
from tests.copies import copy_repository

SMALL_SETTINGS = {
    "split": {"validation_size": 200, "holdout_size": 150, "method": "last"},
    "train_baseline": {"epochs": 2},
    "train_big": {"epochs": 2},
    "cv_search": {
        "optuna": {"sampler": "qmc", "startup_trials": 2, "pruner": {"min_epochs": 1, "reduction_factor": 3}},
        "spaces": {
            "mlp": {
                "n_trials": 4,
                "epochs": 2,
                "train_images": 600,
                "batch_size": 128,
                "max_train_final_minutes": 5,
                # A default that learns almost nothing in 2 epochs (learning rate 0.0001), so that
                # a challenger replaces it and train_final duels the two.
                "model": {
                    "family": "mlp",
                    "hidden_units": [32],
                    "dropout": 0.1,
                    "optimizer": "adam",
                    "learning_rate": 0.0001,
                    "lr_schedule": "cosine",
                    "augmentation": {"rotation": 10, "shift": 2, "scale": 0.1},
                },
                "search": {
                    "width": {"low": 16, "high": 64},
                    "learning_rate": {"low": 0.0001, "high": 0.01, "log": True},
                },
            },
            "cnn": {
                "n_trials": 3,
                "epochs": 2,
                "train_images": 600,
                "batch_size": 128,
                "max_train_final_minutes": 5,
                "model": {
                    "family": "cnn",
                    "blocks": [[8], [8]],
                    "kernel_size": 5,
                    "dense_units": 16,
                    "dropout": 0.1,
                    "optimizer": "adam",
                    "learning_rate": 0.004,
                    "lr_schedule": "cosine",
                    "augmentation": {"rotation": 10, "shift": 2, "scale": 0.1},
                },
                "search": {"filters_1": {"low": 8, "high": 16}, "augmentation": {"low": 0.0, "high": 1.0}},
            },
        },
    },
    # The tiny CNN is near chance after 2 epochs of 9 batches (0.23-0.34 on 300 validation images),
    # 0.56-0.63 after 4.
    "train_final": {"mlp": {"epochs": 2, "batch_size": 128}, "cnn": {"epochs": 4, "batch_size": 128}},
    # a floor the tiny models reach (the default, 0.9, is for real datasets)
    "release": {"min_accuracy": 0.3},
}
ALL_STAGES = [
    "download",
    "preprocess",
    "inspect",
    "split",
    "budget",
    "train_baseline",
    "train_big",
    "cv_search@mlp",
    "cv_search@cnn",
    "train_final@mlp",
    "train_final@cnn",
    "evaluate",
    "bless",
    "export",
]
MODELS = ("baseline", "big", "mlp_final", "cnn_final", "finalists")


class Project:
    def __init__(self, root: Path, env: dict, record_dir: Path):
        self.root, self.env, self.record_dir = root, env, record_dir

    def run(self, *command: str, check: bool = True) -> str:
        result = subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, text=True)
        if check and result.returncode != 0:
            pytest.fail(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result.stdout + result.stderr

    def repro(self, *args: str) -> list[str]:
        """Run `dvc repro`; returns the names of the stages that ran."""
        return re.findall(r"Running stage '([^']+)'", self.run("dvc", "repro", *args))

    def read_json(self, path: str):
        return json.loads((self.root / path).read_text())

    def params(self) -> dict:
        return yaml.safe_load((self.root / "params.yaml").read_text())

    def edit_params(self, section: str, **values) -> None:
        path = self.root / "params.yaml"
        params = yaml.safe_load(path.read_text())
        params[section].update(values)
        path.write_text(yaml.safe_dump(params, sort_keys=False))

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", message)

    def restore(self) -> None:
        """Back to the last commit: params, dvc.lock, metrics and every output."""
        self.run("git", "reset", "-q", "--hard")
        self.run("dvc", "checkout", "--force")
        assert "up to date" in self.run("dvc", "status")


def reproduced_project(
    tmp_path_factory, mirror: Path | None, changes: dict, dataset: dict | None = None, before_commit=None
) -> Project:
    """A copy of the repository with `changes` to params.yaml's sections (and its
    dataset section replaced by `dataset`, if given), reading IDX files from `mirror`,
    committed before and after its first `dvc repro`; `before_commit(project)` runs
    first. Every stage it runs leaves a record of the files and params it read and
    wrote in `project.record_dir` (tests/recording/sitecustomize.py)."""
    root = copy_repository(tmp_path_factory.mktemp("project"))
    params = yaml.safe_load((root / "params.yaml").read_text())
    for section, values in changes.items():
        params[section].update(copy.deepcopy(values))
    if dataset is not None:
        params["dataset"] = dataset
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    record_dir = tmp_path_factory.mktemp("record")
    env = {
        **{name: value for name, value in os.environ.items() if name not in MIRROR_ENVS},
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "tests" / "recording"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "MNIST_DVC_RECORD": str(record_dir),
        **({"DATASET_MIRROR": str(mirror)} if mirror else {}),
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(tmp_path_factory.mktemp("dvc_site_cache")),
        # `dvc queue start` workers run a bare `dvc`: this environment's must come first.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    project = Project(root, env, record_dir)
    project.run("git", "init", "-q", "-b", "main")
    if before_commit is not None:
        before_commit(project)
    project.commit("small project")
    project.first_run = project.repro()
    project.commit("first run")
    return project


def experiments(project) -> dict[str, dict]:
    """Each experiment of any commit, by name: its params and metrics."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") and isinstance(node.get("data"), dict) and node["data"].get("params"):
                data = node["data"]
                found[node["name"]] = {
                    "params": data["params"]["params.yaml"]["data"],
                    "metrics": {path: value["data"] for path, value in data.get("metrics", {}).items()},
                }
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(project.run("dvc", "exp", "show", "--all-commits", "--json")))
    return found
