"""Reward-model evaluation estimators (docs/science.md 4.6-4.8): accuracy variants and ranking metrics
(Wen et al. 2024), reward variance (Razin et al. 2025), the prompt-free reward gap (Mao et al.
2025), the downstream outcome NDR, and metric-vs-outcome correlations with bootstrap CIs.

Plain numpy/scipy/pandas (no torch), so it runs in light jobs. Conventions:

- Scores of k responses per prompt are arrays ``[prompts, k]``, already normalized (docs/science.md,
  section 3.2); the same samples are scored by the proxy and by the gold RM.
- A pair is described by its gaps: ``proxy_gap = proxy(y1) - proxy(y2)``, ``gold_gap`` likewise.
  A proxy tie (gap 0) scores 1/2 (a coin flip); a gold tie has no correct answer, so the pair is
  excluded from accuracies and from ECE.
- Ties in the proxy *ranking* (MRR, NDCG, best-of-k) are broken uniformly at random, in
  expectation, as in ``overopt.bon``.
- Per-prompt statistics are averaged over the prompts where they are defined (a prompt whose
  proxy or gold scores are all equal has no correlation and is skipped).
"""
from __future__ import annotations
from collections.abc import Iterable
import numpy as np
import pandas as pd


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


def rank_bin_accuracy(proxy, gold, bins: int) -> pd.DataFrame:
    """Wen et al.'s rank-bin grid: the k responses of each prompt ranked by gold (ordinal, stable)
    and cut into ``bins`` equal bins, bin 1 the worst; accuracy on every pair whose chosen
    (higher-gold) response lies in bin i and rejected one in bin j, for every i >= j (i = j: the
    pairs inside one bin). Gold ties excluded, proxy ties 1/2. Columns: bin_chosen,
    bin_rejected, accuracy, n_pairs."""
    proxy, gold = _scores(proxy, gold)
    k = gold.shape[1]
    if bins < 1 or k % bins:
        raise ValueError(f"k = {k} responses do not split into {bins} equal bins")
    order = np.argsort(gold, axis=1, kind="stable")
    ps, gs = np.take_along_axis(proxy, order, 1), np.take_along_axis(gold, order, 1)
    size, rows = k // bins, []
    for bi in range(bins):
        for bj in range(bi + 1):
            hi, lo = np.arange(bi * size, (bi + 1) * size), np.arange(bj * size, (bj + 1) * size)
            a, b = np.meshgrid(hi, lo, indexing="ij")
            keep = a > b  # chosen above rejected in gold rank (within one bin: each pair once)
            a, b = a[keep], b[keep]
            s = pair_scores(ps[:, a] - ps[:, b], gs[:, a] - gs[:, b])
            s = s[np.isfinite(s)]
            rows.append({"bin_chosen": bi + 1, "bin_rejected": bj + 1,
                         "accuracy": float(s.mean()) if s.size else float("nan"), "n_pairs": int(s.size)})
    return pd.DataFrame(rows)


def budget_sweep(proxy, gold, budget: int, ks: Iterable[int], seed: int = 0) -> dict[int, float]:
    """Wen et al.'s responses-per-prompt sweep at a fixed labeling budget of B pairs: for each k,
    all C(k,2) pairs of the first k responses of about B / C(k,2) prompts (``budget_pairs``'s
    ``all_pairs`` draw). k -> accuracy."""
    proxy, gold = _scores(proxy, gold)
    out = {}
    for k in ks:
        pr, i, j = budget_pairs(gold.shape[0], int(k), budget, "all_pairs", seed)
        out[int(k)] = pairwise_accuracy(proxy[pr, i] - proxy[pr, j], gold[pr, i] - gold[pr, j])
    return out


def variants(proxy, gold, bins: int, budget: int, ks: Iterable[int], seed: int = 0) -> dict[str, float]:
    """Wen et al.'s accuracy variants of one RM against gold's preferences ([prompts, k] each):
    the rank-bin grid (``acc_bin<i>_<j>``, :func:`rank_bin_accuracy`) and the responses-per-
    prompt sweep at a budget of ``budget`` pairs (``acc_budget_k<k>``, :func:`budget_sweep`)."""
    out = {f"acc_bin{r.bin_chosen}_{r.bin_rejected}": r.accuracy for r in rank_bin_accuracy(proxy, gold, bins).itertuples()}
    out.update({f"acc_budget_k{kk}": a for kk, a in budget_sweep(proxy, gold, budget, ks, seed).items()})
    return out


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
