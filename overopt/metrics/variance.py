"""Reward variance (Razin et al. 2025).
"""
from __future__ import annotations
import numpy as np


def reward_variance(scores) -> float:
    """Razin et al. (2025) reward variance of an RM under a policy: the mean over prompts of the
    unbiased (ddof=1) variance of the scores of the k sampled responses of each prompt.

    scores: [prompts, k], k >= 2, already normalized (docs/science.md 4.7). Low variance means a flat
    reward landscape under the policy, hence slow RL, whatever the RM's accuracy."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(f"scores must be [prompts, k] with k >= 2, got {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return float(s.var(axis=1, ddof=1).mean())
