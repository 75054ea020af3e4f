"""The entry point every stage script shares: --help from its docstring, logging, and
one clear error line (exit status 1) for problems the user can fix."""

import argparse
import logging
import os
import signal
import sys
from typing import Callable

from stages.lib.core.errors import PipelineError


def configure_tensorflow() -> None:
    """Settings that must be in place before TensorFlow is imported: oneDNN's CPU
    kernels on (TensorFlow enables them by default only on some CPUs; they train the
    CNNs about twice as fast), and no start-up info lines."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras with standard error (file descriptor 2) pointed at
    /dev/null: their C++ start-up notices (absl's "All log messages before
    absl::InitializeLog()", oneDNN's "custom operations are on") come before
    TF_CPP_MIN_LOG_LEVEL is read. For commands whose output people read, not stages."""
    configure_tensorflow()
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def run_stage(main: Callable[[argparse.Namespace], None], doc: str, parser_setup=None) -> None:
    parser = argparse.ArgumentParser(
        prog=f"python -m {sys.modules['__main__'].__spec__.name}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if parser_setup is not None:
        parser_setup(parser)
    args = parser.parse_args()
    configure_tensorflow()
    # SIGTERM (`kill`, a scheduler, `dvc` stopping its child) ends the stage as Ctrl-C
    # does, through Python's exception handling, so that an interrupted write removes
    # its temporary file (stages.lib.core.artifacts.atomic_path) instead of leaving it behind.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    try:
        main(args)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
