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

NOISE = ("standard errors: evaluation noise at the step (runs of one student share step 0) plus the run-to-run RL "
         "noise the study's seed sweeps show (gold_seed_var; evaluation noise only where the study repeats no run)")
CLAIMS = {  # claim -> (statistic, rule, paper value)
    "variance_predicts_gold_gain": (
        "Pearson of reward variance under the student vs gold increase, over the teachers",
        "replicated if ci_low > 0; not replicated if ci_high < 0; CI: Fisher z interval over the teachers (a "
        "percentile bootstrap over 5-7 teachers covers too rarely)", 0.834),
    "variance_and_accuracy_beat_accuracy": (
        "Pearson of (z-scored variance + on-policy accuracy) vs gold increase, minus that of on-policy accuracy",
        "replicated if ci_low > 0; not replicated if ci_high < 0; CI: Zou (2007) interval for two dependent "
        "correlations sharing the gold increase, from their Fisher intervals", np.nan),
    "flat_teacher_slower": (
        "gold increase with the gold RM minus with the flat teacher (gold x flat_factor on half the prompts)",
        f"replicated if ci_low > 0; not replicated if ci_high < 0; CI: normal; {NOISE}", np.nan),
    "best_teacher_depends_on_student": (
        "max over teachers i != j of min(i's lead over every other teacher under pi_init, j's lead over every other "
        "under the other student), gold std units: > 0 iff different teachers are best under the two students",
        "replicated if ci_low > 0 (a different teacher is best under each student beyond the noise); not replicated "
        "if ci_high < 0 (no two different teachers can each be best); CI: simultaneous normal bounds on every "
        f"difference of two teachers under one student (Bonferroni over them); {NOISE}", np.nan),
}


def _variance_gain(g: pd.DataFrame, level):
    from overopt.tables.teachers import fisher_interval

    x, y = g["variance"].to_numpy(float), g["gold_gain"].to_numpy(float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return np.nan, (np.nan, np.nan)
    r = float(stats.pearsonr(x, y).statistic)
    return r, fisher_interval(r, x.size, level)


def zou_difference(r1: float, r2: float, r12: float, n: int, level: float) -> tuple[float, float]:
    """Zou (2007)'s interval for r1 - r2, two Pearson correlations with a shared variable (r1 =
    corr(x1, y), r2 = corr(x2, y), r12 = corr(x1, x2)) over the same n points, from each one's
    Fisher interval and the correlation between the two estimates."""
    from overopt.tables.teachers import fisher_interval

    (l1, u1), (l2, u2) = fisher_interval(r1, n, level), fisher_interval(r2, n, level)
    if not np.isfinite([l1, u1, l2, u2, r12]).all():
        return float("nan"), float("nan")
    c = ((r12 - r1 * r2 / 2) * (1 - r1 ** 2 - r2 ** 2 - r12 ** 2) + r12 ** 3) / ((1 - r1 ** 2) * (1 - r2 ** 2))
    d = r1 - r2
    lo = d - np.sqrt(max(0.0, (r1 - l1) ** 2 + (u2 - r2) ** 2 - 2 * c * (r1 - l1) * (u2 - r2)))
    hi = d + np.sqrt(max(0.0, (u1 - r1) ** 2 + (r2 - l2) ** 2 - 2 * c * (u1 - r1) * (r2 - l2)))
    return float(lo), float(hi)


def _combo_minus_acc(g: pd.DataFrame, level):
    v, a, y = (g[c].to_numpy(float) for c in ("variance", "acc_onpolicy", "gold_gain"))
    if min(np.ptp(v), np.ptp(a), np.ptp(y)) == 0:
        return np.nan, (np.nan, np.nan)
    combo = ((v - v.mean()) / v.std(ddof=1) + (a - a.mean()) / a.std(ddof=1)) / 2
    r1, r2, r12 = (float(np.corrcoef(p, q)[0, 1]) for p, q in ((combo, y), (a, y), (combo, a)))
    return r1 - r2, zou_difference(r1, r2, r12, v.size, level)


def _run_se(g: pd.DataFrame) -> np.ndarray:
    """Each run's SE of gold at the step: evaluation noise plus the seed sweeps' run-to-run noise."""
    tau2 = pd.to_numeric(g["gold_seed_var"], errors="coerce").fillna(0.0).to_numpy(float)
    return np.sqrt(g["gold_step_se"].to_numpy(float) ** 2 + tau2)


def _flat_gap(g: pd.DataFrame, level):
    by = g.set_index("family")
    se = dict(zip(g["family"], _run_se(g)))
    d = by.at[GOLD, "gold_gain"] - by.at[FLAT, "gold_gain"]
    half = _z(level) * float(np.hypot(se[GOLD], se[FLAT]))
    return float(d), (d - half, d + half)


def _best_switch(a: pd.DataFrame, b: pd.DataFrame, level):
    """max over teachers i != j of min(lead_a(i), lead_b(j)), lead(i) = min over k != i of the
    gain of i minus that of k: > 0 iff different teachers are best under the two students. Its
    bounds take every teacher difference of one student at its simultaneous normal bound (one
    two-sided interval per unordered pair and student, Bonferroni over the K(K-1) of them); the
    statistic is monotone in the differences, so the bounds hold whenever they all do."""
    ga, gb = (f["gold_gain"].to_numpy(float) for f in (a, b))
    sa, sb = _run_se(a), _run_se(b)
    K = ga.size
    z = float(stats.norm.ppf(1 - (1 - level) / (2 * K * (K - 1))))
    off = ~np.eye(K, dtype=bool)

    def leads(g, s, shift):
        d = g[:, None] - g[None, :] + shift * z * np.hypot(s[:, None], s[None, :])
        return np.where(off, d, np.inf).min(1)  # i's smallest lead over another teacher

    def stat(la, lb):
        m = np.minimum(la[:, None], lb[None, :])
        return np.where(off, m, -np.inf).max()

    value = stat(leads(ga, sa, 0), leads(gb, sb, 0))
    lo, hi = stat(leads(ga, sa, -1), leads(gb, sb, -1)), stat(leads(ga, sa, 1), leads(gb, sb, 1))
    return float(value), (float(lo), float(hi))


def _razin(teachers: pd.DataFrame | None, level: float) -> list[dict]:
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
            if len(g) < 4:
                off(claim, f"fewer than 4 teachers with RL runs under {student} (a Fisher interval)", **at)
                continue
            value, ci = fn(g, level)
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
        value, ci = _best_switch(a.loc[common], b.loc[common], level)
        best = (a.loc[common, "gold_gain"].idxmax(), b.loc[common, "gold_gain"].idxmax())
        rho = stats.spearmanr(a.loc[common, "gold_gain"], b.loc[common, "gold_gain"]).statistic
        seeds = int(pd.to_numeric(a["seed_groups"], errors="coerce").fillna(0).max())
        desc = (f"{stat}; {len(common)} teachers, one RL seed each (run-to-run noise from {seeds} repeated run "
                f"group(s)); best under {students[0]}: {best[0]}, under {other}: {best[1]}; Spearman of the "
                f"increases {rho:.2f}")
        rows.append(_row(RAZIN, "best_teacher_depends_on_student", desc, stat, rule, above(*ci), value, ci,
                         len(common), **at))
    return rows

