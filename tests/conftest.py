import contextlib

import pytest
from fastapi.testclient import TestClient

from stages.lib.core.cli import configure_tensorflow
from stages.lib.core.errors import DownloadError
from stages.lib.serving.app import create_app
from stages.lib.serving.classifier import Classifier
from tests import real_data

configure_tensorflow()  # as the stage scripts do, before any test imports TensorFlow

UNAVAILABLE = []  # why the real dataset files could not be had, once


@pytest.fixture(scope="session")
def dataset_folder(request):
    """The folder of the real dataset files (tests/real_data.py). Where no source has
    them, every test that needs them errors (pytest keeps the failure: the sources are
    tried once per test process) and the reason is printed once, at the end."""
    try:
        return real_data.dataset_folder()
    except DownloadError as error:
        UNAVAILABLE.append(str(error))
        if hasattr(request.config, "workeroutput"):  # an xdist worker: tell the controller
            request.config.workeroutput["dataset_unavailable"] = UNAVAILABLE
    pytest.fail("no real dataset files: see 'real dataset files' at the end", pytrace=False)


@pytest.fixture(scope="module")
def classifier(workspace):
    """The classifier of the module's `workspace` (tests/workspaces.py), as stages.serve
    and stages.predict load it."""
    with contextlib.chdir(workspace):
        return Classifier()


@pytest.fixture(scope="module")
def client(classifier, workspace):
    """FastAPI's TestClient of the app serving `classifier`, run in `workspace`."""
    with contextlib.chdir(workspace), TestClient(create_app(classifier)) as client:
        yield client


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist's controller, as each worker ends: the reasons it found."""
    UNAVAILABLE.extend(r for r in node.workeroutput.get("dataset_unavailable", []) if r not in UNAVAILABLE)


def pytest_collection_modifyitems(items):
    """The modules that run whole projects first, then the other slow ones: the two test
    processes (xdist, which hands out a module at a time) start the longest work first."""
    items.sort(
        key=lambda item: (item.get_closest_marker("project") is None, item.get_closest_marker("slow") is None)
    )


def pytest_terminal_summary(terminalreporter):
    for reason in UNAVAILABLE:
        terminalreporter.section("real dataset files", red=True)
        terminalreporter.write_line(reason)
