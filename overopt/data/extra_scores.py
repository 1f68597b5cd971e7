"""The extra scores the RM evaluation needs beyond the reference pool: pi_init's samples on
OOD prompts, other policies' samples, and pool pairs under swapped prompts.
"""
from __future__ import annotations
import numpy as np
from overopt.models import RewardModel
from overopt.data.splits import eval_prompts, read_pool


def swap_partners(n_prompts: int, swaps: int) -> np.ndarray:
    """[n_prompts, swaps] indices of the other prompts a pair is scored under: the next
    ``swaps`` prompts, cyclically (deterministic, never the pair's own prompt)."""
    if not 0 < swaps < n_prompts:
        raise ValueError(f"swaps must lie in 1..{n_prompts - 1}, got {swaps}")
    return (np.arange(n_prompts)[:, None] + np.arange(1, swaps + 1)[None, :]) % n_prompts


def _score_split(rm: RewardModel, prompts_csv: str, split: str, pool_csv: str, what: str) -> np.ndarray:
    """One RM's scores of a pool of k samples per prompt of ``split``, as [prompts, k]."""
    prompts, pool = eval_prompts(prompts_csv, split), read_pool(pool_csv)
    k = len(pool) // len(prompts)
    return rm.scores(prompts["prompt"].to_numpy()[pool["prompt_idx"]].tolist(), pool["response"].tolist(),
                     progress=what).reshape(len(prompts), k)


def score_eval(s, norm_json: str, prompts_csv: str, pool_csv: str, ood_pool_csv: str, policy_pools: list[str],
               out_npz: str) -> None:
    """The extra scores the RM evaluation needs, normalized like the pool's: ``ood`` [OOD
    prompts, k] on pi_init's OOD samples; ``policy_<name>`` [eval prompts, k] on each other
    policy's samples (``policy_pools``: one pool CSV per ``s.policies``); and ``swapped`` [P, 2, 1 + swaps]:
    the first two pool samples of each of the first P eval prompts scored under their own
    prompt (index 0) and under ``swaps`` other eval prompts (:func:`swap_partners`), for the
    prompt-free gap."""
    swap_prompts, swaps = s.swap_prompts, s.swaps
    rm = RewardModel.load(s.rm, norm_json, s.trust_remote_code, s.score_batch_size)
    out = {"ood": _score_split(rm, prompts_csv, "ood", ood_pool_csv, "OOD scores")}
    for name, csv in zip(s.policies, policy_pools, strict=True):
        out[f"policy_{name}"] = _score_split(rm, prompts_csv, "eval", csv, f"{name} policy scores")
    prompts, pool = eval_prompts(prompts_csv)["prompt"].to_numpy(), read_pool(pool_csv)
    P = min(swap_prompts, len(prompts))
    first = pool[pool["sample"] < 2].sort_values(["prompt_idx", "sample"])
    resp = first["response"].to_numpy().reshape(len(prompts), 2)[:P]
    under = np.concatenate([np.arange(P)[:, None], swap_partners(len(prompts), swaps)[:P]], axis=1)  # [P, 1+M]
    texts = [(prompts[under[i, m]], resp[i, j]) for i in range(P) for j in range(2) for m in range(1 + swaps)]
    swapped = rm.scores([t[0] for t in texts], [t[1] for t in texts], progress="swapped-prompt scores")
    np.savez(out_npz, swapped=swapped.reshape(P, 2, 1 + swaps), **out)
