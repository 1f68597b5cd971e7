"""Long jobs (proxy-RM training, RL) killed mid-way and rerun with --rerun-incomplete resume
from their last checkpoint and end exactly where an uninterrupted run ends: the same curve
(every column, exactly), the same weights, the same reported train loss.

Both jobs are killed after a checkpoint taken past their first pass over the training data,
where a resume used to go wrong (RLOO: TRL's prompt sampler restarted at the first pass's
order). RLOO on the tiny preset: 100 training prompts, 16 completions a step of 4 per prompt,
so 4 prompts a step and 25 steps a pass; 70 steps, killed after a checkpoint past step 50 (in
the third pass). The RM: 600 pairs of 32 a step, 19 steps an epoch, 4 epochs; killed after a
checkpoint past step 25 (in the second epoch)."""
import os
import re
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

PROMPTS, PER_STEP = 100, 16 // 4  # tiny preset: policy_train prompts; prompts per RLOO step
RL_PASS = PROMPTS // PER_STEP  # 25 steps
RM_EPOCH = -(-600 // 32)  # 19 steps
OVERLAY = {"checkpoint_steps": 10,
           "proxy": {"sizes": [{"name": "big", "arch": {"n_embd": 64, "n_layer": 3, "n_head": 4}}],
                     "data_sizes": [600], "extra_seeds": {"seeds": []},
                     "train": {"num_train_epochs": 4, "logging_steps": 5}},
           "rl": {"steps": 70, "eval_every": 10, "prompts": None},  # every policy_train prompt: kills fall mid-pass
           "role_swap": {"size": "big"}, "shift": {"size": "big"}, "mix": {"size": "big"}}  # the designs on the one size
RL_KILL_PAST = 2 * RL_PASS  # kill after a checkpoint at a step > 50: the third pass
RM_KILL_PAST = 25  # in the second epoch (steps 20..38)
RM = "big-d600-bt-s0"
RL_RUN = "small-rloo-gold-kl0.1-s0"  # the tiny preset's KL coefficient


def smk(snakemake_bin, root, work, *args, **kw):
    cmd = [snakemake_bin, *args, "--cores", "1", "--snakefile", str(root / "Snakefile"), "--directory", str(work),
           "--configfile", str(root / "config.yaml"), str(root / "config/presets/tiny.yaml"),
           str(work.parent / "resume.yaml")]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kw)


def checkpoint_steps(ckpt):
    """Steps of the complete checkpoints in ``ckpt`` (trainer_state.json is written last)."""
    return [int(p.parent.name.split("-")[-1]) for p in ckpt.glob("checkpoint-*/trainer_state.json")]


def kill_after_checkpoint(p, ckpt, past):
    """SIGKILL Snakemake and its job once a checkpoint at a step > ``past`` is on disk."""
    deadline = time.monotonic() + 600
    while not any(step > past for step in checkpoint_steps(ckpt)):
        assert p.poll() is None, "the job ended before it could be killed: make it longer"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=60)


def resumed_step(log):
    """The step the rerun resumed from, as its log says."""
    found = re.findall(r"resuming from \S*checkpoint-(\d+)", log)
    assert found, "the rerun did not resume"
    return int(found[-1])


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
    target = "results/rl/small/rloo/gold/kl0.1-s0.csv"
    p = smk(snakemake_bin, root, a, target)
    assert p.wait(timeout=600) == 0, p.stdout.read()[-3000:]
    p = smk(snakemake_bin, root, b, target)
    ckpt = b / "results" / "checkpoints" / "train_rl" / RL_RUN
    kill_after_checkpoint(p, ckpt, RL_KILL_PAST)
    assert not (b / target).exists()
    resume(snakemake_bin, root, b, target)
    assert resumed_step((b / "results" / "logs" / "train_rl" / f"{RL_RUN}.log").read_text()) > RL_KILL_PAST
    assert not ckpt.exists()  # cleaned up once done
    ra, rb = pd.read_csv(a / target), pd.read_csv(b / target)
    assert list(ra["step"]) == list(rb["step"]) == list(range(0, 71, 10))
    pd.testing.assert_frame_equal(ra, rb, check_exact=True)


def test_killed_training_resumes_to_the_same_model(tmp_path, root, snakemake_bin):
    import torch
    from safetensors.torch import load_file

    (tmp_path / "resume.yaml").write_text(yaml.safe_dump(OVERLAY))
    a, b = tmp_path / "a", tmp_path / "b"
    p = smk(snakemake_bin, root, a, "results/labels/pairs.csv")
    assert p.wait(timeout=600) == 0, p.stdout.read()[-3000:]
    shutil.copytree(a, b, symlinks=True)
    target = f"results/rms/{RM}/metrics.json"

    p = smk(snakemake_bin, root, a, target)  # uninterrupted
    assert p.wait(timeout=600) == 0, p.stdout.read()[-3000:]

    p = smk(snakemake_bin, root, b, target)  # killed once a checkpoint past the first epoch is on disk
    ckpt = b / "results" / "checkpoints" / "train_rm" / RM
    kill_after_checkpoint(p, ckpt, RM_KILL_PAST)
    assert not (b / target).exists()
    resume(snakemake_bin, root, b, target)
    assert resumed_step((b / "results" / "logs" / "train_rm" / f"{RM}.log").read_text()) > RM_EPOCH
    assert not ckpt.exists()  # cleaned up once done

    wa = load_file(a / "results" / "rms" / RM / "model" / "model.safetensors")
    wb = load_file(b / "results" / "rms" / RM / "model" / "model.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    ma, mb = (yaml.safe_load((w / target).read_text()) for w in (a, b))
    assert ma == mb  # train_loss (the mean over every step, the killed part included), val_loss, steps, ...
    assert ma["steps"] == 4 * RM_EPOCH
