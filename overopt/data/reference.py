"""The reference stage: N samples of pi_init per eval prompt, generated once, and each reward
model's scores on them (scored once per RM). The same scores fix each RM's normalization
(pi_init on eval prompts: mean 0, std 1), which every later stage applies; best-of-n reads
these scores too.
"""
from __future__ import annotations
import numpy as np
from overopt.models import Normalization, RewardModel, count_params, load_policy
from overopt.data.sampling import sample_responses
from overopt.data.splits import eval_prompts, read_pool


def sample_pool(s, prompts_csv: str, out_csv: str) -> None:
    """``s.N`` samples of ``s.policy`` per prompt of ``s.split`` (``settings.Pool``): the
    reference pool (eval), the OOD pool (ood) and the other policies' pools."""
    prompts = eval_prompts(prompts_csv, s.split)
    model, tok = load_policy(s.policy, s.trust_remote_code)
    pool = sample_responses(model, tok, prompts["prompt"].tolist(), s.N, s.response_len, s.sample_batch_size,
                            s.seed, progress="pool samples")
    pool.insert(0, "prompt_id", prompts["prompt_id"].to_numpy()[pool["prompt_idx"]])
    pool.to_csv(out_csv, index=False)


def score_pool(s, prompts_csv: str, pool_csv: str, out_npy: str, out_norm: str) -> None:
    """Raw scores of the pool by one RM, normalized with the shift/scale fitted on this very
    pool; saves scores as [prompts, N] and the normalization beside the model."""
    prompts, pool = eval_prompts(prompts_csv), read_pool(pool_csv)
    rm = RewardModel.load(s.rm, trust_remote_code=s.trust_remote_code, batch_size=s.score_batch_size)
    rm.norm = rm.norm.with_chat(s.chat)
    raw = rm.raw_scores(prompts["prompt"].to_numpy()[pool["prompt_idx"]].tolist(), pool["response"].tolist(),
                        progress="pool scores")
    norm = Normalization.fit(raw).with_chat(s.chat)
    norm.save(out_norm, params=count_params(rm.model))
    n_prompts = len(prompts)
    np.save(out_npy, norm.apply(raw).reshape(n_prompts, len(pool) // n_prompts))
