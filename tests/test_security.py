"""No code from data or params ever runs: no pickle, no eval/exec, no shell, Keras
models loaded in safe mode."""

import ast

import numpy as np
import pytest

from stages.lib.core.artifacts import load_arrays
from stages.lib.core.errors import DataError
from tests import REPO

SOURCES = sorted((REPO / "stages").rglob("*.py"))


def calls(name: str):
    """(file, call node) of every call of `name` (a bare or dotted name's last part)."""
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                function = node.func
                called = (
                    function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
                )
                if called == name:
                    yield path.relative_to(REPO), node


def keyword(node: ast.Call, name: str):
    return next(
        (k.value.value for k in node.keywords if k.arg == name and isinstance(k.value, ast.Constant)), None
    )


def test_no_pickle_eval_exec_or_shell():
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not imported & {"pickle", "dill", "cloudpickle", "joblib", "subprocess", "shelve"}, path
    assert not list(calls("eval")) and not list(calls("exec")) and not list(calls("system"))
    assert all(keyword(node, "shell") is not True for name in ("run", "Popen") for _, node in calls(name))


def test_numpy_and_keras_files_are_loaded_without_code():
    loads = list(calls("load"))
    assert loads and all(
        keyword(node, "allow_pickle") is False for _, node in loads if "np" in ast.unparse(node.func)
    )
    keras_loads = [node for _, node in calls("load_model") if "keras" in ast.unparse(node.func)]
    assert keras_loads and all(keyword(node, "safe_mode") is True for node in keras_loads)


def test_pickled_or_corrupt_array_files_are_refused(tmp_path):
    np.savez(tmp_path / "objects.npz", x=np.array([{"code": "runs on load"}], dtype=object))
    with pytest.raises(
        DataError, match="objects.npz is not a plain-array .npz file .*Object arrays cannot be loaded"
    ):
        load_arrays(tmp_path / "objects.npz", "x")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "objects.npz").read_bytes()[:50])
    with pytest.raises(DataError, match="cut.npz is not a plain-array .npz file"):
        load_arrays(tmp_path / "cut.npz", "x")
