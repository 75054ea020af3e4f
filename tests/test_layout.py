"""The library's shape: packages by job that import only the packages their docstring
names (none above them in the DAG), modules short enough to read in one sitting, and the
stages that score models independent of the code that trains them."""

import ast
import re
from pathlib import Path

import pytest

from tests import REPO
from tests.test_dvc_yaml import project_imports

LIBRARY = REPO / "stages" / "lib"
PACKAGES = sorted(path.parent.name for path in LIBRARY.glob("*/__init__.py"))
MODULES = sorted(path for path in LIBRARY.rglob("*.py") if path.name != "__init__.py")


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


def package_of(path: str) -> str | None:
    """The library package a module path (stages/lib/PACKAGE/NAME.py) belongs to."""
    parts = Path(path).parts
    return parts[2] if len(parts) == 4 and parts[:2] == ("stages", "lib") else None


def allowed_imports(package: str) -> set[str]:
    """The packages that `package`'s docstring says it may import ("May import: a, b.")."""
    docstring = ast.get_docstring(ast.parse((LIBRARY / package / "__init__.py").read_text()))
    lines = docstring.splitlines()
    assert len(lines) == 2, f"{package}/__init__.py: two lines, what it is for and what it may import"
    allowed = re.fullmatch(r"May import: (.+)\.", lines[1]).group(1)
    return set() if allowed == "nothing else of stages" else set(allowed.split(", "))


def test_every_module_is_in_a_package():
    assert PACKAGES == ["core", "data", "inspection", "report", "search", "serving", "training"]
    assert all(package_of(str(module.relative_to(REPO))) in PACKAGES for module in MODULES)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_its_docstring_allows(package):
    allowed = allowed_imports(package) | {package}
    assert allowed <= set(PACKAGES)
    for module in sorted((LIBRARY / package).glob("*.py")):
        for imported in direct_imports(module):
            assert package_of(imported) in allowed, f"{module.relative_to(REPO)} imports {imported}"


def test_no_package_imports_one_above_it_in_the_dag():
    """The DAG's order: what each package may import comes before it, so no two packages
    import each other, and report never reaches training or search code."""
    order = ["core", "data", "training", "inspection", "search", "report", "serving"]
    for package in PACKAGES:
        assert all(order.index(other) < order.index(package) for other in allowed_imports(package)), package
    assert not allowed_imports("report") & {"training", "search", "inspection"}
    assert not allowed_imports("serving") & {"training", "search", "report"}
    assert not allowed_imports("data") & {"training", "search", "report"}


def test_the_library_has_no_import_cycle():
    graph = {str(path.relative_to(REPO)): direct_imports(path) for path in MODULES}
    done, active = set(), []

    def visit(module):
        assert module not in active, f"import cycle: {' -> '.join(active[active.index(module) :] + [module])}"
        if module not in done:
            active.append(module)
            for name in graph[module]:
                visit(name)
            active.pop()
            done.add(module)

    for module in graph:
        visit(module)


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(LIBRARY)))
def test_each_library_module_reads_in_one_sitting(module):
    assert len(module.read_text().splitlines()) <= 200


@pytest.mark.parametrize(
    "script", ["stages/evaluate.py", "stages/export.py", "stages/predict.py", "stages/serve.py"]
)
def test_scoring_does_not_depend_on_training_code(script):
    """So that a change to model building, fitting, augmentation or the search does not rerun evaluate."""
    assert not {package_of(path) for path in project_imports(Path(script))} & {"training", "search"}
