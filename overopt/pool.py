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
                out_csv: str, trust_remote_code: bool = False) -> None:
    prompts = eval_prompts(prompts_csv)
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
