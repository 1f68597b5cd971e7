"""Razin et al. 2025's own design (docs/science.md, "Razin"): which reward model is the better
teacher for RL, per student.

- ``teachers.csv``: one row per (student, teacher): the teacher's reward variance under that
  student (its first ``k`` samples per eval prompt), its accuracy on the student's own samples
  (``acc_onpolicy``), on the off-policy held-out pairs (``acc_offpolicy``) and on pi_init's
  held-out labeled pairs (``acc_labeled``), and the gold and proxy (the teacher's own reward)
  increase of the RL run of that student against that teacher at a fixed step, with standard
  errors, and the run-to-run RL noise the study's seed sweeps show (``gold_seed_var``).
  Teachers: the mix members, the gold RM and the flat teacher.
- ``teacher_correlations.csv``: Razin's Table 2: Pearson and Spearman of each property (and the
  mean of z-scored variance and on-policy accuracy) with each increase, per student, over every
  teacher (``over = all``) and over the mix members alone (``over = members``), with percentile
  bootstrap CIs over teachers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from overopt.metrics import accuracy, correlate, variance
from overopt.targets import FLAT, GOLD, PROXY, REFERENCE
from overopt.teachers import transform

PROPERTIES = ["variance", "acc_onpolicy", "acc_offpolicy", "acc_labeled"]
COMBO = ("variance", "acc_onpolicy")  # Razin's best predictor: variance and accuracy together
INCREASES = ["gold_gain", "proxy_gain"]
GAINS = ["gold_gain", "gold_gain_se", "gold_step_se", "proxy_gain", "proxy_gain_se"]
COLUMNS = ["student", "student_params", "teacher", "kind", "family", "onpolicy_fraction", "params", *PROPERTIES,
           "algorithm", "kl_coef", "rl_seed", "rl_step", "rl_passes", *GAINS, "gold_seed_var", "seed_groups"]


def _increase(curves: pd.DataFrame, student: str, teacher: str, setting: dict, step: int | None) -> dict:
    """Gold and proxy increase of one run from step 0 to ``step`` (None: its last), with
    standard errors of the increase (two evaluations of fresh samples) and of gold at ``step``
    alone (``gold_step_se``: runs of one student and seed share step 0, the same policy and
    evaluation samples, so two teachers' increases differ by their step values only); NaN
    without the run."""
    c = curves[(curves["method"] == "rl") & (curves["policy"] == student) & (curves["rm"] == teacher)
               & (curves["algorithm"] == setting["algorithm"]) & np.isclose(curves["kl_coef"], setting["kl_coef"])
               & (curves["rl_seed"] == setting["rl_seed"])].sort_values("step")
    if c.empty:
        return {"rl_step": np.nan, "student_params": np.nan, **{k: np.nan for k in GAINS}}
    first, at = c.iloc[0], (c.iloc[-1] if step is None else c[c["step"] == step].iloc[0])
    out = {"rl_step": int(at["step"]), "student_params": first.get("policy_params", np.nan),
           "gold_step_se": float(at["gold_se"])}
    for what in ("gold", "proxy"):
        out[f"{what}_gain"] = float(at[what] - first[what])
        out[f"{what}_gain_se"] = float(np.hypot(at[f"{what}_se"], first[f"{what}_se"]))
    return out


def seed_variance(curves: pd.DataFrame, step: int | None) -> tuple[float, int]:
    """Run-to-run RL noise beyond evaluation noise, from the study's runs repeated over seeds
    (``rl.sweeps``): per group of runs alike but for the seed (policy, target, algorithm, KL
    coefficient; at least 2 seeds), the variance over seeds of gold at ``step`` (None: the
    runs' last) minus the mean squared evaluation SE, floored at 0; pooled over the groups by
    their degrees of freedom. Returns (variance, groups); (NaN, 0) without repeated runs."""
    rl = curves[curves["method"] == "rl"]
    key = ["policy", "rm", "algorithm", "kl_coef"]
    num = dof = groups = 0
    for _, g in rl.groupby(key, dropna=False):
        at = g[g["step"] == (g["step"].max() if step is None else step)]
        if at["rl_seed"].nunique() < 2:
            continue
        n = len(at)
        num += max(0.0, float(at["gold"].var(ddof=1) - (at["gold_se"] ** 2).mean())) * (n - 1)
        dof, groups = dof + n - 1, groups + 1
    return (num / dof if dof else float("nan")), groups


def teacher_table(s, pool: dict, extra: dict, meta: pd.DataFrame, curves: pd.DataFrame,
                  prompts: list[str]) -> pd.DataFrame:
    """``teachers.csv`` (columns ``COLUMNS``) for ``settings.Teachers`` ``s``. ``pool``: the
    reference-pool scores [eval prompts, N] of the members and the gold RM; ``extra``: their
    ``score_teacher`` bundles; ``meta``: rm_metrics.csv; ``prompts``: the eval prompts (the flat
    teacher's transform). The flat teacher's scores are gold's, transformed: a positive factor
    per prompt, so its accuracies are gold's. No members (the design off): no rows."""
    if not s.members:
        return pd.DataFrame(columns=COLUMNS)
    meta = meta.set_index("rm")
    teachers = [*s.members, s.gold, *([s.flat["id"]] if s.flat else [])]
    tau2, groups = seed_variance(curves, s.rl_step)

    def under(rm: str, student: str) -> np.ndarray:
        if rm == (s.flat or {}).get("id"):
            return transform(under(s.gold, student), prompts, s.flat["transform"])
        return pool[rm][:, :s.k] if student == s.students[0] else extra[rm][f"policy_{student}"]

    rows = []
    for student in s.students:
        gold = under(s.gold, student)
        for t in teachers:
            base = s.gold if s.flat and t == s.flat["id"] else t
            off = extra[base]["offpolicy"]
            member = t in meta.index
            row = {"student": student, "teacher": t,
                   "kind": PROXY if member else GOLD if t == s.gold else REFERENCE,
                   "family": meta.at[t, "family"] if member else GOLD if t == s.gold else FLAT,
                   "onpolicy_fraction": meta.at[t, "onpolicy_fraction"] if member else np.nan,
                   "params": meta.at[t, "params"] if member else np.nan,
                   "variance": variance.reward_variance(under(t, student)),
                   "acc_onpolicy": accuracy.rank_pair_accuracy(under(t, student), gold, "all"),
                   "acc_offpolicy": accuracy.pairwise_accuracy(off[:, 0] - off[:, 1], extra[base]["offpolicy_gold_gap"]),
                   "acc_labeled": meta.at[t, "gold_accuracy"] if member else 1.0,
                   **s.setting, **_increase(curves, student, t, s.setting, s.rl_step),
                   "gold_seed_var": tau2, "seed_groups": groups}
            row["rl_passes"] = row["rl_step"] * s.pass_per_step
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def with_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """The teachers with RL increases: every one (``over = all``), then the mix members alone
    (``over = members``), with the combined property z-scored within each (student, over)
    group, as the scorecard does."""
    frame = frame[np.isfinite(pd.to_numeric(frame["gold_gain"], errors="coerce"))]
    both = pd.concat([frame.assign(over="all"), frame[frame["kind"] == PROXY].assign(over="members")],
                     ignore_index=True)
    return correlate.add_combos(both, [COMBO], by=["student", "over"])


def fisher_interval(r: float, n: int, level: float) -> tuple[float, float]:
    """Fisher z interval of a Pearson correlation over n points (NaN below 4 points or at |r| = 1)."""
    if not np.isfinite(r) or n < 4 or abs(r) >= 1:
        return float("nan"), float("nan")
    half = stats.norm.ppf((1 + level) / 2) / np.sqrt(n - 3)
    return float(np.tanh(np.arctanh(r) - half)), float(np.tanh(np.arctanh(r) + half))


def correlation_table(frame: pd.DataFrame, n_boot: int, level: float, seed: int) -> pd.DataFrame:
    """Razin's Table 2 (``teacher_correlations.csv``): every property and the combination vs
    every increase, per student and group, Pearson and Spearman with bootstrap CIs over teachers,
    and for Pearson the Fisher z interval too (``fisher_low``, ``fisher_high``: with 5-7
    teachers a percentile bootstrap covers too rarely; the scorecard uses Fisher)."""
    props = [*PROPERTIES, correlate.combo_name(COMBO)]
    out = correlate.correlations(with_groups(frame), props, INCREASES, by=["student", "over"], n_boot=n_boot,
                                 level=level, seed=seed, stat_names=("pearson", "spearman"))
    fisher = [fisher_interval(r.value, r.n, level) if r.stat == "pearson" else (np.nan, np.nan)
              for r in out.itertuples()]
    return out.assign(fisher_low=[f[0] for f in fisher], fisher_high=[f[1] for f in fisher])
