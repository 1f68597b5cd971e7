"""One re-planning timer for Snakemake's job scheduler, not one more per finished job.

Snakemake (9.x, up to at least 9.27) arms a ``threading.Timer`` of the rate limit's timespan
(``--max-jobs-per-timespan``, default 100/1s) after every scheduling pass that found ready jobs.
Each timer's release of the scheduler's semaphore runs another pass, which arms another timer;
a finished job's release runs a pass too, so every finished job starts one more chain that lives
as long as jobs wait for a core (snakemake PR #3744). On the default study the Snakemake
process had 80 such threads after 84 jobs and took 30-50% of a core away from the jobs on a
2-core machine, re-solving the ILP schedule, re-evaluating every ready job's params and stat-ing
its inputs each time. The timers are not daemons either, so a long timespan (which would make
the chains rare) keeps Snakemake alive for one timespan after the run ends.

:func:`install` replaces the method with one that keeps at most one pending timer, as a daemon:
the rate limit still re-plans after its timespan (jobs are limited exactly as before), and a
finished job still starts the next job at once (its own release is untouched). Installed by the
Snakefile in the process that plans the run; a Snakemake without that method is left alone.
"""
from __future__ import annotations

import threading


def _one_timer(self, delay) -> None:
    if getattr(self, "_overopt_replan", None) is not None:
        return  # the pending pass will run anyway: a second one would find the same jobs
    def fire():
        self._overopt_replan = None  # before the release: the pass it starts may arm the next timer
        self._open_jobs.release()

    timer = threading.Timer(delay, fire)
    timer.daemon = True
    self._overopt_replan = timer
    timer.start()


def install() -> bool:
    """Patch ``JobScheduler._schedule_reevalutation`` (Snakemake's spelling); True if patched."""
    try:
        from snakemake.scheduling.job_scheduler import JobScheduler
    except ImportError:
        return False
    if not hasattr(JobScheduler, "_schedule_reevalutation"):
        return False
    JobScheduler._schedule_reevalutation = _one_timer
    return True
