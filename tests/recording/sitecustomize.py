"""Loaded at start-up by every Python process of a test project's `dvc repro`
(tests/projects.py puts this folder on PYTHONPATH and names a folder in
$MNIST_DVC_RECORD). In a stage's process (`python -m stages.NAME ...`) it records
which data files the stage reads and writes (Python's audit events) and which params
keys it reads (the object load_params returns is wrapped), and writes them to that
folder as JSON when the stage ends, for tests/test_dvc_yaml.py to compare with what
dvc.yaml declares. Production code knows nothing of it."""

import atexit
import importlib.machinery
import json
import os
import sys
from pathlib import Path

FOLDER = os.environ.get("MNIST_DVC_RECORD")
TRACKED = ("data", "models", "metrics")  # the folders whose files stages read and write
record = {"read": set(), "written": set(), "params": set()}


def relative(path) -> str | None:
    """`path` relative to the project (the stage's working folder), if it is in a tracked folder."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        return None
    try:
        inside = Path(os.path.abspath(path)).relative_to(Path.cwd())
    except ValueError:
        return None
    return str(inside) if inside.parts and inside.parts[0] in TRACKED else None


def temporary(path: str) -> bool:
    """A file that stages.lib.core.artifacts.atomic_path writes before renaming it, or
    one in a folder that atomic_folder fills before renaming it."""
    return any(part.startswith(".") and ".tmp" in part for part in Path(path).parts)


def audit(event: str, args: tuple) -> None:
    if event == "open":
        path, mode = relative(args[0]), args[1]
        # A folder opened is no data read: shutil.rmtree opens each subfolder by its bare
        # name relative to its parent's descriptor, which reads here as relative to the
        # working folder.
        if path is not None and not temporary(path) and not os.path.isdir(path):
            writes = mode is not None and any(flag in mode for flag in "wax+")
            record["written" if writes else "read"].add(path)
    elif event in ("os.rename", "os.replace"):
        if (path := relative(args[1])) is not None and not temporary(path):
            record["written"].add(path)
    elif event == "sqlite3.connect":
        if (path := relative(args[0])) is not None and not temporary(path):
            record["read"].add(path)


class Recorder:
    """Wraps a params object: each key read through it is recorded by its dotted name
    (a method called on a section, such as model_dump, reads the whole section)."""

    def __init__(self, target, name: str = ""):
        self._target, self._name = target, name

    def __getattr__(self, key: str):
        import pydantic

        value = getattr(self._target, key)
        name = f"{self._name}.{key}" if self._name else key
        if isinstance(value, pydantic.BaseModel):
            return Recorder(value, name)
        record["params"].add(self._name if callable(value) else name)
        return value


class RecordingLoader(importlib.machinery.SourceFileLoader):
    """Loads stages/lib/core/config.py with its load_params wrapped in a Recorder."""

    def exec_module(self, module):
        super().exec_module(module)
        load = module.load_params
        module.load_params = lambda *args, **kwargs: Recorder(load(*args, **kwargs))


class ConfigFinder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "stages.lib.core.config":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        spec.loader = RecordingLoader(spec.loader.name, spec.loader.path)
        return spec


def save() -> None:
    stage = Path(sys.argv[0])
    if stage.parent.name != "stages" or not record["params"]:
        return  # not a stage (dvc itself, a helper), or one that failed before reading its params
    command = " ".join(["python", "-m", f"stages.{stage.stem}", *sys.argv[1:]])
    out = Path(FOLDER) / f"{os.getpid()}.json"
    out.write_text(json.dumps({"cmd": command, **{key: sorted(values) for key, values in record.items()}}))


if FOLDER:
    sys.addaudithook(audit)
    sys.meta_path.insert(0, ConfigFinder())
    atexit.register(save)
