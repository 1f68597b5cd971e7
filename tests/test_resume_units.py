"""Exact resume of every resumable trainer, without Snakemake: a run stopped right after a
checkpoint (an exception from ``on_save``, leaving the folder as a kill leaves it) and run
again with the same settings ends with the same evaluation rows (every column, exactly), the
same final weights (``torch.equal``) and, for an RM, the same ``train_loss`` as an
uninterrupted run. The stop points lie past the first pass over the training data, where
TRL's RLOO prompt sampler used to restart at the first pass's order. Plus the checkpoint
folder's bookkeeping: a folder of other settings or inputs is never resumed, an incomplete
checkpoint is never used."""
import json
import shutil

import pandas as pd
import pytest
import torch
from conftest import make_tiny_world
from transformers import TrainerCallback

from overopt import runtime, settings
from overopt.train import daa, rl, rms

ARCH = {"n_embd": 16, "n_layer": 1, "n_head": 2}
EVALUATION = {"eval_prompts": 2, "eval_samples": 2, "response_len": 6, "score_batch_size": 64}
RL_PROMPTS, GENERATIONS, RL_BATCH = 8, 4, 8  # 2 prompts a step: a pass over the prompts is 4 steps
RL_STEPS = 14  # passes: steps 1-4, 5-8, 9-12, 13-14
PAIRS, PAIR_BATCH, EPOCHS = 16, 4, 3  # DAA and RM: 4 steps an epoch, 12 steps
TRAIN_RESUMABLE = runtime.train_resumable


class Stop(Exception):
    pass


class StopAfterSave(TrainerCallback):
    """Raises right after the checkpoint of step ``at`` is written: a kill at that point."""

    def __init__(self, at: int):
        self.at = at

    def on_save(self, args, state, control, **kw):
        if state.global_step == self.at:
            raise Stop


def instrumented(monkeypatch, stop_at=None) -> list:
    """Wraps ``runtime.train_resumable``: optionally stop after a save; keep the final weights."""
    weights = []

    def train(trainer, checkpoint_dir):
        if stop_at is not None:
            trainer.add_callback(StopAfterSave(stop_at))
        result = TRAIN_RESUMABLE(trainer, checkpoint_dir)
        weights.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})
        return result

    monkeypatch.setattr(runtime, "train_resumable", train)
    return weights


def stop_and_resume(monkeypatch, run, ckpt, save_steps, stop_at):
    """Run until the checkpoint of step ``stop_at``, then again from it; (result, final weights)."""
    instrumented(monkeypatch, stop_at)
    with pytest.raises(Stop):
        run(str(ckpt), save_steps)
    assert runtime.last_checkpoint(str(ckpt)).endswith(f"checkpoint-{stop_at}")
    weights = instrumented(monkeypatch)
    result = run(str(ckpt), save_steps)
    assert not ckpt.exists()  # removed once training ended
    return result, weights[0]


def both(run) -> pd.DataFrame:
    """A run's curve and its evaluation samples as one frame: an exact resume keeps both."""
    return pd.concat(run, keys=["curve", "samples"])


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k, v in a.items():
        assert torch.equal(v, b[k]), k


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny policy and gold RM, prompts, and gold-labeled pairs of the policy's samples."""
    from overopt.data import labels
    from overopt.data.sampling import sample_responses
    from overopt.models import RewardModel, load_policy

    d = tmp_path_factory.mktemp("resumeworld")
    _, prompts = make_tiny_world(d, {"rm_train": 24, "policy_train": RL_PROMPTS, "eval": 2, "ood": 1}, ARCH)
    rm_prompts = prompts[prompts["split"] == "rm_train"].reset_index(drop=True)
    policy, tok = load_policy(str(d / "policy"))
    resp = sample_responses(policy, tok, rm_prompts["prompt"].tolist(), 2, 6, seed=0, progress=None)
    gold = RewardModel.load(str(d / "gold"), str(d / "norm.json"))
    g = gold.scores(rm_prompts["prompt"].to_numpy()[resp["prompt_idx"]].tolist(), resp["response"].tolist())
    labels.label_pairs(rm_prompts, resp, g, "hard", 0.0, PAIRS, seed=1).to_csv(d / "pairs.csv", index=False)
    return d


# --- RLOO -------------------------------------------------------------------------------------

def rl_settings(d, kl_coef=0.05):
    target = {"id": "gold", "kind": "gold", "model": str(d / "gold"), "transform": None}
    return settings.RL(algorithm="rloo", kl_coef=kl_coef, seed=0, policy=str(d / "policy"), policy_name="tiny",
                       target=target, gold=str(d / "gold"), steps=RL_STEPS, prompts=None, num_generations=GENERATIONS,
                       eval_every=2, train={"learning_rate": 1e-2, "per_device_train_batch_size": RL_BATCH,
                                            "logging_steps": 3},
                       evaluation=EVALUATION, trust_remote_code=False, dtype="auto", study_seed=0)


def run_rl(d, checkpoint_dir=None, save_steps=0, **kw):
    return both(rl.train_rl(rl_settings(d, **kw), str(d / "norm.json"), str(d / "norm.json"),
                            str(d / "prompts.csv"), checkpoint_dir, save_steps))


@pytest.fixture(scope="module")
def rl_full(world):
    mp = pytest.MonkeyPatch()
    weights = instrumented(mp)
    try:
        rows = run_rl(world)
    finally:
        mp.undo()
    return rows, weights[0]


def test_rloo_prompt_order_is_trl_order_and_a_function_of_the_pass():
    """Pass e of the resumable sampler is pass e of TRL's sampler iterated e + 1 times, whatever
    was iterated before: an uninterrupted run is unchanged, a resumed one gets the same order."""
    from trl.trainer.utils import RepeatSampler

    trl_sampler = RepeatSampler(list(range(10)), mini_repeat_count=2, batch_size=3, seed=7)
    trl_passes = [list(trl_sampler) for _ in range(4)]
    assert trl_passes[0] != trl_passes[1]
    sampler_class = rl.rloo_trainer_class().sampler_class
    sampler = sampler_class(list(range(10)), mini_repeat_count=2, batch_size=3, seed=7)
    assert [(sampler.set_epoch(e), list(sampler))[1] for e in range(4)] == trl_passes
    fresh = sampler_class(list(range(10)), mini_repeat_count=2, batch_size=3, seed=7)  # a resumed run's
    fresh.set_epoch(2)
    assert list(fresh) == trl_passes[2] and list(fresh) == trl_passes[2]  # set by the pass, not by the calls


@pytest.mark.parametrize("save_steps,stop_at", [(5, 10), (4, 8)], ids=["third-pass", "pass-boundary"])
def test_rloo_resumes_exactly_past_the_second_pass(world, rl_full, tmp_path, monkeypatch, save_steps, stop_at):
    full, full_weights = rl_full
    assert list(full.loc["curve", "step"]) == list(range(0, RL_STEPS + 1, 2))
    rows, weights = stop_and_resume(monkeypatch, lambda c, k: run_rl(world, c, k), tmp_path / "ckpt",
                                    save_steps, stop_at)
    pd.testing.assert_frame_equal(rows, full, check_exact=True)
    assert_same_weights(weights, full_weights)


def test_rloo_never_resumes_a_checkpoint_of_other_settings(world, rl_full, tmp_path, monkeypatch):
    """A folder left by a killed run of another KL coefficient is removed, not resumed."""
    ckpt = tmp_path / "ckpt"
    instrumented(monkeypatch, 5)
    with pytest.raises(Stop):
        run_rl(world, str(ckpt), 5, kl_coef=0.5)
    weights = instrumented(monkeypatch)
    rows = run_rl(world, str(ckpt), 5)
    pd.testing.assert_frame_equal(rows, rl_full[0], check_exact=True)
    assert_same_weights(weights[0], rl_full[1])


# --- DAA (DPOTrainer) -------------------------------------------------------------------------

def run_daa(d, checkpoint_dir=None, save_steps=0):
    train = {"learning_rate": 1e-2, "per_device_train_batch_size": PAIR_BATCH, "num_train_epochs": EPOCHS,
             "logging_steps": 5}
    s = settings.DAA(loss="dpo", beta=0.1, seed=0, policy=str(d / "policy"), policy_name="tiny", gold=str(d / "gold"),
                     proxy=str(d / "gold"), data_size=PAIRS, fractions=[0.5, 1.0], heldout_pairs=4, train=train,
                     evaluation=EVALUATION, trust_remote_code=False, dtype="auto")
    return both(daa.train_daa(s, str(d / "pairs.csv"), str(d / "norm.json"), str(d / "norm.json"),
                              str(d / "prompts.csv"), checkpoint_dir, save_steps))


def test_daa_resumes_exactly_past_the_first_epoch(world, tmp_path, monkeypatch):
    weights = instrumented(monkeypatch)
    full = run_daa(world)
    assert list(full.loc["curve", "step"]) == [0, 2, 4, 8, 12]
    rows, resumed = stop_and_resume(monkeypatch, lambda c, k: run_daa(world, c, k), tmp_path / "ckpt", 3, 6)
    pd.testing.assert_frame_equal(rows, full, check_exact=True)
    assert_same_weights(resumed, weights[0])


# --- RM training (RewardTrainer) --------------------------------------------------------------

def run_rm(d, out, objective, checkpoint_dir=None, save_steps=0):
    hp = {"learning_rate": 1e-2, "per_device_train_batch_size": PAIR_BATCH, "num_train_epochs": EPOCHS,
          "logging_steps": 5}
    s = settings.Proxy(id=f"s-{objective}", size={"name": "s", "arch": ARCH}, data_size=PAIRS, objective=objective,
                       seed=0, family="grid", flip=0.0, cue=None, onpolicy=1.0, train=hp, tokenizer=str(d / "policy"), n_positions=24,
                       labels={"mode": "hard", "flip_rate": 0.0},
                       pfr={"prompts": 2, "tau": 1.0} if objective == "pfr" else None, trust_remote_code=False, dtype="auto")
    return rms.train_proxy(s, str(d / "pairs.csv"), str(out), checkpoint_dir, save_steps)


@pytest.mark.parametrize("objective", ["bt", "pfr"])
def test_rm_resumes_exactly_with_the_whole_runs_train_loss(world, tmp_path, monkeypatch, objective):
    """Stopped at step 9 (third epoch; the loss of steps 6..9 not yet logged, logging_steps 5):
    same weights and the same train_loss, bit for bit."""
    weights = instrumented(monkeypatch)
    full = run_rm(world, tmp_path / "a", objective)
    assert full["steps"] == EPOCHS * PAIRS // PAIR_BATCH
    row, resumed = stop_and_resume(monkeypatch, lambda c, k: run_rm(world, tmp_path / "b", objective, c, k),
                                   tmp_path / "ckpt", 3, 9)
    assert row == full  # train_loss included: the mean over all 12 steps, not over the 3 after the resume
    assert_same_weights(resumed, weights[0])


def test_rm_resumed_without_running_loss_reports_nan(world, tmp_path, monkeypatch):
    """A checkpoint that lacks the running loss (not written by this code) still resumes the
    weights exactly, but its train_loss is unknown: NaN, not the mean of the resumed steps."""
    weights = instrumented(monkeypatch)
    full = run_rm(world, tmp_path / "a", "bt")
    ckpt = tmp_path / "ckpt"
    instrumented(monkeypatch, 6)
    with pytest.raises(Stop):
        run_rm(world, tmp_path / "b", "bt", str(ckpt), 3)
    state = ckpt / "checkpoint-6" / "trainer_state.json"
    saved = json.loads(state.read_text())
    del saved["stateful_callbacks"]["RunningLoss"]
    state.write_text(json.dumps(saved))
    resumed = instrumented(monkeypatch)
    row = run_rm(world, tmp_path / "b", "bt", str(ckpt), 3)
    assert row["train_loss"] != row["train_loss"]  # NaN
    assert {k: v for k, v in row.items() if k != "train_loss"} == {k: v for k, v in full.items() if k != "train_loss"}
    assert_same_weights(resumed[0], weights[0])


# --- the checkpoint folder --------------------------------------------------------------------

def fake_checkpoint(folder, step, complete=True):
    c = folder / f"checkpoint-{step}"
    c.mkdir(parents=True)
    (c / "model.safetensors").write_bytes(b"x")
    if complete:
        (c / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return c


def test_checkpoint_folder_keeps_only_a_matching_complete_checkpoint(tmp_path):
    ckpt, ident = tmp_path / "ckpt", {"settings": {"lr": 1}}
    assert runtime.checkpoint_folder(None, 10, ident) is None
    assert runtime.checkpoint_folder(str(ckpt), 10, ident) == str(ckpt) and ckpt.is_dir()
    assert runtime.last_checkpoint(str(ckpt)) is None
    fake_checkpoint(ckpt, 10)
    fake_checkpoint(ckpt, 20)
    fake_checkpoint(ckpt, 30, complete=False)  # killed while saving
    (ckpt / "checkpoint-40").mkdir()
    (ckpt / "checkpoint-40" / "trainer_state.json").write_text('{"global_st')  # killed while writing the state
    assert runtime.last_checkpoint(str(ckpt)).endswith("checkpoint-20")
    assert runtime.checkpoint_folder(str(ckpt), 7, ident) == str(ckpt)  # another checkpoint_steps: still resumable
    assert sorted(p.name for p in ckpt.glob("checkpoint-*")) == ["checkpoint-20"]
    assert runtime.checkpoint_folder(str(ckpt), 10, {"settings": {"lr": 2}}) == str(ckpt)  # other settings
    assert runtime.last_checkpoint(str(ckpt)) is None and not list(ckpt.glob("checkpoint-*"))
    fake_checkpoint(ckpt, 10)
    (ckpt / runtime.CHECKPOINT_STAMP).unlink()  # a folder without a stamp is never trusted
    runtime.checkpoint_folder(str(ckpt), 10, {"settings": {"lr": 2}})
    assert runtime.last_checkpoint(str(ckpt)) is None
    fake_checkpoint(ckpt, 10)
    assert runtime.checkpoint_folder(str(ckpt), 0, {"settings": {"lr": 2}}) is None  # checkpointing off
    assert not ckpt.exists()


def test_fingerprint_sees_settings_and_input_contents(world, tmp_path):
    s = rl_settings(world)
    shutil.copy(world / "prompts.csv", tmp_path / "prompts.csv")
    base = runtime.fingerprint(s, tmp_path / "prompts.csv", world / "policy", "some/hub-id")
    assert base == runtime.fingerprint(s, tmp_path / "prompts.csv", world / "policy", "some/hub-id")
    assert base != runtime.fingerprint(rl_settings(world, kl_coef=0.5), tmp_path / "prompts.csv", world / "policy",
                                       "some/hub-id")
    with open(tmp_path / "prompts.csv", "a") as f:
        f.write("\n")
    assert base != runtime.fingerprint(s, tmp_path / "prompts.csv", world / "policy", "some/hub-id")
