"""Best-of-n without resampling (Gao et al. 2022; docs/science.md 4.1).

From one pool of N samples per prompt, the expected gold and proxy score of best-of-n over all
n-subsets is exact: sort by proxy score, weight the i-th smallest by
w_i = C(i-1, n-1) / C(N, n), the probability that it is the subset's maximum. Ties in the
proxy are broken uniformly at random, which in expectation replaces each gold score by the
mean gold score of its tie group; the weights are computed in log space (lgamma), so
N = 10^4 is stable.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaln


def kl_bon(n) -> np.ndarray | float:
    """Analytic KL(best-of-n || base) = log n - (n-1)/n (Beirami et al. 2024; exact without ties)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.log(n) - (n - 1.0) / n
    return float(out) if out.ndim == 0 else out


def bon_weights(N: int, n: int) -> np.ndarray:
    """w_i, i = 1..N (ascending order): probability that the i-th smallest of N is the max of a
    uniformly random n-subset. Zero for i < n; sums to 1."""
    if not 1 <= n <= N:
        raise ValueError(f"n must be in [1, N={N}], got {n}")
    i = np.arange(1, N + 1, dtype=np.float64)
    w = np.zeros(N)
    ok = i >= n
    log_c = gammaln(i[ok]) - gammaln(n) - gammaln(i[ok] - n + 1)  # log C(i-1, n-1)
    log_total = gammaln(N + 1) - gammaln(n + 1) - gammaln(N - n + 1)  # log C(N, n)
    w[ok] = np.exp(log_c - log_total)
    return w


def _tie_mean(sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Replace each value by the mean over its row's run of equal (sorted) keys."""
    out = np.empty_like(values, dtype=np.float64)
    for r in range(sorted_keys.shape[0]):
        k = sorted_keys[r]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        sums = np.add.reduceat(values[r], starts)
        counts = np.diff(np.r_[starts, k.size])
        out[r] = np.repeat(sums / counts, counts)
    return out


def best_of_n(gold, proxy, ns) -> pd.DataFrame:
    """Expected gold and proxy score of best-of-n selection by ``proxy``.

    gold, proxy: arrays [prompts, N] (one pool per prompt, the same samples scored by both).
    ns: the n values (1 <= n <= N). Returns one row per n with columns
    ``n, kl, d, gold, proxy, gold_se, proxy_se`` (means over prompts; ``_se`` are standard
    errors across prompts; ``kl`` is the analytic BoN KL and ``d = sqrt(kl)``).
    """
    ns, g, p = per_prompt(gold, proxy, ns)  # [P, len(ns)] each
    P = g.shape[0]
    se = (lambda x: x.std(axis=0, ddof=1) / np.sqrt(P)) if P > 1 else (lambda x: np.full(x.shape[1], np.nan))
    kl = kl_bon(ns)
    return pd.DataFrame({"n": ns, "kl": kl, "d": np.sqrt(kl), "gold": g.mean(0), "proxy": p.mean(0),
                         "gold_se": se(g), "proxy_se": se(p)})


def per_prompt(gold, proxy, ns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact best-of-n per prompt: (ns sorted and deduplicated, gold [P, len(ns)], proxy
    [P, len(ns)]); row p is prompt p's pool alone, so the column means are the BoN curve (and a
    bootstrap over prompts resamples rows: ``overopt.fit.fit_bon_curves``)."""
    gold = np.atleast_2d(np.asarray(gold, dtype=np.float64))
    proxy = np.atleast_2d(np.asarray(proxy, dtype=np.float64))
    if gold.shape != proxy.shape or gold.ndim != 2:
        raise ValueError(f"gold {gold.shape} and proxy {proxy.shape} must have the same shape [prompts, N]")
    if not (np.isfinite(gold).all() and np.isfinite(proxy).all()):
        raise ValueError("scores must be finite")
    ns = np.asarray(sorted({int(n) for n in ns}))
    order = np.argsort(proxy, axis=1, kind="stable")
    p_sorted = np.take_along_axis(proxy, order, axis=1)
    g_sorted = _tie_mean(p_sorted, np.take_along_axis(gold, order, axis=1))
    W = np.stack([bon_weights(gold.shape[1], n) for n in ns])  # [len(ns), N]
    return ns, g_sorted @ W.T, p_sorted @ W.T


def n_grid(N: int, per_octave: int = 2) -> list[int]:
    """Geometric n grid from 1 to N (inclusive), ``per_octave`` points per doubling."""
    pts = np.unique(np.round(2.0 ** (np.arange(0, np.log2(N) * per_octave + 1) / per_octave)).astype(int))
    return sorted({*pts[pts <= N].tolist(), N})
