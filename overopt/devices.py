"""One GPU per job on a node that Snakemake schedules itself.

Snakemake counts a ``gpu`` resource but never sets ``CUDA_VISIBLE_DEVICES`` for local jobs
(Snakemake issue 281): under ``--resources gpu=8`` every job would use device 0. Each GPU job
therefore claims free devices through exclusive ``flock`` locks in a node-local folder and
exports ``CUDA_VISIBLE_DEVICES`` before CUDA initializes. The OS drops a lock when its
process dies, so a crashed job never leaves a device taken. Where a scheduler already set
``CUDA_VISIBLE_DEVICES`` (SLURM does per job), nothing changes.
"""
from __future__ import annotations

import fcntl
import glob
import logging
import os
import tempfile
import time
from pathlib import Path

log = logging.getLogger("overopt")
_held: list = []  # open lock files: held for the life of the process


def device_count() -> int:
    """GPUs on this node, counted without initializing CUDA (``/dev/nvidiaN`` nodes).
    ``OVEROPT_GPU_COUNT`` overrides it (tests use it to fake devices on a CPU machine)."""
    fake = os.environ.get("OVEROPT_GPU_COUNT")
    if fake is not None:
        return int(fake)
    return len([p for p in glob.glob("/dev/nvidia[0-9]*") if p[len("/dev/nvidia"):].isdigit()])


def lock_dir() -> Path:
    d = Path(os.environ.get("OVEROPT_GPU_LOCK_DIR", Path(tempfile.gettempdir()) / f"overopt-gpus-{os.getuid()}"))
    d.mkdir(parents=True, exist_ok=True)
    return d


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
    deadline = time.monotonic() + timeout
    while True:
        got = []
        for i in range(total):
            f = open(lock_dir() / f"gpu{i}.lock", "a+")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            got.append((i, f))
            if len(got) == n:
                break
        if len(got) == n:
            for i, f in got:
                f.seek(0)
                f.truncate()
                f.write(f"{os.getpid()}\n")
                f.flush()
            _held.extend(f for _, f in got)
            ids = [i for i, _ in got]
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, ids))
            log.info("claimed GPU(s) %s", ids)
            return ids
        for _, f in got:  # partial claim: give back and wait
            f.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {n} free GPU(s) among {total} after {timeout:.0f}s ({lock_dir()})")
        time.sleep(poll)
