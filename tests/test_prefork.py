"""The prefork server (overopt.prefork): a job handed to it runs its script in a fork of the
server, with the job's working directory, environment, arguments and standard streams, and
exits with the script's status; a killed job's fork dies with it; without a server the script
runs in its own process; the server leaves with the process that started it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from overopt import deps, prefork

ROOT = Path(__file__).resolve().parents[1]

JOB = textwrap.dedent("""
    import os, sys, time
    from types import SimpleNamespace
    class Local(SimpleNamespace):  # a class only this process has: the server cannot unpickle it
        pass
    snakemake = (Local if "local-class" in sys.argv else SimpleNamespace)(rule=sys.argv[1])  # the preamble's
    sys.path.insert(0, {root!r})
    from overopt import prefork
    prefork.handoff()
    print("ran", os.getpid(), os.getppid(), os.getcwd(), os.environ.get("JOB_VAR"), sys.argv[2:], flush=True)
    if "raise" in sys.argv:
        raise ValueError("the job failed")
    if "pause" in sys.argv:
        open("started", "w").close()
        time.sleep(3)
    if "sleep" in sys.argv:
        open("started", "w").close()
        time.sleep(60)
        open("finished", "w").close()
    sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
""")


def wait_for(predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def start_owner():
    """A process that starts a server as the Snakefile's onstart does, then waits."""
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from overopt import prefork
        prefork.start(True)
        print(os.environ[prefork.ENV], os.environ[prefork.PID_ENV], flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True, env={k: v for k, v in os.environ.items() if k != prefork.ENV})
    path, pid = owner.stdout.readline().split()
    assert wait_for(lambda: os.path.exists(path), 180), "the server did not start"
    return owner, path, int(pid)


@pytest.fixture(scope="module")
def server():
    owner, path, pid = start_owner()
    yield {"owner": owner, "path": path, "pid": pid}
    owner.kill()
    owner.wait()


def run_job(tmp_path, server, *args, env=None, wait=True):
    script = tmp_path / "job.py"
    script.write_text(JOB.format(root=str(ROOT)))
    env = {**{k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}, prefork.ENV: server["path"],
           prefork.PID_ENV: str(server["pid"]), "JOB_VAR": "fromjob", **(env or {})}
    p = subprocess.Popen([sys.executable, str(script), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    if not wait:
        return p
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


def ran(out: str) -> list[str]:
    return next(line for line in out.splitlines() if line.startswith("ran ")).split()


def test_a_torch_job_runs_in_a_fork_with_its_own_cwd_env_args_and_status(tmp_path, server):
    rc, out, err = run_job(tmp_path, server, "train_rl", "a", "3")
    assert rc == 3, err
    _, _, ppid, cwd, var, *rest = ran(out)
    assert int(ppid) == server["pid"]  # forked by the server, not run by the client
    assert cwd == str(tmp_path) and var == "fromjob" and rest == ["['a',", "'3']"]


def test_a_failing_job_fails_with_its_traceback(tmp_path, server):
    rc, out, err = run_job(tmp_path, server, "train_rm", "raise")
    assert rc == 1 and "ValueError: the job failed" in err
    assert int(ran(out)[2]) == server["pid"]


def test_a_killed_job_does_not_run_on(tmp_path, server):
    p = run_job(tmp_path, server, "score_pool", "sleep", wait=False)
    assert wait_for(lambda: (tmp_path / "started").exists())
    forks = [c for c in os.listdir("/proc") if c.isdigit() and alive(int(c))
             and Path(f"/proc/{c}/stat").read_text().rpartition(")")[2].split()[1] == str(server["pid"])]
    assert forks
    p.kill()  # as Snakemake kills a job
    p.wait()
    assert wait_for(lambda: not any(alive(int(c)) for c in forks), 10)
    assert not (tmp_path / "finished").exists()


def test_jobs_that_do_not_apply_run_in_their_own_process(tmp_path, server):
    for args, env in [(("curves",), {}),  # never imports torch
                      (("train_rl",), {"SLURM_JOB_ID": "7"}),  # a cluster job: its own allocation
                      (("train_rl",), {prefork.ENV: "0"}),
                      (("train_rl",), {prefork.ENV: str(tmp_path / "none"), prefork.PID_ENV: "0"})]:  # no server
        rc, out, err = run_job(tmp_path, server, *args, env=env)
        assert rc == 0, err
        assert int(ran(out)[2]) != server["pid"], (args, env)


def test_a_request_the_server_cannot_take_runs_the_job_here(tmp_path, server):
    rc, out, err = run_job(tmp_path, server, "train_rl", "local-class", "4")
    assert rc == 4, err
    assert int(ran(out)[2]) != server["pid"]


def test_a_fork_outlives_a_stopped_server_and_reports_its_status(tmp_path):
    owner, path, pid = start_owner()
    try:
        p = run_job(tmp_path, {"path": path, "pid": pid}, "train_rl", "pause", "5", wait=False)
        assert wait_for(lambda: (tmp_path / "started").exists())
        os.kill(pid, signal.SIGTERM)  # as prefork.stop() does
        out, err = p.communicate(timeout=60)
        assert p.returncode == 5, err
        assert int(ran(out)[2]) == pid and not alive(pid)
    finally:
        owner.kill()
        owner.wait()


def test_the_server_leaves_with_its_owner():
    owner, path, pid = start_owner()
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert wait_for(lambda: not alive(pid), 30) and not os.path.exists(path)


def test_a_cluster_run_starts_no_server(monkeypatch):
    monkeypatch.delenv(prefork.ENV, raising=False)
    assert not prefork.enabled(local_exec=False)
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    assert not prefork.enabled(local_exec=True)


def test_the_server_is_not_a_code_input():
    """Where a job runs is not what it computes: editing overopt/prefork.py reruns nothing."""
    for script in deps.SCRIPTS.glob("[!_]*.py"):
        assert not any(f.endswith("prefork.py") for f in deps.files(script.stem)), script


def test_a_client_of_other_code_runs_its_job_itself(tmp_path, server):
    """prefork.py edited during a run: the old server refuses the new client's job."""
    digest = prefork._source_digest()
    root = tmp_path / "repo"
    (root / "overopt").mkdir(parents=True)
    (root / "overopt" / "__init__.py").write_text("")
    (root / "overopt" / "prefork.py").write_text((ROOT / "overopt" / "prefork.py").read_text() + "\n# edited\n")
    script = tmp_path / "job.py"
    script.write_text(JOB.format(root=str(root)))
    env = {**{k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}, prefork.ENV: server["path"],
           prefork.PID_ENV: str(server["pid"]), "PYTHONPATH": ""}
    out = subprocess.run([sys.executable, str(script), "train_rl", "0"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(ran(out.stdout)[2]) != server["pid"] and digest == prefork._source_digest()
