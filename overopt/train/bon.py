"""Best-of-n curves of every target from the reference pool's scores (the estimator is
``overopt.metrics.bon``): one pool serves every RM and every n. Their fits come from the same
scores, so their intervals can resample prompts (a prompt's pool stays whole).
"""
from __future__ import annotations

import pandas as pd

from overopt import fit
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


def bon_fits(s, scores: list[str], metas: list[str]) -> pd.DataFrame:
    """Gao's BoN form fitted to every scored target's gold and proxy curve (``settings.BonFit``),
    with bootstrap CIs over prompts (:func:`overopt.fit.fit_bon_curves`); one row per target
    and curve, carrying the target's identity."""
    from overopt.settings import Fit

    f = Fit(**s.fit)
    meta = [target_meta(m) for m in metas]
    gold_path = next(path for path, m in zip(scores, meta) if m["kind"] == GOLD)
    gold = load_array(gold_path, (None, s.N))
    ns = bon.n_grid(s.N, s.per_octave)
    rows = []
    for path, m in zip(scores, meta):
        fitted = fit.fit_bon_curves(gold, load_array(path, gold.shape), ns, f.level, f.n_boot, f.seed, min_n=f.min_n)
        for curve, r in fitted.items():
            rows.append(r.row())
    out = pd.DataFrame(rows)
    ident = pd.DataFrame([m for m in meta for _ in fit.CURVES]).assign(policy=s.policy)
    return pd.concat([pd.DataFrame({"method": "bon"}, index=out.index), ident, out], axis=1)
