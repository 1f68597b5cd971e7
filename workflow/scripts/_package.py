"""Makes the repository's ``overopt`` package importable in every job, whether or not it is
pip-installed in the job's environment (e.g. a fresh ``--sdm conda`` env), and hands a local
run's torch jobs to the run's fork server (``overopt.prefork``: the libraries are imported once
per run, not once per job). Scripts import it first; Snakemake puts this folder on ``sys.path``."""
import sys
from pathlib import Path

_root = str(Path(__file__).resolve().parents[2])
if _root not in sys.path:
    sys.path.insert(0, _root)

from overopt import prefork  # noqa: E402  (the standard library only)

prefork.handoff()  # returns only where prefork does not apply: the script runs in this process
