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
    """Pin torch to `threads`, seed every RNG, and send logs to `log_file`."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import torch

    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already set in this process
        pass
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
    for noisy in ("datasets", "accelerate", "trl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import transformers

    transformers.utils.logging.set_verbosity_error()  # generate's one-time padding notice is noise here
    log.info("threads=%d seed=%d device=%s", threads, seed, device())


def seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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


def trainer_args(cls, output_dir: str, seed: int, hp: dict, **extra):
    """A TRL/transformers ``TrainingArguments`` subclass with this project's defaults: no
    checkpoint files, no reporting, no gradient checkpointing (slow on CPU), bf16 on GPUs only,
    and the hyper-parameters in ``hp`` (keys are the config's, named as in TRL)."""
    keys = ("learning_rate", "per_device_train_batch_size", "num_train_epochs", "lr_scheduler_type",
            "warmup_ratio", "weight_decay", "max_grad_norm")
    kw = {k: hp[k] for k in keys if k in hp}
    if "warmup_ratio" in kw:  # transformers 5 takes a float warmup_steps as a ratio
        kw["warmup_steps"] = kw.pop("warmup_ratio")
    return cls(output_dir=output_dir, seed=seed, data_seed=seed, save_strategy="no", report_to=[],
               logging_steps=hp.get("logging_steps", 20), disable_tqdm=True, activation_checkpointing=False,
               bf16=use_bf16(), use_cpu=device() == "cpu", dataloader_num_workers=0, **kw, **extra)


def progress_callback():
    """A ``TrainerCallback`` logging step/total, loss and ETA to the job's log."""
    from transformers import TrainerCallback

    class _Cb(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            self.bar = Progress("train step", state.max_steps, every=0)

        def on_log(self, args, state, control, logs=None, **kw):
            keys = ("loss", "accuracy", "margin", "learning_rate")
            extra = " ".join(f"{k}={logs[k]:.4g}" for k in keys if logs and k in logs)
            self.bar.update(state.global_step, extra, force=True)

    return _Cb()
