"""The library's shape: modules that import downwards only, short enough to read in one
sitting, and the stages that score models independent of the code that trains them."""

import ast
from pathlib import Path

import pytest

from tests import REPO
from tests.test_dvc_yaml import project_imports

LIBRARY = sorted((REPO / "stages" / "lib").glob("*.py"))


def direct_imports(module: Path) -> set[str]:
    """The stages/ modules that `module` imports itself (by path)."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module.startswith("stages"):
            for name in [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]:
                path = Path(*name.split(".")).with_suffix(".py")
                if (REPO / path).exists():
                    found.add(str(path))
    return found


def test_the_library_imports_no_stage_script_and_has_no_cycle():
    graph = {str(path.relative_to(REPO)): direct_imports(path) for path in LIBRARY}
    for module, imported in graph.items():
        assert all(name.startswith("stages/lib/") for name in imported), module
    done, active = set(), []

    def visit(module):
        assert module not in active, f"import cycle: {' -> '.join(active[active.index(module):] + [module])}"
        if module not in done:
            active.append(module)
            for name in graph[module]:
                visit(name)
            active.pop()
            done.add(module)

    for module in graph:
        visit(module)


@pytest.mark.parametrize("module", LIBRARY, ids=lambda path: path.name)
def test_each_library_module_reads_in_one_sitting(module):
    assert len(module.read_text().splitlines()) <= 200


@pytest.mark.parametrize("script", ["stages/evaluate.py", "stages/predict.py"])
def test_scoring_does_not_depend_on_training_code(script):
    """So that a change to model building, fitting or augmentation does not rerun evaluate."""
    training = {"stages/lib/models.py", "stages/lib/training.py", "stages/lib/batches.py", "stages/lib/objectives.py"}
    assert not training & project_imports(Path(script))
