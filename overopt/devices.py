"""One GPU per job on a node that Snakemake schedules itself.

Snakemake counts a ``gpu`` resource but never sets ``CUDA_VISIBLE_DEVICES`` for local jobs
(Snakemake issue 281): under ``--resources gpu=8`` every job would use device 0. Each GPU job
therefore claims free devices through exclusive ``flock`` locks in a node-local folder and
exports ``CUDA_VISIBLE_DEVICES`` before CUDA initializes. The OS drops a lock when its
process dies, so a crashed job never leaves a device taken. Where a scheduler already set
``CUDA_VISIBLE_DEVICES`` (SLURM does per job), nothing changes.
"""
from __future__ import annotations

import errno
import fcntl
import glob
import logging
import os
import stat
import tempfile
import time
from pathlib import Path

log = logging.getLogger("overopt")
_held: list[int] = []  # descriptors of the lock files: held for the life of the process


def device_count() -> int:
    """GPUs on this node, counted without initializing CUDA (``/dev/nvidiaN`` nodes).
    ``OVEROPT_GPU_COUNT`` overrides it (tests use it to fake devices on a CPU machine)."""
    fake = os.environ.get("OVEROPT_GPU_COUNT")
    if fake is not None:
        return int(fake)
    return len([p for p in glob.glob("/dev/nvidia[0-9]*") if p[len("/dev/nvidia"):].isdigit()])


def lock_dir() -> Path:
    """The lock folder, private to this user. Its default name in /tmp is predictable, so on a
    shared node another user could create it first and plant links in it: an existing folder
    must be a real directory (not a link), ours, and writable by no one else; it is then made 0700.
    ``OVEROPT_GPU_LOCK_DIR`` overrides the path (and passes the same checks)."""
    d = Path(os.environ.get("OVEROPT_GPU_LOCK_DIR", Path(tempfile.gettempdir()) / f"overopt-gpus-{os.getuid()}"))
    d.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise PermissionError(
            f"{d}: GPU lock folder must be a directory (not a link) owned by uid {os.getuid()} and writable by "
            f"no one else; it is {stat.filemode(st.st_mode)} owned by uid {st.st_uid}. "
            f"Remove it or set OVEROPT_GPU_LOCK_DIR")
    # Other modes are the umask's doing or 0755 from older versions; no one else could write in it.
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(d, 0o700)
    return d


def _open_lock(path: Path) -> int:
    """A lock file's descriptor, never through a link, and only if it is a plain file of ours
    with no other name (so writing the pid into it cannot clobber another file)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise PermissionError(f"{path}: GPU lock file is a symbolic link; refusing to follow it") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_nlink != 1:
        os.close(fd)
        raise PermissionError(
            f"{path}: GPU lock file must be a regular file owned by uid {os.getuid()} with one link; "
            f"it is {stat.filemode(st.st_mode)} owned by uid {st.st_uid} with {st.st_nlink} link(s)")
    return fd


def claim(n: int, timeout: float = 3600.0, poll: float = 0.5) -> list[int] | None:
    """Claim ``n`` free devices and export them as ``CUDA_VISIBLE_DEVICES``. Returns the
    device ids, or None when the scheduler had already chosen (or no GPU is wanted)."""
    if n <= 0 or "CUDA_VISIBLE_DEVICES" in os.environ:
        return None
    total = device_count()
    if total == 0:
        return None
    if n > total:
        raise RuntimeError(f"job wants {n} GPUs, this node has {total}")
    folder = lock_dir()
    deadline = time.monotonic() + timeout
    while True:
        got = []
        for i in range(total):
            fd = _open_lock(folder / f"gpu{i}.lock")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            got.append((i, fd))
            if len(got) == n:
                break
        if len(got) == n:
            for _, fd in got:  # ours, checked, and locked: safe to overwrite
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _held.extend(fd for _, fd in got)
            ids = [i for i, _ in got]
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, ids))
            log.info("claimed GPU(s) %s", ids)
            return ids
        for _, fd in got:  # partial claim: give back and wait
            os.close(fd)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {n} free GPU(s) among {total} after {timeout:.0f}s ({folder})")
        time.sleep(poll)
