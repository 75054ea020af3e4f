import signal
import subprocess
import sys

from tests import REPO

# A stage whose write is stopped half-way: it writes a temporary file through
# atomic_path, says so, and waits to be killed.
STAGE = """
import time
from pathlib import Path
from stages.lib.core.artifacts import atomic_path
from stages.lib.core.cli import run_stage

def main(args):
    with atomic_path(Path(args.target)) as temporary:
        temporary.write_text("half")
        print("writing", flush=True)
        time.sleep(60)

run_stage(main, "a stage", lambda parser: parser.add_argument("target"))
"""


def test_a_stage_stopped_by_sigterm_mid_write_leaves_no_file(tmp_path):
    target = tmp_path / "out.npz"
    script = tmp_path / "stage.py"
    script.write_text(STAGE)
    process = subprocess.Popen(
        [sys.executable, "-m", "stage", str(target)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "writing\n"
        assert list(tmp_path.glob(".out.tmp*"))  # the write is under way
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        process.kill()
    assert list(tmp_path.glob("*out*")) == []  # neither the target nor a temporary file
