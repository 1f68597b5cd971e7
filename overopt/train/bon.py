"""Best-of-n curves of every target from the reference pool's scores (the estimator is
``overopt.metrics.bon``): one pool serves every RM and every n.
"""
from __future__ import annotations

import pandas as pd

from overopt.inputs import load_array
from overopt.metrics import bon
from overopt.tables.curves import tag, target_meta
from overopt.targets import GOLD


def bon_curve(meta: dict, gold_npy: str, proxy_npy: str, N: int, per_octave: int, policy: str) -> pd.DataFrame:
    """Best-of-n rows for one target RM: n grid, analytic KL, expected gold and proxy score of
    ``policy``'s samples."""
    gold, proxy = load_array(gold_npy, (None, N)), load_array(proxy_npy, (None, N))
    if gold.shape != proxy.shape or gold.shape[1] != N:
        raise ValueError(f"{gold_npy} {gold.shape} and {proxy_npy} {proxy.shape} must both be [prompts, {N}]")
    out = bon.best_of_n(gold, proxy, bon.n_grid(N, per_octave))
    out["N"], out["prompts"] = N, gold.shape[0]
    return tag(out, "bon", meta, policy=policy)


def bon_curves(s, scores: list[str], metas: list[str]) -> pd.DataFrame:
    """Best-of-n rows of every scored target (``settings.Bon``): ``scores[i]`` is the reference
    pool scored by the target whose metrics.json is ``metas[i]``; gold's scores give the gold column."""
    meta = [target_meta(m) for m in metas]
    gold = next(path for path, m in zip(scores, meta) if m["kind"] == GOLD)
    return pd.concat([bon_curve(m, gold, path, s.N, s.per_octave, s.policy) for path, m in zip(scores, meta)],
                     ignore_index=True)

