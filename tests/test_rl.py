"""The RL building block: a few real RLOO and PPO steps on tiny models, evaluated with fresh
samples; KL is exactly zero before the first update; PPO's reward is the RM's normalized score
of the decoded response, whatever the RM's tokenizer."""

import numpy as np
import pytest
import torch
from conftest import make_tiny_world

from overopt import settings
from overopt.models import Normalization, RewardModel, load_policy
from overopt.train import ppo, rl

ARCH = {"n_embd": 16, "n_layer": 1, "n_head": 2}
EVALUATION = {"eval_prompts": 4, "eval_samples": 3, "response_len": 6, "score_batch_size": 16}


TRAIN = {"learning_rate": 1e-2, "per_device_train_batch_size": 8, "logging_steps": 2}


def rl_settings(d, algorithm, kl_coef, steps=4):
    """An RL run of the tiny policy against the gold RM itself (no transform); 4 generations per
    prompt (RLOO; PPO ignores it)."""
    target = {"id": "gold", "kind": "gold", "model": str(d / "gold"), "transform": None}
    return settings.RL(algorithm=algorithm, kl_coef=kl_coef, seed=0, policy=str(d / "policy"), policy_name="tiny",
                       target=target, gold=str(d / "gold"), steps=steps, prompts=None, num_generations=4,
                       eval_every=2, train=TRAIN, evaluation=EVALUATION, trust_remote_code=False, dtype="auto", study_seed=0)


def run(d, algorithm, kl_coef, **kw):
    return run_with_samples(d, algorithm, kl_coef, **kw)[0]


def run_with_samples(d, algorithm, kl_coef, **kw):
    return rl.train_rl(rl_settings(d, algorithm, kl_coef, **kw.pop("s", {})), str(d / "norm.json"),
                       str(d / "norm.json"), str(d / "prompts.csv"), **kw)


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    d = tmp_path_factory.mktemp("rlworld")
    make_tiny_world(d, {"rm_train": 2, "policy_train": 16, "eval": 4, "ood": 1}, ARCH)
    return d


def test_rloo_runs_and_evaluates(tiny_world):
    d = tiny_world
    rows, samples = run_with_samples(d, "rloo", 0.05)
    assert list(rows["step"]) == [0, 2, 4]
    # the curve is the mean of its samples: 4 eval prompts x 3 samples at every step
    assert len(samples) == 3 * 12 and samples.groupby("step")["prompt"].nunique().eq(4).all()
    means = samples.groupby("step")[["kl", "gold", "proxy", "length"]].mean()
    assert np.allclose(means.to_numpy(), rows.set_index("step")[["kl", "gold", "proxy", "length"]].to_numpy())
    assert rows.loc[0, "kl"] == 0 and rows.loc[0, "kl_k3"] == 0  # pi == pi_init before any update
    assert (rows["kl_k3"] >= 0).all() and (rows["eval_samples"] == 12).all()
    assert np.allclose(rows["gold"], rows["proxy"])  # the target is the gold RM itself
    assert rows.loc[2, "kl_k3"] > 0 and (rows["length"] <= 6).all()  # k1 may dip below 0 on 12 samples
    again = run(d, "rloo", 0.05)
    assert again.equals(rows)  # same seed, same machine: the same curve
    with pytest.raises(ValueError, match="algorithm"):
        run(d, "ppo2", 0.0)


def _ppo(d, kl_coef, steps=4):
    return run(d, "ppo", kl_coef, s={"steps": steps}, checkpoint_dir=str(d / "ppo-ckpt"), save_steps=1)


def test_ppo_runs_and_evaluates(tiny_world, monkeypatch):
    from trl.experimental.ppo import ppo_trainer

    d, original, calls = tiny_world, ppo_trainer.get_reward, []
    make = ppo.ppo_reward
    monkeypatch.setattr(ppo, "ppo_reward", lambda *a: calls.append(1) or make(*a))
    rows = _ppo(d, 0.05)
    assert calls and ppo_trainer.get_reward is original  # our reward was used, TRL is restored
    assert list(rows["step"]) == [0, 2, 4]  # a step is one PPO update (rollout + its epochs)
    assert rows.loc[0, "kl"] == 0 and rows.loc[0, "kl_k3"] == 0
    assert (rows["kl_k3"] >= 0).all() and (rows["eval_samples"] == 12).all()
    assert np.allclose(rows["gold"], rows["proxy"]) and (rows["length"] <= 6).all()
    assert rows.loc[2, "kl_k3"] > 0
    assert _ppo(d, 0.05).equals(rows)  # deterministic
    assert not (d / "ppo-ckpt").exists()  # PPO does not checkpoint (TRL 1.12 cannot resume it)
    no_kl = _ppo(d, 0.0, steps=1)
    assert list(no_kl["step"]) == [0, 1] and no_kl.loc[0, "kl"] == 0


def test_ppo_reward_is_the_rm_score_of_the_decoded_response(tiny_world, tmp_path):
    """PPO hands over the policy's token ids; the reward must be RewardModel.scores of the prompt
    text and the response cut at its EOS, here for a BERT RM (other ids, no EOS, [CLS]/[SEP])
    with a normalization, and TRL's own get_reward must still serve the value model."""
    import pandas as pd
    from transformers import (
        AutoModelForSequenceClassification,
        BertConfig,
        BertForSequenceClassification,
        BertTokenizerFast,
    )
    from trl.experimental.ppo import ppo_trainer

    d = tiny_world
    _, tok = load_policy(str(d / "policy"))
    tok.padding_side = "left"
    words = [w for w in tok.get_vocab() if w.startswith("w")]
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *reversed(words)]))
    torch.manual_seed(0)
    BertForSequenceClassification(BertConfig(
        vocab_size=len(words) + 5, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_labels=1, max_position_embeddings=64)).save_pretrained(tmp_path / "bert")
    BertTokenizerFast(vocab=str(tmp_path / "vocab.txt"), do_lower_case=False).save_pretrained(tmp_path / "bert")
    Normalization(0.3, 2.0, 1).save(tmp_path / "norm.json")
    rm = RewardModel.load(str(tmp_path / "bert"), tmp_path / "norm.json")

    prompts = pd.read_csv(d / "prompts.csv").query("split == 'policy_train'")["prompt"].tolist()[:3]
    adapter = ppo.ppo_reward(rm, tok, prompts)
    w = [tok.convert_tokens_to_ids(x) for x in words[:4]]
    eos, pad = tok.eos_token_id, tok.pad_token_id
    resp = torch.tensor([[w[0], w[1], eos, w[2]], [w[3], w[3], w[3], w[3]], [eos, w[0], w[1], w[2]]])
    resp = ppo_trainer.truncate_response(eos, pad, resp)  # as PPO does before scoring
    query = tok(prompts, return_tensors="pt", padding=True)["input_ids"]
    qr = torch.cat([query, resp], 1)
    expected = rm.scores(prompts, [f"{words[0]} {words[1]}", " ".join([words[3]] * 4), ""])

    value = AutoModelForSequenceClassification.from_pretrained(d / "policy", num_labels=1)
    original = ppo_trainer.get_reward
    with ppo.ppo_reward_route(adapter):
        _, got, _ = ppo_trainer.get_reward(adapter, qr, pad, query.shape[1])
        v = ppo_trainer.get_reward(value, qr, pad, query.shape[1])[0]
    assert ppo_trainer.get_reward is original
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert torch.equal(v, original(value, qr, pad, query.shape[1])[0])
    with pytest.raises(ValueError, match="training prompts"):
        adapter(torch.cat([query.flip(1), resp], 1), pad, query.shape[1])
