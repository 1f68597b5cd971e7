"""Reward-model evaluation estimators (STUDY.md 3.4-3.6): accuracy variants and ranking metrics
(Wen et al. 2024), reward variance (Razin et al. 2025), the prompt-free reward gap (Mao et al.
2025), the downstream outcome NDR, and metric-vs-outcome correlations with bootstrap CIs.

Plain numpy/scipy/pandas (no torch), so it runs in light jobs. Conventions:

- Scores of k responses per prompt are arrays ``[prompts, k]``, already normalized (STUDY.md 2,
  step 4); the same samples are scored by the proxy and by the gold RM.
- A pair is described by its gaps: ``proxy_gap = proxy(y1) - proxy(y2)``, ``gold_gap`` likewise.
  A proxy tie (gap 0) scores 1/2 (a coin flip); a gold tie has no correct answer, so the pair is
  excluded from accuracies and from ECE.
- Ties in the proxy *ranking* (MRR, NDCG, best-of-k) are broken uniformly at random, in
  expectation, as in ``overopt.bon``.
- Per-prompt statistics are averaged over the prompts where they are defined (a prompt whose
  proxy or gold scores are all equal has no correlation and is skipped).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import brentq
from scipy.special import comb, expit

STATS = ("pearson", "spearman", "kendall")
_SCIPY = {"pearson": stats.pearsonr, "spearman": stats.spearmanr, "kendall": stats.kendalltau}


def _scores(proxy, gold) -> tuple[np.ndarray, np.ndarray]:
    proxy = np.atleast_2d(np.asarray(proxy, dtype=np.float64))
    gold = np.atleast_2d(np.asarray(gold, dtype=np.float64))
    if proxy.shape != gold.shape or proxy.ndim != 2:
        raise ValueError(f"proxy {proxy.shape} and gold {gold.shape} must have the same shape [prompts, k]")
    if proxy.shape[1] < 2:
        raise ValueError("need k >= 2 responses per prompt")
    if not (np.isfinite(proxy).all() and np.isfinite(gold).all()):
        raise ValueError("scores must be finite")
    return proxy, gold


def _gaps(proxy_gap, gold_gap) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(proxy_gap, dtype=np.float64).ravel()
    g = np.asarray(gold_gap, dtype=np.float64).ravel()
    if p.shape != g.shape:
        raise ValueError(f"proxy_gap {p.shape} and gold_gap {g.shape} must have the same size")
    return p, g


# ----------------------------------------------------------------------------- reward variance (VAR)

def reward_variance(scores) -> float:
    """Razin et al. (2025) reward variance of an RM under a policy: the mean over prompts of the
    unbiased (ddof=1) variance of the scores of the k sampled responses of each prompt.

    scores: [prompts, k], k >= 2, already normalized (STUDY.md 3.5). Low variance means a flat
    reward landscape under the policy, hence slow RL, whatever the RM's accuracy."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(f"scores must be [prompts, k] with k >= 2, got {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return float(s.var(axis=1, ddof=1).mean())


# ----------------------------------------------------------------------------- prompt-free reward (PFR)

def _weights(w, M: int) -> np.ndarray:
    if w is None:
        return np.full(M, 1.0 / M)
    w = np.asarray(w, dtype=np.float64)
    if w.shape[-1] != M or (w < 0).any() or not np.isfinite(w).all():
        raise ValueError(f"weights must be finite, non-negative, with last axis of size {M}")
    s = w.sum(axis=-1, keepdims=True)
    if (s <= 0).any():
        raise ValueError("weights must not all be zero")
    return w / s


def prompt_free_gap(gaps, weights=None) -> float:
    """Mao et al. (2025) prompt-free gap of ONE response pair (y1, y2): the c solving

        sum_m w_m sigmoid(g_m - c) = 1/2,      g_m = r(x_m, y1) - r(x_m, y2),

    for the RM gaps under M prompts (the pair's own prompt swapped out for M others). ``weights``
    default to uniform (or importance weights for P(x | y1, y2)); they are normalized to sum 1.
    The left side is strictly decreasing in c, >= 1/2 at min(g) and <= 1/2 at max(g), so the root
    is unique and bracketed by the gaps (with positive weight); it is found by Brent's method to
    ~1e-14 (M = 1, or equal gaps: c = g exactly). Odd: c(-g) = -c(g), so pair order is immaterial."""
    g = np.asarray(gaps, dtype=np.float64).ravel()
    if g.size == 0 or not np.isfinite(g).all():
        raise ValueError("gaps must be a non-empty finite array [M]")
    w = _weights(weights, g.size)
    g, w = g[w > 0], w[w > 0]
    lo, hi = float(g.min()), float(g.max())
    if lo == hi:
        return lo

    def f(c):
        return float(np.dot(w, expit(g - c))) - 0.5

    flo, fhi = f(lo), f(hi)
    if flo <= 0:
        return lo
    if fhi >= 0:
        return hi
    return float(brentq(f, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500))


def prompt_free_gaps(gaps, weights=None) -> np.ndarray:
    """Vectorized ``prompt_free_gap`` for many pairs: gaps [pairs, M] -> c [pairs]. ``weights``
    is [M] (shared) or [pairs, M]. Bisection on the bracket [min g, max g] down to a width of
    1e-15 (relative for |c| > 1), so it agrees with ``prompt_free_gap`` to ~1e-14."""
    g = np.atleast_2d(np.asarray(gaps, dtype=np.float64))
    if g.ndim != 2 or g.shape[1] == 0 or not np.isfinite(g).all():
        raise ValueError("gaps must be a finite array [pairs, M]")
    w = np.broadcast_to(_weights(weights, g.shape[1]), g.shape)
    pos = w > 0
    lo = np.where(pos, g, np.inf).min(axis=1)
    hi = np.where(pos, g, -np.inf).max(axis=1)
    for _ in range(2100):  # a few dozen halvings in practice; the cap only guards the loop
        mid = 0.5 * (lo + hi)
        active = (mid > lo) & (mid < hi) & (hi - lo > 1e-15 * np.maximum(1.0, np.abs(mid)))
        if not active.any():
            break
        above = (w * expit(g - mid[:, None])).sum(axis=1) > 0.5  # root lies above mid
        lo = np.where(active & above, mid, lo)
        hi = np.where(active & ~above, mid, hi)
    return 0.5 * (lo + hi)


def prompt_free_share(gap, prompt_free) -> float:
    """Share of the variance of the RM gap explained by its prompt-free part, across pairs:

        share = 1 - sum_i (g_i - c_i)^2 / sum_i g_i^2

    with g_i the gap under the pair's true prompt and c_i its prompt-free gap, so g_i - c_i is
    the prompt-related gap. Moments are taken about 0, the mean gap under random pair order,
    which makes the share invariant to which response of each pair is called first (a centred
    variance is not). When c and g - c are uncorrelated it equals sum c^2 / sum g^2; it is 1
    when the RM ignores the prompt and can be negative when c is unrelated to the true gap."""
    g, c = _gaps(gap, prompt_free)
    keep = np.isfinite(g) & np.isfinite(c)
    g, c = g[keep], c[keep]
    den = float(np.sum(g**2))
    return 1.0 - float(np.sum((g - c) ** 2)) / den if den > 0 else float("nan")


def prompt_decomposition(gap, swapped_gaps, weights=None) -> pd.DataFrame:
    """Per pair: the gap under its true prompt (``gap``, [pairs]), the prompt-free gap from the
    gaps under M swapped prompts (``swapped_gaps``, [pairs, M]; see ``prompt_free_gap``), the
    prompt-related rest ``gap - prompt_free``, and the mean swapped gap. One row per pair."""
    g = np.asarray(gap, dtype=np.float64).ravel()
    sw = np.atleast_2d(np.asarray(swapped_gaps, dtype=np.float64))
    if sw.shape[0] != g.size:
        raise ValueError(f"swapped_gaps {sw.shape} must have one row per pair ({g.size})")
    c = prompt_free_gaps(sw, weights)
    w = np.broadcast_to(_weights(weights, sw.shape[1]), sw.shape)
    return pd.DataFrame({"gap": g, "prompt_free": c, "prompt_related": g - c, "swapped_mean": (w * sw).sum(1)})


def prompt_free_diagnostics(gap, swapped_gaps, weights=None, gold_gap=None) -> dict:
    """STUDY.md 3.6 diagnostics of one RM: mean |gap| with the true prompt vs with swapped
    prompts, mean |prompt-free gap|, ``prompt_free_share``, their correlation, and (when the
    gold gaps under the true prompt are given) pairwise accuracy of the true-prompt gap, of the
    prompt-free gap and of the swapped-prompt gaps (each swapped prompt as its own pair)."""
    d = prompt_decomposition(gap, swapped_gaps, weights)
    sw = np.atleast_2d(np.asarray(swapped_gaps, dtype=np.float64))
    g, c = d["gap"].to_numpy(), d["prompt_free"].to_numpy()
    out = {"mean_abs_gap": float(np.abs(g).mean()), "mean_abs_swapped_gap": float(np.abs(sw).mean()),
           "mean_abs_prompt_free": float(np.abs(c).mean()), "prompt_free_share": prompt_free_share(g, c),
           "corr_gap_prompt_free": _pearson(g, c), "n_pairs": int(g.size)}
    if gold_gap is not None:
        gg = np.asarray(gold_gap, dtype=np.float64).ravel()
        out["accuracy_true_prompt"] = pairwise_accuracy(g, gg)
        out["accuracy_prompt_free"] = pairwise_accuracy(c, gg)
        out["accuracy_swapped"] = pairwise_accuracy(sw, np.repeat(gg[:, None], sw.shape[1], axis=1))
    return out


# ----------------------------------------------------------------------------- accuracy variants (ACC)

def pair_scores(proxy_gap, gold_gap) -> np.ndarray:
    """Per pair: 1 if the proxy orders it like gold, 0 if reversed, 1/2 if the proxy ties,
    NaN if gold ties (no correct answer: excluded downstream). Gaps may be any matching shape;
    a label can be passed as a gold gap of +1 (first preferred) or -1."""
    p, g = _gaps(proxy_gap, gold_gap)
    out = np.where(p == 0, 0.5, (np.sign(p) == np.sign(g)).astype(np.float64))
    return np.where((g == 0) | ~np.isfinite(g) | ~np.isfinite(p), np.nan, out).reshape(np.shape(proxy_gap))


def pairwise_accuracy(proxy_gap, gold_gap) -> float:
    """Fraction of pairs the proxy orders like gold, proxy ties counting 1/2 and pairs tied in
    gold excluded (``pair_scores``). NaN when no pair is left."""
    s = pair_scores(proxy_gap, gold_gap)
    s = s[np.isfinite(s)]
    return float(s.mean()) if s.size else float("nan")


def accuracy_by_rank_gap(proxy, gold) -> pd.DataFrame:
    """Accuracy on pairs chosen by gold rank, given k responses per prompt ([prompts, k]).

    Responses are ranked by gold within each prompt (ordinal ranks, stable); for each rank
    distance delta = 1..k-1 every pair (rank r + delta, rank r) is scored. delta = 1 gives the
    adjacent-rank pairs, delta = k-1 the best-vs-worst pair. Pairs tied in gold are excluded.
    Columns: rank_gap, accuracy, n_pairs."""
    proxy, gold = _scores(proxy, gold)
    k = gold.shape[1]
    order = np.argsort(gold, axis=1, kind="stable")
    ps, gs = np.take_along_axis(proxy, order, 1), np.take_along_axis(gold, order, 1)
    rows = []
    for delta in range(1, k):
        s = pair_scores(ps[:, delta:] - ps[:, :-delta], gs[:, delta:] - gs[:, :-delta])
        s = s[np.isfinite(s)]
        rows.append({"rank_gap": delta, "accuracy": float(s.mean()) if s.size else float("nan"),
                     "n_pairs": int(s.size)})
    return pd.DataFrame(rows)


def rank_pair_accuracy(proxy, gold, mode: str = "all") -> float:
    """Accuracy on gold-rank-selected pairs of k responses per prompt: ``best_worst`` (gold best
    vs gold worst, one pair per prompt), ``adjacent`` (all k-1 gold-adjacent pairs per prompt) or
    ``all`` (all C(k,2) pairs). Gold ties excluded, proxy ties 1/2."""
    proxy, gold = _scores(proxy, gold)
    if mode == "all":
        i, j = np.triu_indices(gold.shape[1], 1)
        return pairwise_accuracy(proxy[:, i] - proxy[:, j], gold[:, i] - gold[:, j])
    delta = {"adjacent": 1, "best_worst": gold.shape[1] - 1}.get(mode)
    if delta is None:
        raise ValueError(f"mode must be 'all', 'adjacent' or 'best_worst', got {mode!r}")
    t = accuracy_by_rank_gap(proxy, gold)
    return float(t.loc[t["rank_gap"] == delta, "accuracy"].iloc[0])


def budget_pairs(n_prompts: int, k: int, budget: int, design: str = "all_pairs", seed: int = 0):
    """Which B = ``budget`` pairs a fixed labeling budget buys; returns (prompt, i, j) index arrays.

    ``all_pairs``: prompts in a seeded random order, all C(k,2) pairs of each, until B pairs
    (the last prompt contributes a seeded random subset of its pairs). ``distinct``: B distinct
    prompts, one seeded random pair (i != j) each. The draw depends only on the shapes and the
    seed, so every proxy is scored on the same pairs."""
    if design not in ("all_pairs", "distinct"):
        raise ValueError(f"design must be 'all_pairs' or 'distinct', got {design!r}")
    if k < 2 or budget < 1:
        raise ValueError("need k >= 2 and budget >= 1")
    rng = np.random.default_rng([seed, 0 if design == "all_pairs" else 1])
    if design == "distinct":
        if budget > n_prompts:
            raise ValueError(f"budget {budget} exceeds the {n_prompts} prompts available for distinct pairs")
        prompt = rng.permutation(n_prompts)[:budget]
        i = rng.integers(0, k, budget)
        j = (i + rng.integers(1, k, budget)) % k  # uniform over j != i
        return prompt, i, j
    per = k * (k - 1) // 2
    if budget > n_prompts * per:
        raise ValueError(f"budget {budget} exceeds the {n_prompts * per} pairs of {n_prompts} prompts")
    n_full, rest = divmod(budget, per)
    used = rng.permutation(n_prompts)[: n_full + (rest > 0)]
    ti, tj = np.triu_indices(k, 1)
    prompt, i, j = np.repeat(used[:n_full], per), np.tile(ti, n_full), np.tile(tj, n_full)
    if rest:
        pick = rng.permutation(per)[:rest]
        prompt = np.r_[prompt, np.full(rest, used[-1])]
        i, j = np.r_[i, ti[pick]], np.r_[j, tj[pick]]
    return prompt, i, j


def budget_accuracy(proxy, gold, budget: int, k: int | None = None, seed: int = 0) -> dict:
    """Accuracy under a fixed labeling budget of B pairs (Wen et al. 2024): ``all_pairs`` (all
    C(k,2) pairs of about B / C(k,2) prompts) vs ``distinct`` (one pair from each of B prompts),
    drawn by ``budget_pairs``. Uses the first ``k`` responses of each prompt (samples are iid;
    default all). Gold ties excluded, proxy ties 1/2."""
    proxy, gold = _scores(proxy, gold)
    k = gold.shape[1] if k is None else int(k)
    out = {"budget": int(budget), "k": k}
    for design in ("all_pairs", "distinct"):
        pr, i, j = budget_pairs(gold.shape[0], k, budget, design, seed)
        out[design] = pairwise_accuracy(proxy[pr, i] - proxy[pr, j], gold[pr, i] - gold[pr, j])
        out[f"prompts_{design}"] = int(np.unique(pr).size)
    return out


def accuracy_vs_size(proxy_gap, gold_gap, sizes: Iterable[int], n_rep: int = 20, seed: int = 0) -> pd.DataFrame:
    """Accuracy on random test sets of each size (without replacement, from the pairs not tied
    in gold), ``n_rep`` draws per size. Draw (size, rep) uses rng([seed, size, rep]), so it is
    the same pair subset for every proxy scored on the same pairs. Columns: size, rep, accuracy."""
    s = pair_scores(proxy_gap, gold_gap).ravel()
    valid = np.flatnonzero(np.isfinite(s))
    rows = []
    for size in sorted({int(x) for x in sizes}):
        if not 1 <= size <= valid.size:
            raise ValueError(f"size {size} not in [1, {valid.size}] (pairs not tied in gold)")
        for rep in range(n_rep):
            idx = np.random.default_rng([seed, size, rep]).choice(valid, size, replace=False)
            rows.append({"size": size, "rep": rep, "accuracy": float(s[idx].mean())})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- ranking metrics (ACC)

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
    response of a pair is gold-better. ``first_better`` is 1/0 per pair (or a probability, e.g.
    sigmoid(gold gap) for Bradley-Terry truth). Equal-width bins on [0, 1] (p = 1 in the last):
    ECE = sum_b (n_b / n) |mean(first_better in b) - mean(p in b)|. NaN entries are dropped."""
    p, y = _gaps(proxy_gap, first_better)
    keep = np.isfinite(p) & np.isfinite(y)
    p, y = expit(p[keep]), y[keep]
    if p.size == 0:
        return float("nan")
    b = np.clip(np.floor(p * n_bins).astype(int), 0, n_bins - 1)
    n = np.bincount(b, minlength=n_bins)
    gap = np.abs(np.bincount(b, y, n_bins) - np.bincount(b, p, n_bins))  # n_b * |mean y - mean p|
    return float(gap.sum() / n.sum())


def ranking_ece(proxy, gold, n_bins: int = 10) -> float:
    """``ece`` over all C(k,2) pairs (i < j) of the k responses per prompt, first_better =
    gold_i > gold_j, pairs tied in gold excluded."""
    proxy, gold = _scores(proxy, gold)
    i, j = np.triu_indices(gold.shape[1], 1)
    dg = gold[:, i] - gold[:, j]
    y = np.where(dg == 0, np.nan, (dg > 0).astype(np.float64))
    return ece(proxy[:, i] - proxy[:, j], y, n_bins)


def ranking_metrics(proxy, gold, n_bins: int = 10, ndcg_at: int | None = None) -> dict:
    """Every per-prompt metric of a proxy on k responses per prompt ([prompts, k]), averaged over
    prompts: pearson, spearman, kendall, mrr, ndcg, ece (of sigmoid(proxy gap) on all pairs),
    best_of_k (gold), and accuracy on all C(k,2) pairs."""
    proxy, gold = _scores(proxy, gold)
    out = {s: per_prompt_correlation(proxy, gold, s) for s in STATS}
    out.update(mrr=mrr(proxy, gold), ndcg=ndcg(proxy, gold, ndcg_at), ece=ranking_ece(proxy, gold, n_bins),
               best_of_k=best_of_k(proxy, gold), accuracy=rank_pair_accuracy(proxy, gold, "all"))
    return out


# ----------------------------------------------------------------------------- downstream (ACC)

def ndr(gold_proxy_opt, gold_init, gold_gold_opt):
    """Normalized drop ratio (Wen et al. 2024): (gold(pi_proxy) - gold(pi_init)) /
    (gold(pi_gold) - gold(pi_init)), with pi_gold optimized against the gold RM under the same
    settings. 1 = as good as optimizing gold itself, 0 = no gain, < 0 = worse than pi_init.
    Broadcasts; NaN where the gold-optimized policy gained nothing."""
    a, b, c = (np.asarray(x, dtype=np.float64) for x in (gold_proxy_opt, gold_init, gold_gold_opt))
    den = c - b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den != 0, (a - b) / den, np.nan)
    return float(out) if out.ndim == 0 else out


def regressional_goodhart(acc):
    """Regressional-Goodhart prediction of NDR_BoN from random-pair accuracy: proxy = gold +
    independent Gaussian noise with correlation rho gives acc = 1/2 + arcsin(rho)/pi, so
    NDR ~ rho = sin(pi (acc - 1/2))."""
    out = np.sin(np.pi * (np.asarray(acc, dtype=np.float64) - 0.5))
    return float(out) if out.ndim == 0 else out


def accuracy_from_correlation(rho):
    """Inverse of ``regressional_goodhart``: random-pair accuracy 1/2 + arcsin(rho)/pi of a
    proxy whose Gaussian correlation with gold is rho (Sheppard's formula)."""
    out = 0.5 + np.arcsin(np.asarray(rho, dtype=np.float64)) / np.pi
    return float(out) if out.ndim == 0 else out


# ----------------------------------------------------------------------------- correlations across RMs

def _boot_stats(stat: str, x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The statistic on each bootstrap resample (rows of idx); NaN for degenerate resamples.
    Chunked so Kendall's pairwise signs stay small."""
    n = x.size
    chunk = max(1, int(2e7 // max(1, n * n))) if stat == "kendall" else idx.shape[0]
    return np.concatenate([_stat_rows(stat, x[idx[s:s + chunk]], y[idx[s:s + chunk]])
                           for s in range(0, idx.shape[0], chunk)]) if idx.size else np.empty(0)


def _ci(boot: np.ndarray, level: float) -> tuple[float, float, int]:
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return float("nan"), float("nan"), 0
    lo, hi = np.quantile(boot, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi), int(boot.size)


def _scipy_stat(stat: str, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if x.size < 3 or _constant(x) or _constant(y):
        return float("nan"), float("nan")
    res = _SCIPY[stat](x, y)
    return float(res.statistic), float(res.pvalue)


def _groups(frame: pd.DataFrame, by):
    by = [by] if isinstance(by, str) else list(by or [])
    if not by:
        return by, [((), frame)]
    return by, [((k if isinstance(k, tuple) else (k,)), g) for k, g in frame.groupby(by, dropna=False, sort=True)]


def correlations(frame: pd.DataFrame, metrics: Sequence[str], outcomes: Sequence[str], by=None,
                 n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                 stat_names: Sequence[str] = STATS) -> pd.DataFrame:
    """Every metric vs every outcome across the rows of ``frame`` (one row per proxy RM), within
    each group of ``by``: Pearson, Spearman and Kendall tau-b (or the subset ``stat_names``;
    values and p-values from scipy.stats.pearsonr / spearmanr / kendalltau), with percentile
    bootstrap CIs at ``level``.

    Rows with a NaN metric or outcome are dropped per pair (``n`` = rows used). The bootstrap
    resamples those rows with replacement ``n_boot`` times from rng(seed), the same resamples
    for every pair with the same n (paired); resamples where either side is constant are
    skipped (``n_boot`` column = resamples used). Fewer than 3 rows or a constant side: NaN.
    Columns: *by, metric, outcome, stat, value, ci_low, ci_high, p_value, n, n_boot."""
    by, groups = _groups(frame, by)
    rows = []
    for key, g in groups:
        for metric in metrics:
            for outcome in outcomes:
                xy = g[[metric, outcome]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
                xy = xy[np.isfinite(xy).all(1)]
                x, y, n = xy[:, 0], xy[:, 1], xy.shape[0]
                idx = np.random.default_rng(seed).integers(0, n, (n_boot, n)) if n >= 3 else np.empty((0, 0), int)
                for stat in stat_names:
                    value, p = _scipy_stat(stat, x, y)
                    lo, hi, used = _ci(_boot_stats(stat, x, y, idx), level) if np.isfinite(value) else (
                        float("nan"), float("nan"), 0)
                    rows.append({**dict(zip(by, key)), "metric": metric, "outcome": outcome, "stat": stat,
                                 "value": value, "ci_low": lo, "ci_high": hi, "p_value": p, "n": n,
                                 "n_boot": used})
    cols = [*by, "metric", "outcome", "stat", "value", "ci_low", "ci_high", "p_value", "n", "n_boot"]
    return pd.DataFrame(rows, columns=cols)


def _zscore(x: pd.Series) -> pd.Series:
    x = pd.to_numeric(x, errors="coerce").astype(np.float64)
    sd = x.std(ddof=1)
    return (x - x.mean()) / sd if sd > 0 else x * 0.0


def combo_name(members: Sequence[str]) -> str:
    """Column name of a combined metric, e.g. ``combo:variance+accuracy``."""
    return "combo:" + "+".join(members)


def add_combos(frame: pd.DataFrame, combos: Iterable[Sequence[str] | str], by=None) -> pd.DataFrame:
    """Copy of ``frame`` with one column per combo: the mean of the members' z-scores (mean 0,
    sd 1 over the rows of each ``by`` group; a constant member contributes 0; NaN if any member
    is NaN), named ``combo_name(members)``. A combo is a tuple of columns or a string 'a+b'.
    The average of z-scored variance and accuracy is Razin et al.'s best predictor."""
    out = frame.copy()
    by_cols, _ = _groups(frame, by)
    for c in combos:
        members = c.split("+") if isinstance(c, str) else list(c)
        if by_cols:
            z = [out.groupby(by_cols, dropna=False)[m].transform(_zscore) for m in members]
        else:
            z = [_zscore(out[m]) for m in members]
        out[combo_name(members)] = pd.concat(z, axis=1).mean(axis=1, skipna=False)
    return out


def best_predictor(frame: pd.DataFrame, metrics: Sequence[str], outcome: str,
                   combos: Iterable[Sequence[str] | str] = (), by=None, stat: str = "spearman",
                   n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Which metric, or z-score combination of metrics (``add_combos``), best predicts ``outcome``
    across proxies, within each ``by`` group.

    All candidates are scored on the same rows (those with every candidate and the outcome
    finite), by ``stat`` (scipy value) with a percentile bootstrap CI from shared resamples
    (paired across candidates; degenerate resamples skipped per candidate). ``p_best`` is the
    share of resamples, among those where every candidate is defined, in which the candidate has
    the highest value. One row per candidate, sorted by value (signed, descending; NaN last),
    with ``rank`` (1 = best). Columns: *by, rank, metric, outcome, stat, value, ci_low, ci_high,
    p_value, p_best, n, n_boot."""
    combos = [c.split("+") if isinstance(c, str) else list(c) for c in combos]
    f = add_combos(frame, combos, by)
    cands = list(metrics) + [combo_name(c) for c in combos]
    by_cols, groups = _groups(f, by)
    rows = []
    for key, g in groups:
        xy = g[cands + [outcome]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        xy = xy[np.isfinite(xy).all(1)]
        n = xy.shape[0]
        idx = np.random.default_rng(seed).integers(0, n, (n_boot, n)) if n >= 3 else np.empty((0, 0), int)
        y = xy[:, -1]
        boots, group_rows = [], []
        for c, name in enumerate(cands):
            value, p = _scipy_stat(stat, xy[:, c], y)
            b = _boot_stats(stat, xy[:, c], y, idx) if np.isfinite(value) else np.full(idx.shape[0], np.nan)
            boots.append(b)
            lo, hi, used = _ci(b, level)
            group_rows.append({**dict(zip(by_cols, key)), "metric": name, "outcome": outcome, "stat": stat,
                               "value": value, "ci_low": lo, "ci_high": hi, "p_value": p, "n": n,
                               "n_boot": used})
        B = np.column_stack(boots) if boots and idx.shape[0] else np.empty((0, len(cands)))
        ok = np.isfinite(B).all(1)
        win = np.bincount(B[ok].argmax(1), minlength=len(cands)) if ok.any() else np.zeros(len(cands))
        for r, w in zip(group_rows, win):
            r["p_best"] = float(w / ok.sum()) if ok.any() else float("nan")
        group_rows.sort(key=lambda r: -r["value"] if np.isfinite(r["value"]) else np.inf)
        for rank, r in enumerate(group_rows, 1):
            r["rank"] = rank
        rows += group_rows
    cols = [*by_cols, "rank", "metric", "outcome", "stat", "value", "ci_low", "ci_high", "p_value", "p_best",
            "n", "n_boot"]
    return pd.DataFrame(rows, columns=cols)
