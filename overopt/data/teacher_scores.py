"""Razin et al.'s teachers (the on-policy mix, the gold RM): the scores their table needs beyond
the reference pool: the off-policy held-out pairs and the other students' samples.
"""
from __future__ import annotations

import numpy as np

from overopt.data.extra_scores import _score_split
from overopt.data.splits import heldout_pairs, read_pairs
from overopt.models import RewardModel


def score_teacher(s, norm_json: str, prompts_csv: str, offpolicy_csv: str, policy_pools: list[str],
                  out_npz: str) -> None:
    """Normalized scores by ``s.rm`` (``settings.TeacherScores``): ``offpolicy`` [pairs, 2]
    (chosen, rejected) of the off-policy held-out pairs with their ``offpolicy_gold_gap``, and
    ``policy_<name>`` [eval prompts, k] of each other student's samples."""
    rm = RewardModel.load(s.rm, norm_json, s.trust_remote_code, s.score_batch_size)
    held = heldout_pairs(read_pairs(offpolicy_csv))
    prompts = held["prompt"].tolist()
    pair = np.stack([rm.scores(prompts, held["chosen"].tolist(), progress="off-policy chosen"),
                     rm.scores(prompts, held["rejected"].tolist(), progress="off-policy rejected")], axis=1)
    out = {"offpolicy": pair, "offpolicy_gold_gap": (held["gold_chosen"] - held["gold_rejected"]).to_numpy()}
    for name, csv in zip(s.policies, policy_pools, strict=True):
        out[f"policy_{name}"] = _score_split(rm, prompts_csv, "eval", csv, f"{name} policy scores")
    np.savez(out_npz, **out)
