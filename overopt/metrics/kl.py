"""KL(pi || pi_init) of sequences, estimated from samples of pi (docs/science.md 4.3).

For a response y ~ pi(.|x) with per-token log ratios l_t = log pi(y_t|x,y_<t) - log pi_init(y_t|x,y_<t),
the sequence log ratio is L = sum_t l_t and

    k1 = E[L]                                  unbiased, can be negative on a sample
    k2 = E[L^2 / 2]                            biased, low variance
    k3 = E[sum_t (exp(-l_t) - 1 + l_t)]        unbiased (chain rule over tokens), every term >= 0

k3 is taken per token and summed (as TRL does): the sequence-level form exp(-L) - 1 + L is
also unbiased but its variance explodes once the policy has moved a few nats.
"""
from __future__ import annotations

import numpy as np


def kl_estimates(token_log_ratios: list[np.ndarray] | np.ndarray, mask: np.ndarray | None = None) -> dict:
    """Estimates of the sequence KL from per-token log ratios of sequences sampled from pi.

    ``token_log_ratios``: [sequences, tokens] (with ``mask`` marking real tokens) or a list
    of 1-D arrays. Returns k1, k2, k3 (means over sequences) and their standard errors."""
    if isinstance(token_log_ratios, list):
        seqs = [np.asarray(s, dtype=np.float64) for s in token_log_ratios]
    else:
        lr = np.asarray(token_log_ratios, dtype=np.float64)
        m = np.ones_like(lr, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        seqs = [row[mrow] for row, mrow in zip(lr, m)]
    if not seqs:
        raise ValueError("no sequences")
    L = np.array([s.sum() for s in seqs])
    k3 = np.array([np.sum(np.expm1(-s) + s) for s in seqs])
    per = {"k1": L, "k2": L**2 / 2, "k3": k3}
    out = {}
    for k, v in per.items():
        out[k] = float(v.mean())
        out[f"{k}_se"] = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")
    return out


def token_log_ratios(logp_policy, logp_ref, mask) -> list[np.ndarray]:
    """Per-token log ratios per sequence from two [sequences, tokens] log-prob arrays."""
    lp, lr, m = (np.asarray(a) for a in (logp_policy, logp_ref, mask))
    return [(a - b)[mm.astype(bool)] for a, b, mm in zip(lp, lr, m)]
