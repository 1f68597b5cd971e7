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
    from overopt.prefork import LIBRARY_ENV  # progress bars, telemetry, generate's padding notice: off

    for var, value in LIBRARY_ENV.items():
        os.environ.setdefault(var, value)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    seed_all(seed)
    _log_to(log_file)
    log.info("threads=%d seed=%d dtype=%s CUDA_VISIBLE_DEVICES=%s SLURM_JOB_ID=%s", threads, seed, _DTYPE,
             os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"), os.environ.get("SLURM_JOB_ID", "<none>"))


def _log_to(log_file: str | None) -> None:
    """A job logs to its Snakemake log file only; interactive use logs to stderr."""
    handlers: list[logging.Handler] = [logging.FileHandler(log_file, mode="a") if log_file
                                       else logging.StreamHandler(sys.stderr)]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=handlers, force=True)
    for noisy in ("datasets", "accelerate", "trl", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_failures(log_file: str) -> None:
    """Make `log_file` the whole record of a job, since on SLURM nobody reads the console.

    File descriptor 2 is pointed at the log (append mode, so it interleaves with the logging
    handler's writes): whatever writes to stderr lands there too, Python or C (CUDA and NCCL
    errors, library warnings, thread tracebacks, faulthandler's dump on a segfault or abort).
    Python warnings go through logging. An uncaught exception is logged with its traceback and
    then handed to the previous hook with stderr pointing at the console, so Snakemake's
    output still shows it."""
    import faulthandler

    _log_to(log_file)
    logging.captureWarnings(True)
    console = os.fdopen(os.dup(2), "w", buffering=1, errors="backslashreplace")
    sys.stderr.flush()
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    faulthandler.enable()
    previous = sys.excepthook

    def hook(kind, value, tb):
        log.critical("job failed (log: %s)", log_file, exc_info=(kind, value, tb))
        saved, sys.stderr = sys.stderr, console
        try:
            previous(kind, value, tb)
        finally:
            sys.stderr = saved

    sys.excepthook = hook


def seed_all(seed: int) -> None:
    """Seed Python, NumPy and (if loaded) torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)

def _record_overhead() -> None:
    """Measure a job's fixed overhead and log one line at exit (``overopt.bench`` reads it):

        overhead: startup+imports 4.31 s, work 25.02 s, model loading 0.12 s (startup 1.20 s, imports 3.11 s; cpu 4.05 of 28.70 s) rss 812 MB

    *startup*: from the process's creation to :func:`job` (Python, Snakemake's script preamble,
    the script's module imports); *imports*: the first imports of the heavy libraries the
    package imports lazily (``libs``; timed at the outermost import statement); *model
    loading*: ``overopt.models.load_policy`` and ``RewardModel.load`` calls, less the imports
    inside them (wrapped once ``overopt.models`` is imported: this module must not import it,
    or every table job would depend on the model code); *work*: the rest of the process's wall
    time. cpu: the process's CPU seconds in startup+imports, and in all; rss: its peak resident
    memory. A job run in a fork of the prefork server (``overopt.prefork``; the line then ends
    ``, preforked``) counts from its client process's start and adds the client's CPU; its
    imports are mostly done already. Measuring never fails a job."""
    libs = ("torch", "transformers", "trl", "datasets", "accelerate", "tokenizers", "safetensors", "scipy",
            "sklearn", "statsmodels", "matplotlib")
    try:
        import atexit
        import builtins
        import resource

        from overopt import prefork

        created, cpu_before = prefork.job_started()  # a forked job: its client's start and CPU
        startup, cpu0 = time.time() - created, cpu_before + sum(os.times()[:2])
        spent = {"imports": 0.0, "imports_cpu": 0.0, "loading": 0.0, "depth": 0, "wrapped": False}
        real_import = builtins.__import__

        def timed_import(name, globals=None, locals=None, fromlist=(), level=0):
            if level or spent["depth"] or name.partition(".")[0] not in libs:
                module = real_import(name, globals, locals, fromlist, level)
                if not spent["wrapped"]:
                    wrap_loaders()  # before `from overopt.models import load_policy` binds the name
                return module
            spent["depth"] += 1
            t, c = time.perf_counter(), time.process_time()
            try:
                return real_import(name, globals, locals, fromlist, level)
            finally:
                spent["depth"] -= 1
                spent["imports"] += time.perf_counter() - t
                spent["imports_cpu"] += time.process_time() - c

        def timed(fn):
            def wrapper(*args, **kw):
                t, before = time.perf_counter(), spent["imports"]
                try:
                    return fn(*args, **kw)
                finally:
                    spent["loading"] += time.perf_counter() - t - (spent["imports"] - before)

            wrapper.__wrapped__ = fn
            return wrapper

        def wrap_loaders():
            models = sys.modules.get("overopt.models")
            if not (hasattr(models, "load_policy") and hasattr(models, "RewardModel")):
                return  # not imported yet, or still executing its body
            spent["wrapped"] = True
            try:
                load_policy = models.load_policy
                for mod in [m for name, m in list(sys.modules.items()) if name.split(".")[0] == "overopt"]:
                    if getattr(mod, "load_policy", None) is load_policy:  # bound by `from overopt.models import`
                        mod.load_policy = timed(load_policy)
                models.RewardModel.load = classmethod(timed(models.RewardModel.load.__func__))
            except Exception as e:  # noqa: BLE001
                log.warning("model loading not timed: %s", e)

        wrap_loaders()
        builtins.__import__ = timed_import

        def report():
            total, fixed = time.time() - created, startup + spent["imports"]
            log.info("overhead: startup+imports %.2f s, work %.2f s, model loading %.2f s (startup %.2f s, imports "
                     "%.2f s; cpu %.2f of %.2f s) rss %.0f MB%s", fixed, total - fixed - spent["loading"],
                     spent["loading"], startup, spent["imports"], cpu0 + spent["imports_cpu"],
                     cpu_before + sum(os.times()[:2]), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                     ", preforked" if prefork.STARTED_ENV in os.environ else "")

        atexit.register(report)
    except Exception as e:  # noqa: BLE001  (a measurement must never fail the job)
        log.warning("overhead not measured: %s", e)


def job(smk, seed: int = 0) -> None:
    """Set up a Snakemake job: its log file gets everything, failures included (first, so a
    failed GPU claim is logged too); then claim its GPU(s) before CUDA initializes; then
    threads and seeds."""
    from overopt import devices

    log_failures(smk.log[0])
    hp = getattr(getattr(smk, "params", None), "hp", None)
    set_dtype(hp.get("dtype", "auto") if isinstance(hp, dict) else "auto")  # the job's own setting (a param)
    _record_overhead()  # logs startup+imports, model loading and work at exit
    devices.claim(int(getattr(smk.resources, "gpu", 0) or 0))
    setup(smk.threads, seed, smk.log[0])


def device() -> str:
    """CUDA when a GPU is visible, the CPU otherwise."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


_DTYPE = "auto"  # the job's `dtype` setting (config key dtype), set by job()


def set_dtype(dtype: str) -> None:
    global _DTYPE
    if dtype not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"dtype must be auto, float32 or bfloat16, got {dtype!r}")
    _DTYPE = dtype


def compute_dtype() -> str:
    """``float32`` or ``bfloat16``: the configured dtype; ``auto`` is bf16 on a GPU that supports
    it and fp32 otherwise (on a CPU bf16 is slower and lossy, so only when asked for)."""
    import torch

    if _DTYPE != "auto":
        return _DTYPE
    return "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float32"


def use_bf16() -> bool:
    return compute_dtype() == "bfloat16"


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
    the trainer writes a resumable checkpoint (model, optimizer, scheduler, RNG states, and the
    ``ExportableState`` callbacks in trainer_state.json) to ``output_dir`` every ``save_steps``
    steps, keeping only the last; a resume skips the batches the killed run had trained on
    (``ignore_data_skip`` off), so it continues the same data order."""
    keys = ("learning_rate", "per_device_train_batch_size", "num_train_epochs", "lr_scheduler_type",
            "warmup_ratio", "weight_decay", "max_grad_norm")
    kw = {k: hp[k] for k in keys if k in hp}
    if "warmup_ratio" in kw:  # transformers 5 takes a float warmup_steps as a ratio
        kw["warmup_steps"] = kw.pop("warmup_ratio")
    save = {"save_strategy": "steps", "save_steps": save_steps, "save_total_limit": 1, "save_only_model": False,
            "ignore_data_skip": False} if save_steps else {"save_strategy": "no"}
    return cls(output_dir=output_dir, seed=seed, data_seed=seed, report_to=[], **save,
               logging_steps=hp.get("logging_steps", 20), disable_tqdm=True, activation_checkpointing=False,
               bf16=use_bf16(), use_cpu=device() == "cpu", dataloader_num_workers=0, **kw, **extra)


CHECKPOINT_STAMP = "run.json"  # what a checkpoint folder was trained with (see checkpoint_folder)


def fingerprint(settings, *inputs) -> dict:
    """What a checkpoint must have been trained with for a resume to be exact: the stage's
    settings (a dataclass or a dict) and a digest of each input: a file by its contents, a
    folder by every file in it, anything else (a hub id) by its name. A file over 64 MiB is
    identified by its size and modification time instead (a pretrained model: reading it again
    at every job start costs more than a stale match risks)."""
    import dataclasses
    import hashlib
    from pathlib import Path

    def digest(path: Path) -> str:
        st = path.stat()
        if st.st_size > 64 * 2**20:
            return f"size={st.st_size} mtime_ns={st.st_mtime_ns}"
        return hashlib.sha256(path.read_bytes()).hexdigest()

    def identify(item) -> object:
        path = Path(str(item))
        if path.is_file():
            return digest(path)
        if path.is_dir():
            return {str(f.relative_to(path)): digest(f) for f in sorted(path.rglob("*")) if f.is_file()}
        return str(item)

    hp = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings)
    return {"settings": hp, "inputs": {str(i): identify(i) for i in inputs}}


def _checkpoint_step(path) -> int | None:
    """A checkpoint's step if it is complete (``Trainer`` writes trainer_state.json last, so a
    job killed while saving leaves a folder without a readable one), else None."""
    import json
    import re
    from pathlib import Path

    m = re.fullmatch(r"checkpoint-(\d+)", Path(path).name)
    try:
        state = json.loads((Path(path) / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return None
    return int(m.group(1)) if m and state.get("global_step") == int(m.group(1)) else None


def last_checkpoint(checkpoint_dir: str | None) -> str | None:
    """The newest complete checkpoint in ``checkpoint_dir`` (None if there is none)."""
    from pathlib import Path

    if not checkpoint_dir or not Path(checkpoint_dir).is_dir():
        return None
    done = [(step, p) for p in Path(checkpoint_dir).glob("checkpoint-*") if (step := _checkpoint_step(p)) is not None]
    return str(max(done)[1]) if done else None


def checkpoint_folder(checkpoint_dir: str | None, save_steps: int, identity: dict) -> str | None:
    """The folder a training job checkpoints into and resumes from, or None (no
    ``checkpoint_dir``, or ``save_steps`` 0: no checkpoints, a fresh start).

    A folder left by a killed job is kept only if its stamp (:data:`CHECKPOINT_STAMP`) holds
    this job's ``identity`` (:func:`fingerprint`): a checkpoint of other settings or other
    inputs (a config edited, an upstream job rerun) is removed, never resumed, and so is a
    folder without a stamp. Of a kept folder only the newest complete checkpoint stays
    (incomplete ones, from a kill while saving, are removed). The stamp is written before
    training starts, so every checkpoint in the folder is stamped."""
    import json
    import shutil
    from pathlib import Path

    if not checkpoint_dir:
        return None
    path, want = Path(checkpoint_dir), json.dumps(identity, sort_keys=True, default=str)
    stamp = path / CHECKPOINT_STAMP
    if path.exists():
        have = stamp.read_text() if stamp.is_file() else None
        if save_steps and have == want:
            keep = last_checkpoint(checkpoint_dir)
            for p in path.glob("checkpoint-*"):
                if str(p) != keep:
                    log.info("removing %s (incomplete or superseded)", p)
                    shutil.rmtree(p)
            return str(path)
        log.warning("removing checkpoint folder %s: %s", path,
                    "checkpointing is off (checkpoint_steps 0)" if not save_steps else
                    "no stamp" if have is None else "made with other settings or inputs; training from scratch")
        shutil.rmtree(path)
    if not save_steps:
        return None
    path.mkdir(parents=True)
    tmp = path / (CHECKPOINT_STAMP + ".tmp")
    tmp.write_text(want)
    tmp.replace(stamp)
    return str(path)


def running_loss_callback(trainer, record: dict):
    """A callback carrying the trainer's running training loss across a resume, so that a
    resumed run reports the ``train_loss`` (and logs the losses) of an uninterrupted one.

    ``Trainer`` keeps the loss of the steps since the last log in a float32 tensor (``_tr_loss``),
    adds it to a float total at each log (``_total_loss_scalar``) and reports ``total / steps
    of this train() call``; a resumed call starts both from 0, so it reports the mean of the
    steps after the resume only. This callback is an ``ExportableState``: its state (the total,
    the pending float32 sum and the step of the last log) is stored in every checkpoint's
    trainer_state.json (``stateful_callbacks``), written in the same file as the step it belongs
    to, and put back into the trainer when a resumed run begins. The sums are then the same
    numbers in the same order as without the kill, so the loss is bit-identical (not recomputed
    from the rounded log history). ``record["exact"]`` says whether that held: False if a run
    resumed from a checkpoint without this state."""
    from transformers import TrainerCallback
    from transformers.trainer_callback import ExportableState

    class RunningLoss(TrainerCallback, ExportableState):
        def __init__(self, **saved):
            self.saved = saved

        def state(self) -> dict:
            pending = getattr(trainer, "_tr_loss", None)
            return {"args": {"step": trainer.state.global_step if hasattr(trainer, "state") else 0,
                             "total": getattr(trainer, "_total_loss_scalar", 0.0),
                             "pending": 0.0 if pending is None else float(pending.item()),
                             "last_logged": getattr(trainer, "_globalstep_last_logged", 0)},
                    "attributes": {}}

        def on_train_begin(self, args, state, control, **kw):
            stored = state.stateful_callbacks.get(type(self).__name__)
            saved = stored.get("args", {}) if isinstance(stored, dict) else {}
            if state.global_step == 0:
                record["exact"] = True
            elif saved.get("step") == state.global_step:
                trainer._total_loss_scalar = float(saved["total"])
                trainer._tr_loss.fill_(float(saved["pending"]))
                trainer._globalstep_last_logged = int(saved["last_logged"])
                record["exact"] = True
            else:
                log.warning("the checkpoint at step %d holds no running loss: train_loss is unknown", state.global_step)
                record["exact"] = False
            state.stateful_callbacks[type(self).__name__] = self.state()  # a checkpoint without it could not save

    return RunningLoss()


def train_resumable(trainer, checkpoint_dir: str | None):
    """``trainer.train()``, resuming from the newest complete checkpoint in ``checkpoint_dir``
    if a killed run left one (Snakemake's --rerun-incomplete reruns the job; the checkpoints
    live outside its outputs, so they survive); pass a folder from :func:`checkpoint_folder`,
    which removes a stale one. The folder is removed once training ends.

    The result's ``training_loss`` (and ``metrics["train_loss"]``) is the mean loss over every
    step of the run, the killed part included, carried through the checkpoints by
    :func:`running_loss_callback`; NaN if the checkpoint resumed from lacked it."""
    import math
    import shutil

    from transformers import PrinterCallback
    from transformers.trainer_utils import TrainOutput

    trainer.remove_callback(PrinterCallback)
    record: dict = {}
    trainer.add_callback(running_loss_callback(trainer, record))
    last = last_checkpoint(checkpoint_dir)
    if last:
        log.info("resuming from %s", last)
    result = trainer.train(resume_from_checkpoint=last)
    steps = trainer.state.global_step
    loss = trainer._total_loss_scalar / max(steps, 0.001) if record.get("exact") else math.nan
    if not last and loss != result.training_loss and not (math.isnan(loss) and math.isnan(result.training_loss)):
        raise RuntimeError(f"running loss {loss} != the trainer's {result.training_loss}: has transformers "
                           "changed its loss bookkeeping (runtime.running_loss_callback)?")
    if checkpoint_dir:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return TrainOutput(result.global_step, loss, {**result.metrics, "train_loss": loss})


def progress_callback():
    """A ``TrainerCallback`` logging step/total, loss and ETA to the job's log (after a resume,
    rate and ETA count the steps of this run only)."""
    from transformers import TrainerCallback

    class _Cb(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            self.first = state.global_step
            self.bar = Progress("train step", state.max_steps - self.first, every=0)

        def on_log(self, args, state, control, logs=None, **kw):
            keys = ("loss", "train_loss", "accuracy", "margin", "learning_rate")
            extra = " ".join(f"{k}={logs[k]:.4g}" for k in keys if logs and k in logs)
            if self.first:
                extra = f"(step {state.global_step}/{state.max_steps}, resumed at {self.first}) {extra}"
            self.bar.update(state.global_step - self.first, extra, force=True)

    return _Cb()
