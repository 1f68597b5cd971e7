"""overopt.scheduler_fix: Snakemake's scheduler keeps one pending re-planning timer, a daemon,
however often a pass asks for one; the timer still releases the scheduler when it fires."""
import threading
import time
import types

from snakemake.scheduling.job_scheduler import JobScheduler

from overopt import scheduler_fix


def test_one_daemon_timer_however_many_passes_ask():
    original = JobScheduler._schedule_reevalutation
    try:
        assert scheduler_fix.install()
        sched = types.SimpleNamespace(_open_jobs=threading.Semaphore(0))
        before = threading.active_count()
        for _ in range(50):  # 50 finished jobs' passes, each arming a re-plan
            JobScheduler._schedule_reevalutation(sched, 0.3)
        assert threading.active_count() == before + 1  # upstream: 50 timer threads
        assert sched._overopt_replan.daemon  # does not keep Snakemake alive after the run
        assert sched._open_jobs.acquire(timeout=5)  # it fires: the rate limit still re-plans
        assert not sched._open_jobs.acquire(blocking=False)  # once
        time.sleep(0.05)
        JobScheduler._schedule_reevalutation(sched, 0.01)  # after it fired, a new one is armed
        assert sched._open_jobs.acquire(timeout=5)
    finally:
        JobScheduler._schedule_reevalutation = original


def test_the_snakefile_installs_it(root):
    assert "scheduler_fix.install()" in (root / "Snakefile").read_text()
