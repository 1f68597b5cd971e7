"""A fork server for a local run's torch jobs: import torch, transformers and TRL once per
Snakemake run, not once per job.

Importing the torch stack costs a job about 7 s of CPU before it does anything; in the tiny
preset that was most of the study's time. On a local run (``snakemake --cores N``) the Snakefile's
``onstart`` starts one server process (:func:`start`), which imports the libraries and listens on
a Unix socket whose path it exports to the jobs (``OVEROPT_PREFORK``). A job of a rule that
imports torch (:data:`TORCH_RULES`) is still its own Snakemake job, with its own
script, log, benchmark file, threads and GPU claim; its script's first import
(``workflow/scripts/_package.py``) calls :func:`handoff`, which passes the script, the
``snakemake`` object, the environment and the job's stdin/stdout/stderr to the server. The
server forks; the fork runs the script exactly as Python would have (``__main__``, the same
``sys.path``, working directory and environment) and its exit status becomes the job's. Nothing
about which jobs run, or what they compute, changes: Snakemake still plans and reruns every job.

When it does not apply, the job simply runs in its own process: on a cluster (``SLURM_JOB_ID``
set, or a non-local executor: the fork would escape the job's allocation), under
``--sdm conda`` (another interpreter), for jobs that never import torch, with
``OVEROPT_PREFORK=0``, or if the server is gone.

Process hygiene: the fork watches its client's socket and kills itself as soon as the client
process ends (Snakemake killing a job kills the client), so a killed job never runs on; the
server leaves when the Snakemake process that started it does. A forked job's memory and CPU
are its own (its CPU times start at 0; its peak RSS counts the preloaded libraries it maps, as
a job that imported them would): Snakemake's ``benchmark:`` files see only the client, so the
job logs both on its ``overhead:`` line (:func:`overopt.runtime.job`), which ``overopt.bench``
reads.

This module imports only the standard library: every job's client imports it.
"""
from __future__ import annotations

import os
import pickle
import select
import socket
import struct
import sys
import time

ENV = "OVEROPT_PREFORK"  # the server's socket path (set by start() for the run's jobs); "0": off
PID_ENV = "OVEROPT_PREFORK_PID"
STARTED_ENV = "OVEROPT_JOB_STARTED"  # a forked job's client's start time (runtime's overhead line)
TORCH_RULES = {"gold_rm", "train_policy", "sample_pool", "sample_ood", "sample_policy_pool", "score_pool",
               "label_pairs", "train_rm", "score_eval", "train_rl", "train_daa", "score_runs", "label_offpolicy",
               "label_ood", "score_shift", "score_teachers"}  # the rules whose jobs import torch (the rest never do); overopt.costs too
WAIT_S = 60.0  # how long a job waits for a server process to open its socket
# Library settings read from the environment when a library is imported, so the server needs
# them before it imports anything (runtime.setup sets the same ones for a job in its own process).
LIBRARY_ENV = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "TRANSFORMERS_VERBOSITY": "error",
               "TRL_EXPERIMENTAL_SILENCE": "1"}
CONTAINER_ENV = ("APPTAINER_CONTAINER", "SINGULARITY_CONTAINER")  # a job in a container stays in it
# What the server imports before it forks: the heavy libraries the torch jobs use (``import
# transformers`` alone is lazy; its classes are what cost).
PRELOAD = ("numpy", "pandas", "torch", "scipy.special", "scipy.stats", "datasets", "tokenizers", "safetensors.torch",
           "transformers", "transformers:AutoModelForCausalLM,AutoModelForSequenceClassification,AutoTokenizer,"
           "PreTrainedTokenizerFast,GPT2LMHeadModel,GPT2ForSequenceClassification,GPTNeoXForCausalLM,Trainer,"
           "TrainerCallback,DynamicCache", "accelerate", "trl:RewardTrainer,RLOOTrainer,DPOTrainer,SFTTrainer",
           "trl.experimental.ppo")


def _source_digest() -> str:
    """This file's digest: a client and a server of different code (edited during a run) do not pair."""
    import hashlib

    with open(__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def enabled(local_exec: bool) -> bool:
    """Whether this run starts a server: a local executor, not inside a SLURM job, not switched off."""
    return local_exec and not os.environ.get("SLURM_JOB_ID") and os.environ.get(ENV, "") != "0"


def start(local_exec: bool) -> None:
    """Start the run's server (from the Snakefile's ``onstart``) and export its socket path to
    the jobs. It imports in the background; the first torch jobs wait for it (:func:`handoff`)."""
    import subprocess
    import tempfile

    if not enabled(local_exec):
        return
    folder = tempfile.mkdtemp(prefix="overopt-prefork-")
    path = os.path.join(folder, "socket")
    env = {**LIBRARY_ENV, **os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTORCH_NVML_BASED_CUDA_CHECK": "1"}  # asking whether CUDA exists must not start it
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), path, str(os.getpid())], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(folder, "server.log"), "w"), start_new_session=True,
                            cwd=os.getcwd())
    os.environ[ENV], os.environ[PID_ENV] = path, str(proc.pid)


def stop() -> None:
    """End the run's server (``onsuccess``/``onerror``); a fork still running reports its own
    exit status to its client."""
    import signal

    pid = os.environ.pop(PID_ENV, None)
    os.environ.pop(ENV, None)
    if pid:
        try:
            os.kill(int(pid), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


# --- the job's side ----------------------------------------------------------------------------

def handoff() -> None:
    """Run this job's script in a fork of the server and exit with its status; return (and let
    the script run here) when prefork does not apply or no server answers."""
    path = os.environ.get(ENV, "")
    main = sys.modules.get("__main__")
    smk = getattr(main, "snakemake", None)
    if (path in ("", "0") or os.environ.get("SLURM_JOB_ID") or any(map(os.environ.get, CONTAINER_ENV))
            or smk is None or smk.rule not in TORCH_RULES):
        return
    conn = _connect(path, int(os.environ.get(PID_ENV, "0") or 0))
    if conn is None:
        return
    env = {k: v for k, v in os.environ.items() if k not in (ENV, PID_ENV)}
    env[STARTED_ENV] = f"{process_start()!r} {sum(os.times()[:2])!r}"
    request = pickle.dumps({"file": main.__file__, "snakemake": pickle.dumps(smk), "path": list(sys.path),
                            "argv": list(sys.argv), "cwd": os.getcwd(), "env": env, "prefix": sys.prefix,
                            "version": sys.version, "code": _source_digest()})  # builtins only: the server checks it before unpickling smk
    try:
        socket.send_fds(conn, [struct.pack("!Q", len(request))], [0, 1, 2])
        conn.sendall(request)
        answer = conn.recv(1)
    except OSError:
        answer = b""
    if answer != b"A":  # refused (another interpreter), or gone before its fork accepted: run here
        conn.close()
        return
    status = _recv_exactly(conn, 4)
    if status is None:
        sys.stderr.write(f"overopt: the prefork server ({path}) ended before this job's fork did\n")
        os._exit(1)
    os._exit(struct.unpack("!i", status)[0])


def _connect(path: str, pid: int) -> socket.socket | None:
    deadline = time.monotonic() + WAIT_S
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(path)
            return conn
        except OSError:
            conn.close()
        if not _alive(pid) or time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """A running process (an exited server not yet reaped by Snakemake is a zombie: not alive)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return pid > 0 and f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def job_started() -> tuple[float, float]:
    """When this job's process was created (seconds since the epoch) and the CPU seconds spent
    before this process: a forked job's client's, from :func:`handoff`; else this process's, 0."""
    if os.environ.get(STARTED_ENV):
        created, cpu = os.environ[STARTED_ENV].split()
        return float(created), float(cpu)
    return process_start(), 0.0


def process_start() -> float:
    """This process's creation time (seconds since the epoch), from Linux's /proc."""
    with open("/proc/self/stat") as f:
        ticks = int(f.read().rpartition(")")[2].split()[19])
    with open("/proc/stat") as f:
        boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _recv_exactly(conn: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        try:
            chunk = conn.recv(n - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


# --- the server's side ---------------------------------------------------------------------------

def _preload(owner: int, path: str) -> None:
    import importlib

    for entry in PRELOAD:
        if os.getppid() != owner:  # Snakemake ended while this imported
            _cleanup(path)
        module, _, names = entry.partition(":")
        try:
            mod = importlib.import_module(module)
            for name in filter(None, names.split(",")):
                getattr(mod, name)
        except Exception as e:  # noqa: BLE001  (a library missing here is imported by the job itself)
            sys.stderr.write(f"not preloaded: {entry}: {e}\n")


def serve(path: str, owner: int) -> None:
    """Open the socket, import the libraries, then fork a job for every connection; exit when
    ``owner`` (the Snakemake process) does. Jobs that connect while it imports wait in the
    socket's queue (and run in their own process if it dies meanwhile). No Python thread runs
    in the server (jemalloc's background thread, from pyarrow, has fork handlers), so forking
    is safe; children are reaped every 0.2 s and the status of one killed by a signal is sent
    to its client (a child sends its own exit status)."""
    import signal

    # stop(): leave at once (an exception raised inside an import in C++ would abort instead)
    signal.signal(signal.SIGTERM, lambda *_: _cleanup(path))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".tmp")
    server.listen(128)
    os.replace(path + ".tmp", path)
    children: dict[int, socket.socket] = {}
    try:
        _preload(owner, path)
        with open("/proc/self/maps") as f:
            if "libcuda" in f.read():  # the CUDA driver started here: a fork could not use the GPU
                raise RuntimeError("CUDA's driver was loaded before forking; jobs run in their own process")
        while os.getppid() == owner:
            ready, _, _ = select.select([server], [], [], 0.2)
            if ready:
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                try:
                    pid = os.fork()
                except OSError:  # the client sees its connection close and runs the job itself
                    conn.close()
                    continue
                if pid == 0:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    server.close()
                    for other in children.values():
                        other.close()
                    _child(conn)  # never returns
                children[pid] = conn
            while children:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if not pid:
                    break
                code = os.waitstatus_to_exitcode(status)
                conn = children.pop(pid, None)
                if conn is None:
                    continue
                if code < 0:  # killed by a signal: it could not say so itself
                    try:
                        conn.sendall(struct.pack("!i", 128 - code))
                    except OSError:
                        pass
                conn.close()
    except BaseException:  # noqa: BLE001  (into server.log, which then stays)
        import traceback

        traceback.print_exc()
    finally:
        _cleanup(path)


def _cleanup(path: str) -> None:
    """Remove the socket, and its folder unless the log (the server's stderr) has something to
    say; then exit."""
    for p in (path, path + ".tmp"):
        try:
            os.unlink(p)
        except OSError:
            pass
    folder = os.path.dirname(path)
    log = os.path.join(folder, "server.log")
    sys.stderr.flush()
    try:
        if os.path.getsize(log) == 0:
            os.unlink(log)
        os.rmdir(folder)
    except OSError:
        pass
    os._exit(0)


def _child(conn: socket.socket) -> None:
    """Run one job's script as ``__main__`` in this fork, then send its exit status and exit.
    Anything wrong before the job is accepted (a short request, another interpreter, a
    ``snakemake`` object this interpreter cannot unpickle) is refused: the job runs itself."""
    code, accepted = 1, False
    try:
        head, fds, _, _ = socket.recv_fds(conn, 8, 3)
        head += _recv_exactly(conn, 8 - len(head)) or b"" if len(head) < 8 else b""
        if len(head) != 8 or len(fds) != 3:
            raise ValueError("incomplete request")
        request = pickle.loads(_recv_exactly(conn, struct.unpack("!Q", head)[0]) or b"")
        if (request["prefix"], request["version"], request.get("code")) != (sys.prefix, sys.version, CODE):
            raise ValueError("another interpreter, or the server's code has changed since it started")
        smk = pickle.loads(request["snakemake"])
        conn.sendall(b"A")
        accepted = True
        code = _run(conn, request, smk, fds)
    except BaseException:  # noqa: BLE001  (the job's own errors are handled in _run)
        if not accepted:
            try:
                conn.sendall(b"R")
            except OSError:
                pass
            os._exit(0)
        import traceback

        traceback.print_exc()
    finally:
        try:
            conn.sendall(struct.pack("!i", code))
        except OSError:
            pass
        os._exit(code)


def _run(conn: socket.socket, request: dict, smk, fds: list[int]) -> int:
    import atexit
    import runpy
    import signal
    import threading

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin, sys.stdout, sys.stderr = (os.fdopen(0, "r", closefd=False),
                                         os.fdopen(1, "w", buffering=1, closefd=False),
                                         os.fdopen(2, "w", buffering=1, errors="backslashreplace", closefd=False))
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[:] = request["path"]
    sys.argv[:] = request["argv"]

    def watch():  # the client ended (killed with its job): end the job now
        try:
            conn.recv(1)
        finally:
            os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()
    code = 0
    try:
        runpy.run_path(request["file"], init_globals={"snakemake": smk}, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, (int, type(None))):
            sys.stderr.write(f"{e.code}\n")
    except BaseException:  # noqa: BLE001
        sys.excepthook(*sys.exc_info())  # the job's hook logs the traceback (runtime.log_failures)
        code = 1
    threading._shutdown()  # join the job's non-daemon threads, as the interpreter's exit does
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    return code


if __name__ == "__main__":
    CODE = _source_digest()  # as the server started
    sys.path.pop(0)  # this folder: its modules' names (config, plan, ...) must not shadow the libraries'
    serve(sys.argv[1], int(sys.argv[2]))
