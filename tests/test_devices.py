"""Per-job GPU assignment on one node, with a fake device count on this CPU machine."""
import os
import signal
import stat
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


@pytest.fixture
def locks(tmp_path, monkeypatch):
    """In-process claims of one fake device in a private folder under tmp_path."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")  # restored (unset) after the test, whatever claim exports
    monkeypatch.setenv("OVEROPT_GPU_COUNT", "1")
    monkeypatch.setenv("OVEROPT_GPU_LOCK_DIR", str(tmp_path / "locks"))
    return tmp_path / "locks"


def test_lock_folder_is_created_private(locks):
    from overopt import devices

    old = os.umask(0o022)
    try:
        assert devices.lock_dir() == locks
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.lstat(locks).st_mode) == 0o700


def test_a_closed_folder_of_ours_is_made_private(locks):
    from overopt import devices

    locks.mkdir(mode=0o755)
    os.chmod(locks, 0o755)
    devices.lock_dir()
    assert stat.S_IMODE(os.lstat(locks).st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o770, 0o703, 0o777])
def test_a_folder_others_can_write_is_refused(locks, mode):
    from overopt import devices

    locks.mkdir()
    os.chmod(locks, mode)
    with pytest.raises(PermissionError, match=f"{locks}: GPU lock folder .* writable by no one else"):
        devices.lock_dir()


def test_a_folder_of_another_user_is_refused(locks, monkeypatch):
    from overopt import devices

    locks.mkdir(mode=0o700)
    uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: uid + 1)
    with pytest.raises(PermissionError, match=f"owned by uid {uid + 1} .* owned by uid {uid}"):
        devices.lock_dir()


def test_a_linked_folder_is_refused(locks, tmp_path):
    from overopt import devices

    (tmp_path / "elsewhere").mkdir(mode=0o700)
    locks.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PermissionError, match="not a link"):
        devices.lock_dir()


def test_a_planted_lock_link_is_not_followed(locks, tmp_path):
    from overopt import devices

    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    locks.mkdir(mode=0o700)
    (locks / "gpu0.lock").symlink_to(victim)
    with pytest.raises(PermissionError, match=f"{locks / 'gpu0.lock'}: .*symbolic link"):
        devices.claim(1, timeout=0)
    assert victim.read_text() == "precious\n" and "CUDA_VISIBLE_DEVICES" not in os.environ


@pytest.mark.parametrize("plant", ["fifo", "hardlink"])
def test_a_lock_that_is_not_a_plain_file_of_ours_is_refused(locks, tmp_path, plant):
    from overopt import devices

    locks.mkdir(mode=0o700)
    lock = locks / "gpu0.lock"
    if plant == "fifo":
        os.mkfifo(lock)
    else:
        (tmp_path / "victim").write_text("precious\n")
        os.link(tmp_path / "victim", lock)
    with pytest.raises(PermissionError, match=f"{lock}: GPU lock file must be a regular file"):
        devices.claim(1, timeout=0)
    assert plant == "fifo" or (tmp_path / "victim").read_text() == "precious\n"


def test_a_claim_writes_its_pid(locks):
    from overopt import devices

    locks.mkdir(mode=0o700)
    (locks / "gpu0.lock").write_text("a much longer stale line from a dead job\n")
    try:
        assert devices.claim(1, timeout=0) == [0]
        assert (locks / "gpu0.lock").read_text() == f"{os.getpid()}\n"
    finally:
        while devices._held:
            os.close(devices._held.pop())
