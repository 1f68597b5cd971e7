"""The RL building block (not yet a workflow stage): a few real RLOO steps on tiny models,
evaluated with fresh samples; KL is exactly zero before the first update."""

import numpy as np
import pytest
import torch

from overopt import rl, world
from overopt.models import Normalization

ARCH = {"n_embd": 16, "n_layer": 1, "n_head": 2}


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    from transformers import GPT2LMHeadModel

    d = tmp_path_factory.mktemp("rlworld")
    lang = world.Language.make(20, 3, 4, 0.1, seed=0)
    tok = world.make_tokenizer(lang.words)
    torch.manual_seed(0)
    GPT2LMHeadModel(world.gpt2_config(len(tok), 24, ARCH, tok)).save_pretrained(d / "policy")
    tok.save_pretrained(d / "policy")
    world.build_gold(tok, ARCH, 24, 0.1, seed=1).save_pretrained(d / "gold")
    tok.save_pretrained(d / "gold")
    Normalization(0.0, 1.0, 1).save(d / "norm.json")
    world.make_prompts(lang, {"rm_train": 2, "policy_train": 16, "eval": 4, "ood": 1}, 4, 0).to_csv(
        d / "prompts.csv", index=False)
    return d


def test_rloo_runs_and_evaluates(tiny_world):
    d = tiny_world
    hp = {"learning_rate": 1e-2, "per_device_train_batch_size": 8, "num_generations": 4, "steps": 4,
          "eval_every": 2, "eval_prompts": 4, "eval_samples": 3, "logging_steps": 2}
    rows = rl.train_rl(str(d / "policy"), str(d / "gold"), str(d / "norm.json"), str(d / "gold"),
                       str(d / "norm.json"), str(d / "prompts.csv"), "rloo", 0.05, 0, hp, 6, 16)
    assert list(rows["step"]) == [0, 2, 4]
    assert rows.loc[0, "kl"] == 0 and rows.loc[0, "kl_k3"] == 0  # pi == pi_init before any update
    assert (rows["kl_k3"] >= 0).all() and (rows["eval_samples"] == 12).all()
    assert np.allclose(rows["gold"], rows["proxy"])  # the target is the gold RM itself
    assert rows.loc[2, "kl_k3"] > 0 and (rows["length"] <= 6).all()  # k1 may dip below 0 on 12 samples
    again = rl.train_rl(str(d / "policy"), str(d / "gold"), str(d / "norm.json"), str(d / "gold"),
                        str(d / "norm.json"), str(d / "prompts.csv"), "rloo", 0.05, 0, hp, 6, 16)
    assert again.equals(rows)  # same seed, same machine: the same curve
    with pytest.raises(ValueError, match="algorithm"):
        rl.train_rl(str(d / "policy"), str(d / "gold"), str(d / "norm.json"), str(d / "gold"),
                    str(d / "norm.json"), str(d / "prompts.csv"), "ppo2", 0.0, 0, hp, 6, 16)
