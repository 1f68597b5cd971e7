"""A job's log file holds what went wrong: the traceback, warnings and C-level stderr."""
import os
import subprocess
import sys

import pytest

HOOK = """
import os, sys, warnings
from overopt import runtime
runtime.log_failures(sys.argv[1])
runtime.log.info("progress-marker")
warnings.warn("warning-marker")
os.write(2, b"fd2-marker\\n")
try:
    raise ValueError("hook-marker")
except ValueError:
    sys.excepthook(*sys.exc_info())
"""

SNAKEFILE = """
rule boom:
    output: "out.txt"
    log: "logs/boom/boom.log"
    script: "boom.py"
"""

SCRIPT = """
from overopt import runtime
runtime.job(snakemake, 0)
raise ValueError("boom-marker")
"""

# The same job as a torch rule's on a local run: handed to the run's fork server (overopt.prefork)
PREFORKED = ("""
from overopt import prefork
onstart:
    prefork.start(workflow.is_main_process and workflow.local_exec)
onerror:
    prefork.stop()
""" + SNAKEFILE.replace("rule boom:", "rule train_rm:"), "from overopt import prefork\nprefork.handoff()\n" + SCRIPT)


def test_the_hook_logs_the_traceback_and_keeps_the_console(tmp_path, root):
    log = tmp_path / "job.log"
    out = subprocess.run([sys.executable, "-c", HOOK, str(log)], capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(root)}, timeout=60)
    text = log.read_text()
    for marker in ("progress-marker", "warning-marker", "fd2-marker", "job failed", "Traceback",
                   "ValueError: hook-marker"):
        assert marker in text, (marker, text)
    assert "ValueError: hook-marker" in out.stderr and "fd2-marker" not in out.stderr


@pytest.mark.parametrize("snakefile,script", [(SNAKEFILE, SCRIPT), PREFORKED], ids=["own-process", "preforked"])
def test_a_failed_job_logs_its_traceback(tmp_path, root, snakemake_bin, snakefile, script):
    (tmp_path / "Snakefile").write_text(snakefile)
    (tmp_path / "boom.py").write_text(script)
    out = subprocess.run([snakemake_bin, "--cores", "1", "--snakefile", str(tmp_path / "Snakefile"),
                          "--directory", str(tmp_path), "--workflow-profile", str(root / "profiles/default")],
                         capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(root)},
                         timeout=120)
    assert out.returncode != 0
    text = (tmp_path / "logs/boom/boom.log").read_text()
    assert (", preforked" in text) == (script is not SCRIPT)
    for marker in ("threads=1 seed=0", "Traceback", "ValueError", "boom-marker"):
        assert marker in text, (marker, text)
    console = out.stdout + out.stderr
    assert "ValueError: boom-marker" in console  # the job's traceback still reaches the console
    assert "CRITICAL overopt: job failed" in console  # and so does its log (show-failed-logs)
