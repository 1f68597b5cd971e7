"""Ranking metrics of a proxy on k responses per prompt (Wen et al. 2024): per-prompt
correlations, MRR, NDCG, ECE, best-of-k. Ties in the proxy ranking are broken uniformly at
random, in expectation, as in ``overopt.metrics.bon``.
"""
from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import comb, expit

from overopt.metrics.accuracy import _gaps, _scores, rank_pair_accuracy

STATS = ("pearson", "spearman", "kendall")


def _constant(x: np.ndarray) -> np.ndarray:
    return np.ptp(x, axis=-1) == 0


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Pearson r of 2-D arrays; NaN for a constant row."""
    xc = x - x.mean(-1, keepdims=True)
    yc = y - y.mean(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (xc * yc).sum(-1) / np.sqrt((xc**2).sum(-1) * (yc**2).sum(-1))
    return np.where(_constant(x) | _constant(y), np.nan, np.clip(r, -1.0, 1.0))


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Kendall tau-b (scipy's default variant); NaN for a constant row."""
    i, j = np.triu_indices(x.shape[-1], 1)
    sx, sy = np.sign(x[..., i] - x[..., j]), np.sign(y[..., i] - y[..., j])
    n0 = i.size
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (sx * sy).sum(-1) / np.sqrt((n0 - (sx == 0).sum(-1)) * (n0 - (sy == 0).sum(-1)))
    return np.where(_constant(x) | _constant(y), np.nan, np.clip(t, -1.0, 1.0))


def _stat_rows(stat: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if stat == "pearson":
        return _pearson_rows(x, y)
    if stat == "spearman":  # Pearson on average ranks, as scipy.stats.spearmanr
        return _pearson_rows(stats.rankdata(x, axis=-1), stats.rankdata(y, axis=-1))
    if stat == "kendall":
        return _kendall_rows(x, y)
    raise ValueError(f"stat must be one of {STATS}, got {stat!r}")


def _pearson(x, y) -> float:
    return float(_pearson_rows(np.asarray(x, dtype=np.float64)[None], np.asarray(y, dtype=np.float64)[None])[0])


def _nanmean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def per_prompt_correlation(proxy, gold, stat: str = "spearman") -> float:
    """Correlation of proxy with gold over the k responses of each prompt (``pearson``,
    ``spearman`` with average ranks, or ``kendall`` tau-b; each equal to scipy's), averaged over
    the prompts where it is defined (prompts with all-equal proxy or gold scores are skipped)."""
    proxy, gold = _scores(proxy, gold)
    return _nanmean(_stat_rows(stat, proxy, gold))


def _tie_position(proxy: np.ndarray):
    """For each response: m = # responses with a strictly higher proxy score, t = # with an
    equal one (itself included). Under random tie-breaking its 1-based rank is uniform on
    m+1 .. m+t."""
    gt = (proxy[:, None, :] > proxy[:, :, None]).sum(-1)
    eq = (proxy[:, None, :] == proxy[:, :, None]).sum(-1)
    return gt, eq


def mrr(proxy, gold) -> float:
    """Mean over prompts of the reciprocal rank, in the proxy's descending order, of the gold-
    best response. Gold ties at the top: the first of them in the proxy order counts (standard
    MRR). Proxy ties: the expectation under uniformly random tie-breaking."""
    proxy, gold = _scores(proxy, gold)
    k = gold.shape[1]
    rel = gold == gold.max(1, keepdims=True)
    p_top = np.where(rel, proxy, -np.inf).max(1, keepdims=True)  # best proxy score among gold-best
    m = (proxy > p_top).sum(1, keepdims=True)
    t = (proxy == p_top).sum(1, keepdims=True)
    r = (rel & (proxy == p_top)).sum(1, keepdims=True)  # gold-best inside that tie group, >= 1
    pos = np.arange(1, k + 1)[None, :]
    prob = comb(t - pos, r - 1) / comb(t, r)  # P(first relevant is at position pos of the group)
    return float((prob / (m + pos)).sum(1).mean())


def ndcg(proxy, gold, at: int | None = None) -> float:
    """Mean over prompts of NDCG@at (default k) of the proxy's descending ranking.

    Gain: the gold rank of a response within its prompt, rescaled to [0, 1]:
    gain = (rank - 1) / (k - 1), rank 1 = gold worst, k = gold best, average ranks for gold ties
    (so gold's scale does not matter). Discount 1 / log2(1 + position), zero beyond ``at``.
    Proxy ties: each tied response gets the mean discount of the positions its group spans (the
    expectation under random tie-breaking). Normalized by the DCG of the gold order."""
    proxy, gold = _scores(proxy, gold)
    k = gold.shape[1]
    at = k if at is None else int(at)
    if at < 1:
        raise ValueError("at must be >= 1")
    gain = (stats.rankdata(gold, axis=1) - 1.0) / (k - 1)
    disc = np.where(np.arange(1, k + 1) <= at, 1.0 / np.log2(np.arange(2, k + 2)), 0.0)
    cum = np.r_[0.0, np.cumsum(disc)]
    m, t = _tie_position(proxy)
    dcg = (gain * (cum[m + t] - cum[m]) / t).sum(1)
    idcg = (np.sort(gain, axis=1)[:, ::-1] * disc).sum(1)
    return float((dcg / idcg).mean())


def best_of_k(proxy, gold) -> float:
    """Gold score of the proxy's argmax among the k responses, averaged over prompts (ties in the
    proxy maximum: the mean gold of the tied responses). Equals ``bon.best_of_n`` at n = N."""
    proxy, gold = _scores(proxy, gold)
    top = proxy == proxy.max(1, keepdims=True)
    return float(((gold * top).sum(1) / top.sum(1)).mean())


def ece(proxy_gap, first_better, n_bins: int = 10) -> float:
    """Expected calibration error of p = sigmoid(proxy_gap) as the probability that the first
    response of a pair is gold-better. ``proxy_gap`` must be in the RM's raw units (its
    Bradley-Terry logits), or p is not the RM's own probability. ``first_better`` is 1/0 per
    pair (or a probability, e.g. sigmoid(gold gap) for Bradley-Terry truth). Equal-width bins
    on [0, 1] (p = 1 in the last): ECE = sum_b (n_b / n) |mean(first_better in b) - mean(p in b)|.
    NaN entries are dropped."""
    p, y = _gaps(proxy_gap, first_better)
    keep = np.isfinite(p) & np.isfinite(y)
    p, y = expit(p[keep]), y[keep]
    if p.size == 0:
        return float("nan")
    b = np.clip(np.floor(p * n_bins).astype(int), 0, n_bins - 1)
    n = np.bincount(b, minlength=n_bins)
    gap = np.abs(np.bincount(b, y, n_bins) - np.bincount(b, p, n_bins))  # n_b * |mean y - mean p|
    return float(gap.sum() / n.sum())


def _check_scale(scale: float | None) -> float | None:
    if scale is not None and (isinstance(scale, bool) or not np.isfinite(scale) or scale <= 0):
        raise ValueError(f"scale must be a positive finite number or None, got {scale!r}")
    return scale


def ranking_ece(proxy, gold, n_bins: int = 10, scale: float | None = 1.0) -> float:
    """``ece`` over all C(k,2) pairs (i < j) of the k responses per prompt, first_better =
    gold_i > gold_j, pairs tied in gold excluded. The RM's probability is
    sigmoid(scale * (proxy_i - proxy_j)): for normalized scores (raw - shift) / std, ``scale``
    is the RM's normalization std, which restores its raw gaps (the shift cancels), so the ECE
    is of the RM's own Bradley-Terry probabilities and does not depend on the normalization.
    ``scale=None``: an RM without probabilities of its own (a transformed reference): NaN."""
    if _check_scale(scale) is None:
        return float("nan")
    proxy, gold = _scores(proxy, gold)
    i, j = np.triu_indices(gold.shape[1], 1)
    dg = gold[:, i] - gold[:, j]
    y = np.where(dg == 0, np.nan, (dg > 0).astype(np.float64))
    return ece(scale * (proxy[:, i] - proxy[:, j]), y, n_bins)


def ranking_metrics(proxy, gold, n_bins: int = 10, ndcg_at: int | None = None,
                    ece_scale: float | None = 1.0) -> dict:
    """Every per-prompt metric of a proxy on k responses per prompt ([prompts, k]), averaged over
    prompts: pearson, spearman, kendall, mrr, ndcg, ece (of sigmoid(ece_scale * proxy gap) on
    all pairs: ``ranking_ece``), best_of_k (gold), and accuracy on all C(k,2) pairs. Only ece
    depends on the proxy's scale."""
    proxy, gold = _scores(proxy, gold)
    out = {s: per_prompt_correlation(proxy, gold, s) for s in STATS}
    out.update(mrr=mrr(proxy, gold), ndcg=ndcg(proxy, gold, ndcg_at), ece=ranking_ece(proxy, gold, n_bins, ece_scale),
               best_of_k=best_of_k(proxy, gold), accuracy=rank_pair_accuracy(proxy, gold, "all"))
    return out
