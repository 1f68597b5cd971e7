"""The DAA building block (not yet a workflow stage): a few real DPO / IPO / hinge steps on tiny
models, evaluated on the checkpoint schedule; KL is exactly zero and implicit-reward accuracy
exactly 1/2 before the first update; a killed run resumes with its earlier rows."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import make_tiny_world

from overopt import runtime, settings
from overopt.data import labels
from overopt.data.sampling import sample_responses
from overopt.metrics.accuracy import pairwise_accuracy
from overopt.models import RewardModel, load_policy
from overopt.train import daa

ARCH = {"n_embd": 16, "n_layer": 1, "n_head": 2}
TRAIN = {"learning_rate": 1e-2, "per_device_train_batch_size": 4, "num_train_epochs": 2, "logging_steps": 2}
FRACTIONS = [0.25, 0.5, 0.75, 1.0]
HELDOUT = 6
DATA = 16  # 4 steps per epoch: evaluations at 0, 1, 2, 3, 4 (fractions) and 8 (end of epoch 2)
SCHEDULE = [0, 1, 2, 3, 4, 8]
MAX_NEW = 6
EVALUATION = {"eval_prompts": 4, "eval_samples": 3, "response_len": MAX_NEW, "score_batch_size": 64}


def daa_settings(d, loss, data_size=DATA):
    """A DAA run from the tiny policy whose proxy is the gold RM itself."""
    return settings.DAA(loss=loss, beta=0.1, seed=0, policy=str(d / "policy"), policy_name="tiny",
                        gold=str(d / "gold"), proxy=str(d / "gold"), data_size=data_size, fractions=FRACTIONS,
                        heldout_pairs=HELDOUT, train=TRAIN, evaluation=EVALUATION, trust_remote_code=False, dtype="auto")


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    """As in test_rl, plus gold-labeled pairs of the tiny policy's own samples."""
    d = tmp_path_factory.mktemp("daaworld")
    _, prompts = make_tiny_world(d, {"rm_train": 24, "policy_train": 1, "eval": 4, "ood": 1}, ARCH)
    rm_prompts = prompts[prompts["split"] == "rm_train"].reset_index(drop=True)
    policy, ptok = load_policy(str(d / "policy"))
    resp = sample_responses(policy, ptok, rm_prompts["prompt"].tolist(), 2, MAX_NEW, seed=0, progress=None)
    gold = RewardModel.load(str(d / "gold"), str(d / "norm.json"))
    g = gold.scores(rm_prompts["prompt"].to_numpy()[resp["prompt_idx"]].tolist(), resp["response"].tolist())
    labels.label_pairs(rm_prompts, resp, g, "hard", 0.0, DATA, seed=1).to_csv(d / "pairs.csv", index=False)
    return d


def run(d, loss, **kw):
    return daa.train_daa(daa_settings(d, loss), str(d / "pairs.csv"), str(d / "norm.json"), str(d / "norm.json"),
                         str(d / "prompts.csv"), **kw)[0]


@pytest.fixture(scope="module")
def runs(tiny_world):
    return {loss: run(tiny_world, loss) for loss in daa.LOSSES}


def test_schedule_and_ties():
    assert daa.steps_per_epoch(16, 4) == 4 and daa.steps_per_epoch(17, 4) == 5
    assert daa.eval_steps(32, 2, [0.1, 0.25, 0.5, 1.0]) == [0, 3, 8, 16, 32, 64]
    assert daa.eval_steps(10, 1, [0.05, 0.25]) == [0, 1, 3, 10]  # half up, at least step 1, epoch end kept
    assert daa.eval_steps(2, 3, [0.1, 0.2, 0.5, 1.0]) == [0, 1, 2, 4, 6]  # deduplicated
    for bad in ((4, 1.5, [0.5]), (4, 0, [0.5]), (4, 1, [0.0]), (4, 1, [1.2])):
        with pytest.raises(ValueError):
            daa.eval_steps(*bad)
    # the implicit-reward accuracy: a margin is a proxy gap against a label (a gold gap of +1)
    for m, acc in ((np.zeros(7), 0.5), (np.array([1.0, 2.0, 0.0, -1.0]), 0.625)):  # a tie counts 1/2
        assert pairwise_accuracy(m, np.ones_like(m)) == acc
    assert np.isnan(pairwise_accuracy(np.array([]), np.array([])))


@pytest.mark.parametrize("loss", sorted(daa.LOSSES))
def test_losses_run_on_schedule(runs, tiny_world, loss):
    rows = runs[loss]
    assert list(rows.columns) == daa.COLUMNS
    assert list(rows["step"]) == SCHEDULE
    assert np.allclose(rows["epoch"], np.array(SCHEDULE) / 4)
    assert rows.loc[0, "kl"] == 0 and rows.loc[0, "kl_k3"] == 0  # pi == pi_init before any update
    assert rows.loc[0, "implicit_acc"] == 0.5  # pi == pi_ref: every implicit margin is exactly 0, a tie
    assert (rows["kl_k3"] >= 0).all() and rows["kl_k3"].iloc[-1] > 0
    assert rows["implicit_acc"].between(0, 1).all() and (rows["eval_samples"] == 12).all()
    assert np.allclose(rows["gold"], rows["proxy"])  # the proxy given is the gold RM itself
    assert (rows["length"] <= MAX_NEW).all()


def test_losses_differ_and_bad_arguments(runs, tiny_world):
    assert not np.allclose(runs["dpo"]["kl"], runs["ipo"]["kl"])  # loss_type reached the trainer
    assert not np.allclose(runs["ipo"]["kl"], runs["ipo_sum"]["kl"])  # the paper's IPO is not TRL's
    with pytest.raises(ValueError, match="loss"):
        run(tiny_world, "slic")
    with pytest.raises(ValueError, match="data size"):
        daa.train_daa(daa_settings(tiny_world, "dpo", DATA + 1), str(tiny_world / "pairs.csv"), "", "", "")


def test_killed_run_resumes_with_its_rows(runs, tiny_world, tmp_path, monkeypatch):
    """Kill at step 3 (last checkpoint at step 2): the rerun keeps the saved rows up to step 2,
    re-evaluates step 3 and goes on exactly as the uninterrupted run did."""
    from transformers import TrainerCallback

    ckpt = tmp_path / "ckpt"
    resumable = runtime.train_resumable

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                control.should_training_stop = True

    def killed(trainer, checkpoint_dir):
        trainer.add_callback(Kill())
        trainer.train()  # no clean-up: the folder is left as a killed job leaves it

    monkeypatch.setattr(runtime, "train_resumable", killed)
    partial = run(tiny_world, "dpo", checkpoint_dir=str(ckpt), save_steps=2)
    assert list(partial["step"]) == [0, 1, 2, 3]
    assert sorted(p.name for p in ckpt.glob("checkpoint-*")) == ["checkpoint-2"]
    saved = json.loads((ckpt / "eval_rows.json").read_text())
    assert [r["step"] for r in saved] == [0, 1, 2, 3]
    saved[1]["gold"] = 123.0  # a marker: the resumed run must reuse rows, not recompute them
    (ckpt / "eval_rows.json").write_text(json.dumps(saved))

    monkeypatch.setattr(runtime, "train_resumable", resumable)
    resumed = run(tiny_world, "dpo", checkpoint_dir=str(ckpt), save_steps=2)
    assert not ckpt.exists()  # removed once training ended
    assert list(resumed["step"]) == SCHEDULE and resumed.loc[1, "gold"] == 123.0
    full = runs["dpo"]
    cols = [c for c in daa.COLUMNS if c != "gold"]
    pd.testing.assert_frame_equal(resumed[cols], full[cols], check_exact=False, rtol=1e-4, atol=1e-6)


def test_fresh_start_ignores_stray_rows(runs, tiny_world, tmp_path):
    """Rows without a checkpoint beside them (killed before the first save) are not reused."""
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "eval_rows.json").write_text(json.dumps([{"step": 0, "gold": 123.0}]))
    rows = run(tiny_world, "dpo", checkpoint_dir=str(ckpt), save_steps=100)
    pd.testing.assert_frame_equal(rows, runs["dpo"], check_exact=False, rtol=1e-4, atol=1e-6)
    shutil.rmtree(ckpt, ignore_errors=True)


def test_summed_ipo_loss_is_the_papers_form(tiny_world):
    """ipo_sum's loss on a batch built as TRL's collator builds it (chosen rows, then rejected)
    equals (h - 1/(2 beta))^2 with h the difference of summed log ratios, computed by hand."""
    import types

    import torch

    ref, tok = load_policy(str(tiny_world / "policy"))
    model, _ = load_policy(str(tiny_world / "policy"))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p, generator=torch.Generator().manual_seed(p.numel())))
    pairs = pd.read_csv(tiny_world / "pairs.csv").head(3)
    p_ids, chosen = daa.tokenize_pairs(tok, pairs["prompt"].tolist(), pairs["chosen"].tolist())
    _, rejected = daa.tokenize_pairs(tok, pairs["prompt"].tolist(), pairs["rejected"].tolist())
    seqs = [p + c for p, c in zip(p_ids + p_ids, chosen + rejected)]
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), tok.pad_token_id)
    attn, comp = torch.zeros_like(ids), torch.zeros_like(ids)
    for j, (s, p) in enumerate(zip(seqs, p_ids + p_ids)):
        ids[j, :len(s)], attn[j, :len(s)], comp[j, len(p):len(s)] = torch.tensor(s), 1, 1
    beta = 0.1
    stub = types.SimpleNamespace(ref_model=ref, beta=beta)
    loss = daa.summed_ipo_trainer()._compute_loss(stub, model, {"input_ids": ids, "attention_mask": attn,
                                                                "completion_mask": comp}, False)
    summed = [daa.completion_logps(m, p_ids + p_ids, chosen + rejected, tok.pad_token_id) for m in (model, ref)]
    ratio = summed[0] - summed[1]
    h = ratio[:3] - ratio[3:]
    assert abs(h).max() > 0.01  # the perturbed policy is not pi_ref
    assert np.isclose(loss.item(), np.mean((h - 1 / (2 * beta)) ** 2), rtol=1e-5)
