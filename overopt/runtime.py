"""Per-job runtime set-up: threads, seeds, device, logging, progress.

Every job calls :func:`setup` first, so torch uses exactly the threads Snakemake granted
(oversubscribing two cores halves throughput) and everything is seeded.
"""
from __future__ import annotations

import logging
import os
import random
import sys
import time

import numpy as np

log = logging.getLogger("overopt")


def setup(threads: int = 1, seed: int = 0, log_file: str | None = None) -> None:
    """Pin torch to `threads`, seed every RNG, and send logs to `log_file`.

    Torch is not imported here (jobs that only write tables never load it): the thread count
    goes through OMP_NUM_THREADS, which torch reads when it is first imported."""
    threads = max(1, int(threads))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # generate's padding notice is noise here
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    seed_all(seed)
    # A job logs to its Snakemake log file only; interactive use logs to stderr.
    handlers: list[logging.Handler] = [logging.FileHandler(log_file, mode="a") if log_file
                                       else logging.StreamHandler(sys.stderr)]
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    for noisy in ("datasets", "accelerate", "trl", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log.info("threads=%d seed=%d CUDA_VISIBLE_DEVICES=%s SLURM_JOB_ID=%s", threads, seed,
             os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"), os.environ.get("SLURM_JOB_ID", "<none>"))


def seed_all(seed: int) -> None:
    """Seed Python, NumPy and (if loaded) torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def job(smk, seed: int = 0) -> None:
    """Set up a Snakemake job: claim its GPU(s) first (before CUDA initializes), then
    threads, seeds and logging to the job's log file."""
    from overopt import devices

    devices.claim(int(getattr(smk.resources, "gpu", 0) or 0))
    setup(smk.threads, seed, smk.log[0])


def device() -> str:
    """CUDA when a GPU is visible, the CPU otherwise."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def use_bf16() -> bool:
    """bf16 only on a GPU that supports it; CPU autocast to bf16 is slower and lossy."""
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


class Progress:
    """Logs `done/total`, rate and ETA at most every `every` seconds."""

    def __init__(self, what: str, total: int, every: float = 5.0):
        self.what, self.total, self.every = what, max(1, total), every
        self.start = self.last = time.monotonic()

    def update(self, done: int, extra: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every and done < self.total:
            return
        self.last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        log.info("%s %d/%d (%.1f/s, elapsed %.0fs, ETA %.0fs) %s",
                 self.what, done, self.total, rate, elapsed, eta, extra)


def trainer_args(cls, output_dir: str, seed: int, hp: dict, save_steps: int = 0, **extra):
    """A TRL/transformers ``TrainingArguments`` subclass with this project's defaults: no
    reporting, no gradient checkpointing (slow on CPU), bf16 on GPUs only, and the
    hyper-parameters in ``hp`` (keys are the config's, named as in TRL). With ``save_steps``
    the trainer writes a resumable checkpoint (model, optimizer, scheduler, RNG) to
    ``output_dir`` every ``save_steps`` steps, keeping only the last."""
    keys = ("learning_rate", "per_device_train_batch_size", "num_train_epochs", "lr_scheduler_type",
            "warmup_ratio", "weight_decay", "max_grad_norm")
    kw = {k: hp[k] for k in keys if k in hp}
    if "warmup_ratio" in kw:  # transformers 5 takes a float warmup_steps as a ratio
        kw["warmup_steps"] = kw.pop("warmup_ratio")
    save = {"save_strategy": "steps", "save_steps": save_steps, "save_total_limit": 1} if save_steps else \
        {"save_strategy": "no"}
    return cls(output_dir=output_dir, seed=seed, data_seed=seed, report_to=[], **save,
               logging_steps=hp.get("logging_steps", 20), disable_tqdm=True, activation_checkpointing=False,
               bf16=use_bf16(), use_cpu=device() == "cpu", dataloader_num_workers=0, **kw, **extra)


def train_resumable(trainer, checkpoint_dir: str | None):
    """``trainer.train()``, resuming from the newest checkpoint in ``checkpoint_dir`` if a
    killed run left one (Snakemake's --rerun-incomplete reruns the job; the checkpoints live
    outside its outputs, so they survive). The folder is removed once training ends."""
    import shutil
    from pathlib import Path

    from transformers import PrinterCallback
    from transformers.trainer_utils import get_last_checkpoint

    trainer.remove_callback(PrinterCallback)
    last = get_last_checkpoint(checkpoint_dir) if checkpoint_dir and Path(checkpoint_dir).is_dir() else None
    if last:
        log.info("resuming from %s", last)
    result = trainer.train(resume_from_checkpoint=last)
    if checkpoint_dir:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return result


def progress_callback():
    """A ``TrainerCallback`` logging step/total, loss and ETA to the job's log."""
    from transformers import TrainerCallback

    class _Cb(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            self.bar = Progress("train step", state.max_steps, every=0)

        def on_log(self, args, state, control, logs=None, **kw):
            keys = ("loss", "train_loss", "accuracy", "margin", "learning_rate")
            extra = " ".join(f"{k}={logs[k]:.4g}" for k in keys if logs and k in logs)
            self.bar.update(state.global_step, extra, force=True)

    return _Cb()
