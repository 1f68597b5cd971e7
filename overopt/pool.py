"""The best-of-n sample pool: N responses per eval prompt from pi_init, generated once, and
each reward model's scores on it (scored once per RM). The same scores fix each RM's
normalization (pi_init on eval prompts: mean 0, std 1)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from overopt.models import Normalization, RewardModel, count_params, load_policy
from overopt.sampling import sample_responses


def eval_prompts(prompts_csv: str, split: str = "eval") -> pd.DataFrame:
    p = pd.read_csv(prompts_csv, keep_default_na=False)
    out = p[p["split"] == split].reset_index(drop=True)
    if out.empty:
        raise ValueError(f"{prompts_csv}: no prompts in split {split!r}")
    return out


def read_pool(pool_csv: str) -> pd.DataFrame:
    return pd.read_csv(pool_csv, keep_default_na=False)


def sample_pool(policy: str, prompts_csv: str, N: int, max_new_tokens: int, batch_size: int, seed: int,
                out_csv: str, trust_remote_code: bool = False, split: str = "eval") -> None:
    """N samples of ``policy`` per prompt of ``split`` (the BoN pool: eval; the OOD pool: ood)."""
    prompts = eval_prompts(prompts_csv, split)
    model, tok = load_policy(policy, trust_remote_code)
    pool = sample_responses(model, tok, prompts["prompt"].tolist(), N, max_new_tokens, batch_size, seed,
                            progress="pool samples")
    pool.insert(0, "prompt_id", prompts["prompt_id"].to_numpy()[pool["prompt_idx"]])
    pool.to_csv(out_csv, index=False)


def score_pool(rm_path: str, prompts_csv: str, pool_csv: str, batch_size: int, out_npy: str, out_norm: str,
               trust_remote_code: bool = False) -> None:
    """Raw scores of the pool by one RM, normalized with the shift/scale fitted on this very
    pool; saves scores as [prompts, N] and the normalization beside the model."""
    prompts, pool = eval_prompts(prompts_csv), read_pool(pool_csv)
    rm = RewardModel.load(rm_path, trust_remote_code=trust_remote_code, batch_size=batch_size)
    raw = rm.raw_scores(prompts["prompt"].to_numpy()[pool["prompt_idx"]].tolist(), pool["response"].tolist(),
                        progress="pool scores")
    norm = Normalization.fit(raw)
    norm.save(out_norm, params=count_params(rm.model))
    n_prompts = len(prompts)
    np.save(out_npy, norm.apply(raw).reshape(n_prompts, len(pool) // n_prompts))


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


def score_eval(rm_path: str, norm_json: str, prompts_csv: str, pool_csv: str, ood_pool_csv: str, swap_prompts: int,
               swaps: int, batch_size: int, out_npz: str, trust_remote_code: bool = False,
               policy_pools: dict[str, str] | None = None) -> None:
    """The extra scores the RM evaluation needs, normalized like the pool's: ``ood`` [OOD
    prompts, k] on pi_init's OOD samples; ``policy_<name>`` [eval prompts, k] on each other
    policy's samples (``policy_pools``: name -> pool CSV); and ``swapped`` [P, 2, 1 + swaps]:
    the first two pool samples of each of the first P eval prompts scored under their own
    prompt (index 0) and under ``swaps`` other eval prompts (:func:`swap_partners`), for the
    prompt-free gap."""
    rm = RewardModel.load(rm_path, norm_json, trust_remote_code, batch_size)
    out = {"ood": _score_split(rm, prompts_csv, "ood", ood_pool_csv, "OOD scores")}
    for name, csv in (policy_pools or {}).items():
        out[f"policy_{name}"] = _score_split(rm, prompts_csv, "eval", csv, f"{name} policy scores")
    prompts, pool = eval_prompts(prompts_csv)["prompt"].to_numpy(), read_pool(pool_csv)
    P = min(swap_prompts, len(prompts))
    first = pool[pool["sample"] < 2].sort_values(["prompt_idx", "sample"])
    resp = first["response"].to_numpy().reshape(len(prompts), 2)[:P]
    under = np.concatenate([np.arange(P)[:, None], swap_partners(len(prompts), swaps)[:P]], axis=1)  # [P, 1+M]
    texts = [(prompts[under[i, m]], resp[i, j]) for i in range(P) for j in range(2) for m in range(1 + swaps)]
    swapped = rm.scores([t[0] for t in texts], [t[1] for t in texts], progress="swapped-prompt scores")
    np.savez(out_npz, swapped=swapped.reshape(P, 2, 1 + swaps), **out)
