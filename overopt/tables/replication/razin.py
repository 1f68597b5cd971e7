"""Razin et al. 2025's claims on its own design (``teachers.csv``): per student, over the
teachers (the on-policy mix members, the gold RM, the flat teacher), reward variance under the
student predicts how fast RL raises gold reward; variance and accuracy together predict it
better than accuracy; the flat teacher (accurate, low variance) is slower than the gold RM;
and which teacher is best depends on the student."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from overopt.tables.replication.common import (
    RAZIN,
    _off,
    _row,
    _z,
    above,
)
from overopt.targets import FLAT, GOLD

BOOT = "percentile bootstrap over teachers (a draw of the teachers with replacement)"
CLAIMS = {  # claim -> (statistic, rule, paper value)
    "variance_predicts_gold_gain": (
        "Pearson of reward variance under the student vs gold increase, over the teachers",
        "replicated if ci_low > 0; not replicated if ci_high < 0; CI: Fisher z interval over the teachers (scipy "
        "pearsonr; a percentile bootstrap over 5-7 teachers covers too rarely)", 0.834),
    "variance_and_accuracy_beat_accuracy": (
        "Pearson of (z-scored variance + on-policy accuracy) vs gold increase, minus that of on-policy accuracy",
        f"replicated if ci_low > 0; not replicated if ci_high < 0; CI: paired {BOOT}", np.nan),
    "flat_teacher_slower": (
        "gold increase with the gold RM minus with the flat teacher (gold x flat_factor on half the prompts)",
        "replicated if ci_low > 0; not replicated if ci_high < 0; CI: normal, from the two runs' standard errors "
        "(independent evaluation samples)", np.nan),
    "best_teacher_depends_on_student": (
        "largest crossover over pairs of teachers (i, j): min(gain of i minus j under pi_init, of j minus i under the "
        "other student), gold std units",
        "replicated if ci_low > 0 (two teachers swap ranks beyond the evaluation noise); not replicated if ci_high < 0 "
        "(every pair keeps its order); CI: simultaneous normal bounds over the ordered pairs (Bonferroni), from the "
        "runs' standard errors (independent runs)", np.nan),
}


def _boot_idx(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, (n_boot, n))


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson of each row pair; NaN where a side is constant."""
    xc, yc = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
    den = np.sqrt((xc ** 2).sum(1) * (yc ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (xc * yc).sum(1) / den, np.nan)


def _ci(boot: np.ndarray, level: float) -> tuple[float, float]:
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return np.nan, np.nan
    return tuple(float(q) for q in np.quantile(boot, [(1 - level) / 2, (1 + level) / 2]))


def _variance_gain(g: pd.DataFrame, level, n_boot, seed):
    x, y = g["variance"].to_numpy(float), g["gold_gain"].to_numpy(float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return np.nan, (np.nan, np.nan)
    r = stats.pearsonr(x, y)
    ci = r.confidence_interval(level) if x.size > 3 else None
    return float(r.statistic), (float(ci.low), float(ci.high)) if ci else (np.nan, np.nan)


def _combo_minus_acc(g: pd.DataFrame, level, n_boot, seed):
    """The combination is re-z-scored inside each resample, as it is on the data."""
    v, a, y = (g[c].to_numpy(float) for c in ("variance", "acc_onpolicy", "gold_gain"))

    def z(m):
        sd = m.std(1, ddof=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(sd > 0, (m - m.mean(1, keepdims=True)) / sd, 0.0)

    def diff(V, A, Y):
        return _pearson_rows((z(V) + z(A)) / 2, Y) - _pearson_rows(A, Y)

    idx = _boot_idx(v.size, n_boot, seed)
    return float(diff(v[None], a[None], y[None])[0]), _ci(diff(v[idx], a[idx], y[idx]), level)


def _flat_gap(g: pd.DataFrame, level):
    by = g.set_index("family")
    d = by.at[GOLD, "gold_gain"] - by.at[FLAT, "gold_gain"]
    se = float(np.hypot(by.at[GOLD, "gold_gain_se"], by.at[FLAT, "gold_gain_se"]))
    return float(d), (d - _z(level) * se, d + _z(level) * se)


def _crossover(a: pd.DataFrame, b: pd.DataFrame, level):
    """The largest crossover between two students' gold increases of the same teachers:
    max over ordered pairs (i, j) of min(a_i - a_j, b_j - b_i) (> 0 iff some pair swaps order),
    with simultaneous bounds: each pair's min of the two differences' normal bounds at a
    Bonferroni level over the K(K-1) ordered pairs, both sides; the max of the pairs' lower
    (upper) bounds bounds the true largest crossover, so the interval covers at ``level`` or
    more. The runs are independent, so a difference's SE is the root sum of squares."""
    ga, gb = (f["gold_gain"].to_numpy(float) for f in (a, b))
    sa, sb = (f["gold_gain_se"].to_numpy(float) for f in (a, b))
    i, j = np.where(~np.eye(ga.size, dtype=bool))
    da, db = ga[i] - ga[j], gb[j] - gb[i]
    ea, eb = np.hypot(sa[i], sa[j]), np.hypot(sb[i], sb[j])
    z = float(stats.norm.ppf(1 - (1 - level) / (2 * i.size)))
    value = np.minimum(da, db)
    lo, hi = np.minimum(da - z * ea, db - z * eb).max(), np.minimum(da + z * ea, db + z * eb).max()
    k = int(value.argmax())
    return float(value[k]), (float(lo), float(hi)), (a.index[i[k]], a.index[j[k]])


def _razin(teachers: pd.DataFrame | None, level: float, n_boot: int, seed: int) -> list[dict]:
    t = pd.DataFrame() if teachers is None else teachers
    t = t[np.isfinite(pd.to_numeric(t["gold_gain"], errors="coerce"))] if not t.empty else t
    rows = []

    def off(claim, reason, **setting):
        stat, rule, paper = CLAIMS[claim]
        rows.append(_off(RAZIN, claim, stat, rule, reason, paper_value=paper, **setting))

    if t.empty:
        for claim in CLAIMS:
            off(claim, "no mix teachers or no RL against them (mix.onpolicy_fractions, mix.rl)")
        return rows
    setting = {"algorithm": t["algorithm"].iloc[0], "kl_coef": float(t["kl_coef"].iloc[0])}
    students = list(dict.fromkeys(t["student"]))
    for student in students:
        g = t[t["student"] == student]
        at = {**setting, "policy": student}
        step = f"RL step {int(g['rl_step'].max())}"
        for claim, fn in (("variance_predicts_gold_gain", _variance_gain),
                          ("variance_and_accuracy_beat_accuracy", _combo_minus_acc)):
            stat, rule, paper = CLAIMS[claim]
            if len(g) < 3:
                off(claim, f"fewer than 3 teachers with RL runs under {student}", **at)
                continue
            value, ci = fn(g, level, n_boot, seed)
            desc = f"{stat}; {len(g)} teachers, student {student}, {step}"
            rows.append(_row(RAZIN, claim, desc, stat, rule, above(*ci), value, ci, len(g), paper_value=paper, **at))
        stat, rule, paper = CLAIMS["flat_teacher_slower"]
        if not {GOLD, FLAT} <= set(g["family"]):
            off("flat_teacher_slower", "no flat teacher (rm_eval.flat_factor)", **at)
        else:
            value, ci = _flat_gap(g, level)
            rows.append(_row(RAZIN, "flat_teacher_slower", f"{stat}; student {student}, {step}", stat, rule,
                             above(*ci), value, ci, 2, **at))
    stat, rule, paper = CLAIMS["best_teacher_depends_on_student"]
    if len(students) < 2:
        off("best_teacher_depends_on_student", "one student (policy.more_sizes)", **setting)
    for other in students[1:]:
        a, b = (t[t["student"] == s].set_index("teacher") for s in (students[0], other))
        common = a.index.intersection(b.index)
        at = {**setting, "policy": other}
        if len(common) < 3:
            off("best_teacher_depends_on_student", f"fewer than 3 teachers run under both {students[0]} and {other}",
                **at)
            continue
        value, ci, (ti, tj) = _crossover(a.loc[common], b.loc[common], level)
        best = (a.loc[common, "gold_gain"].idxmax(), b.loc[common, "gold_gain"].idxmax())
        rho = stats.spearmanr(a.loc[common, "gold_gain"], b.loc[common, "gold_gain"]).statistic
        desc = (f"{stat}; {len(common)} teachers; best under {students[0]}: {best[0]}, under {other}: {best[1]}; "
                f"largest crossover {ti} over {tj}; Spearman of the increases {rho:.2f}")
        rows.append(_row(RAZIN, "best_teacher_depends_on_student", desc, stat, rule, above(*ci), value, ci,
                         len(common), **at))
    return rows

