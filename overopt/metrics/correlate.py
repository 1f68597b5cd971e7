"""Metric-vs-outcome correlations across reward models with percentile bootstrap CIs, z-score
combinations of metrics, and the best-predictor ranking.
"""
from __future__ import annotations
from collections.abc import Iterable, Sequence
import numpy as np
import pandas as pd
from scipy import stats
from overopt.metrics.ranking import STATS, _constant, _stat_rows


_SCIPY = {"pearson": stats.pearsonr, "spearman": stats.spearmanr, "kendall": stats.kendalltau}


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
