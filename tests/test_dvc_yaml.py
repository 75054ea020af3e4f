"""dvc.yaml declares exactly what each stage reads and writes."""

import ast
import re
from pathlib import Path

import pytest
import yaml

from stages.lib.core.paths import FINALISTS
from tests import REPO

DVC_YAML = yaml.safe_load((REPO / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def expand(stages: dict, params: dict) -> dict:
    """Stages by the names DVC gives them, a foreach stage becoming NAME@ITEM each, with
    each `${section.key}` replaced by that value of `params` (params.yaml's contents)."""

    def value(match: re.Match):
        found = params
        for key in match.group(1).split("."):
            found = found[key]
        return str(found)

    expanded = {}
    for name, stage in stages.items():
        for item in stage.get("foreach", [None]):
            text = yaml.safe_dump(stage["do"]).replace("${item}", item) if item else yaml.safe_dump(stage)
            expanded[f"{name}@{item}" if item else name] = yaml.safe_load(
                re.sub(r"\$\{([\w.]+)\}", value, text)
            )
    return expanded


STAGES = expand(DVC_YAML["stages"], PARAMS)


def paths(entries):
    """Paths of a deps/outs/metrics list whose items are strings or {path: options}."""
    return [entry if isinstance(entry, str) else next(iter(entry)) for entry in entries or []]


def project_imports(script: Path) -> set[str]:
    """stages/ modules that `script` imports, directly or through other modules."""
    found, todo = set(), [script]
    while todo:
        tree = ast.parse((REPO / todo.pop()).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module.startswith("stages"):
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
                for module in modules:
                    path = Path(*module.split(".")).with_suffix(".py")
                    if (REPO / path).exists() and str(path) not in found:
                        found.add(str(path))
                        todo.append(path)
    return found | {str(script)}


@pytest.mark.parametrize("name", STAGES)
def test_code_deps_are_the_script_and_the_packages_it_imports(name):
    """A stage depends on its script and on each stages/lib package folder that the script
    imports from, directly or through other modules: no more, no fewer."""
    module = STAGES[name]["cmd"].split()[2]
    script = Path(*module.split(".")).with_suffix(".py")
    declared = {p for p in paths(STAGES[name]["deps"]) if p.startswith("stages/")}
    packages = {str(Path(path).parent) for path in project_imports(script) if path != str(script)}
    assert declared == {str(script)} | packages


@pytest.mark.parametrize("name", STAGES)
def test_params_keys_exist(name):
    for key in STAGES[name].get("params", []):
        value = PARAMS
        for part in key.split("."):
            assert isinstance(value, dict) and part in value, f"{name}: params.yaml has no {key}"
            value = value[part]


def test_foreach_stages_run_each_finalist():
    for name in ("cv_search", "train_final"):
        assert DVC_YAML["stages"][name]["foreach"] == list(FINALISTS)


def test_only_evaluate_scores_the_test_set():
    """export reads it too, only to check that each exported format predicts what the
    trained model predicts: nothing is chosen there, and no params of the training stages
    (its model card names the dataset and the split).
    inspect reads it to count its classes and find copies of training images (which
    inspect.drop may leave out of training); no model is scored on it there."""
    readers = [name for name, stage in STAGES.items() if "data/prepared/test.npz" in paths(stage["deps"])]
    assert readers == ["inspect", "evaluate", "export"]
    assert STAGES["export"]["params"] == ["dataset.name", "split", "export"]


def test_metrics_stay_in_git_and_every_stage_but_evaluate_is_run_cached():
    """Metrics are cache: false, so `dvc metrics diff` reads them from git. DVC keeps no
    run cache for a stage with any other uncached output, so only evaluate (whose
    report and plot data are in git, and which takes seconds) has one."""
    for name, stage in STAGES.items():
        for entry in stage.get("metrics", []):
            assert next(iter(entry.values())) == {"cache": False}
        uncached = [
            next(iter(entry))
            for entry in stage.get("outs", [])
            if isinstance(entry, dict) and next(iter(entry.values())).get("cache") is False
        ]
        assert uncached == (["metrics/evaluate"] if name == "evaluate" else []), name


def test_every_plot_reads_a_stage_output():
    outputs = [p for stage in STAGES.values() for p in paths(stage.get("outs")) + paths(stage.get("metrics"))]
    for plot in DVC_YAML["plots"]:
        ((plot_id, options),) = plot.items()
        files = list(options["y"]) if isinstance(options.get("y"), dict) else [plot_id]
        for file in files:
            assert any(file == out or file.startswith(out + "/") for out in outputs), file
