"""The prompt-free reward gap (Mao et al. 2025): numpy estimators for evaluation, and the torch
batched solver the ``pfr`` objective runs inside its training step, side by side (tested to agree).
"""
from __future__ import annotations
import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit
from overopt.metrics.accuracy import _gaps, pairwise_accuracy
from overopt.metrics.ranking import _pearson


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
    """docs/science.md 4.8 diagnostics of one RM: mean |gap| with the true prompt vs with swapped
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


def prompt_free_gaps_torch(gaps, weights=None, iters: int = 60):
    """Prompt-free gap per row: the c solving ``sum_m w_m sigmoid(g_m - c) = 1/2``.

    ``gaps``: tensor (B, M), one row per pair, its gaps under M swapped prompts; ``weights``:
    (M,) or (B, M), normalized per row (uniform if None). Bisection on ``[min g, max g]``
    (the left side is decreasing in c and crosses 1/2 there), in float64, ``iters`` halvings.
    Returns a detached (B,) tensor in the gaps' dtype."""
    import torch

    g = gaps.detach().to(torch.float64)
    w = torch.ones_like(g) if weights is None else torch.as_tensor(weights, dtype=torch.float64,
                                                                   device=g.device).expand_as(g)
    w = w / w.sum(-1, keepdim=True)
    lo, hi = g.min(-1).values, g.max(-1).values
    for _ in range(iters):
        mid = (lo + hi) / 2
        above = (w * torch.sigmoid(g - mid[:, None])).sum(-1) > 0.5  # root lies right of mid
        lo, hi = torch.where(above, mid, lo), torch.where(above, hi, mid)
    return ((lo + hi) / 2).to(gaps.dtype)
