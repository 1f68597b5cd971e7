"""Per-job GPU assignment on one node, with a fake device count on this CPU machine."""
import os
import signal
import subprocess
import sys
import time

import pytest

CLAIM = """
import os, sys, time
from overopt import devices
ids = devices.claim(int(sys.argv[1]), timeout=float(sys.argv[2]))
print(os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
time.sleep(float(sys.argv[3]))
"""


@pytest.fixture
def env(tmp_path, root):
    e = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    e.update(OVEROPT_GPU_COUNT="4", OVEROPT_GPU_LOCK_DIR=str(tmp_path / "locks"), PYTHONPATH=str(root))
    return e


def spawn(env, n=1, timeout=10.0, hold=2.0):
    return subprocess.Popen([sys.executable, "-c", CLAIM, str(n), str(timeout), str(hold)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_jobs_get_distinct_devices(env):
    procs = [spawn(env) for _ in range(4)]
    seen = [p.stdout.readline().strip() for p in procs]
    for p in procs:
        p.wait(timeout=30)
    assert sorted(seen) == ["0", "1", "2", "3"]


def test_multi_gpu_job_and_a_waiting_job(env):
    big = spawn(env, n=3, hold=1.5)
    assert big.stdout.readline().strip() == "0,1,2"
    start = time.monotonic()
    small = spawn(env, n=2, hold=0)  # only one device free: waits for the big job to end
    assert small.stdout.readline().strip() in {"0,1", "0,3", "1,3", "0,2", "1,2", "2,3"}
    assert time.monotonic() - start > 1.0
    big.wait(timeout=30), small.wait(timeout=30)


def test_a_crashed_job_releases_its_device(env):
    p = spawn(env, n=4, hold=60)
    assert p.stdout.readline().strip() == "0,1,2,3"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    q = spawn(env, n=4, timeout=5, hold=0)
    assert q.stdout.readline().strip() == "0,1,2,3"
    q.wait(timeout=30)


def test_scheduler_choice_is_kept(env):
    env["CUDA_VISIBLE_DEVICES"] = "7"
    p = spawn(env, hold=0)
    assert p.stdout.readline().strip() == "7"
    p.wait(timeout=30)


def test_no_gpu_no_claim(env):
    env["OVEROPT_GPU_COUNT"] = "0"
    p = spawn(env, hold=0)
    assert p.stdout.readline().strip() == "None"
    p.wait(timeout=30)


def test_too_many_gpus_is_an_error(env):
    p = spawn(env, n=5, hold=0)
    p.wait(timeout=30)
    assert p.returncode != 0 and "wants 5 GPUs, this node has 4" in p.stderr.read()
