"""Long jobs (proxy-RM training, RL) killed mid-way and rerun with --rerun-incomplete resume
from their last checkpoint and end exactly where an uninterrupted run ends."""
import os
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

OVERLAY = {"checkpoint_steps": 10,
           "proxy": {"sizes": [{"name": "big", "arch": {"n_embd": 64, "n_layer": 3, "n_head": 4}}],
                     "data_sizes": [600], "train": {"num_train_epochs": 4, "logging_steps": 5}},
           "rl": {"steps": 60, "eval_every": 10}}
RM = "big-d600-bt-s0"
RL_RUN = "small-rloo-gold-kl0-s0"


def smk(snakemake_bin, root, work, *args, **kw):
    cmd = [snakemake_bin, *args, "--cores", "1", "--snakefile", str(root / "Snakefile"), "--directory", str(work),
           "--configfile", str(root / "config.yaml"), str(root / "config/presets/tiny.yaml"),
           str(work.parent / "resume.yaml")]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kw)


def kill_after_checkpoint(p, ckpt):
    deadline = time.monotonic() + 300
    while not list(ckpt.glob("checkpoint-*/trainer_state.json")):
        assert p.poll() is None, "the job ended before it could be killed: make it longer"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=60)


def resume(snakemake_bin, root, work, target):
    p = smk(snakemake_bin, root, work, "--unlock")  # a SIGKILL leaves Snakemake's lock behind
    assert p.wait(timeout=120) == 0
    p = smk(snakemake_bin, root, work, target, "--rerun-incomplete")
    assert p.wait(timeout=600) == 0, p.stdout.read()[-3000:]


def test_killed_rl_run_resumes_to_the_same_curve(tmp_path, root, snakemake_bin):
    (tmp_path / "resume.yaml").write_text(yaml.safe_dump(OVERLAY))
    a, b = tmp_path / "a", tmp_path / "b"
    p = smk(snakemake_bin, root, a, "results/rms/gold/normalization.json")
    assert p.wait(timeout=600) == 0, p.stdout.read()[-3000:]
    shutil.copytree(a, b, symlinks=True)
    target = "results/rl/small/rloo/gold/kl0-s0.csv"
    p = smk(snakemake_bin, root, a, target)
    assert p.wait(timeout=600) == 0, p.stdout.read()[-3000:]
    p = smk(snakemake_bin, root, b, target)
    kill_after_checkpoint(p, b / "results" / "checkpoints" / "train_rl" / RL_RUN)
    assert not (b / target).exists()
    resume(snakemake_bin, root, b, target)
    assert "resuming from" in (b / "results" / "logs" / "train_rl" / f"{RL_RUN}.log").read_text()
    ra, rb = pd.read_csv(a / target), pd.read_csv(b / target)
    assert list(ra["step"]) == list(rb["step"]) == list(range(0, 61, 10))
    pd.testing.assert_frame_equal(ra, rb, atol=1e-6)


def test_killed_training_resumes_to_the_same_model(tmp_path, root, snakemake_bin):
    from safetensors.torch import load_file

    (tmp_path / "resume.yaml").write_text(yaml.safe_dump(OVERLAY))
    a, b = tmp_path / "a", tmp_path / "b"
    p = smk(snakemake_bin, root, a, "results/labels/pairs.csv")
    assert p.wait(timeout=600) == 0, p.stdout.read()[-3000:]
    shutil.copytree(a, b, symlinks=True)
    target = f"results/rms/{RM}/metrics.json"

    p = smk(snakemake_bin, root, a, target)  # uninterrupted
    assert p.wait(timeout=600) == 0, p.stdout.read()[-3000:]

    p = smk(snakemake_bin, root, b, target)  # killed once a checkpoint is on disk
    ckpt = b / "results" / "checkpoints" / "train_rm" / RM
    kill_after_checkpoint(p, ckpt)
    assert not (b / target).exists()
    resume(snakemake_bin, root, b, target)
    log = (b / "results" / "logs" / "train_rm" / f"{RM}.log").read_text()
    assert "resuming from" in log
    assert not ckpt.exists()  # cleaned up once done

    wa = load_file(a / "results" / "rms" / RM / "model" / "model.safetensors")
    wb = load_file(b / "results" / "rms" / RM / "model" / "model.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert (wa[k] - wb[k]).abs().max().item() < 1e-6, k
    ma, mb = (yaml.safe_load((w / target).read_text()) for w in (a, b))
    assert ma["val_loss"] == pytest.approx(mb["val_loss"], abs=1e-6) and ma["steps"] == mb["steps"]
