"""Razin et al. 2025's own design (docs/science.md, "Razin"): which reward model is the better
teacher for RL, per student.

- ``teachers.csv``: one row per (student, teacher): the teacher's reward variance under that
  student (its first ``k`` samples per eval prompt), its accuracy on the student's own samples
  (``acc_onpolicy``), on the off-policy held-out pairs (``acc_offpolicy``) and on pi_init's
  held-out labeled pairs (``acc_labeled``), and the gold and proxy (the teacher's own reward)
  increase of the RL run of that student against that teacher at a fixed step, with standard
  errors. Teachers: the mix members, the gold RM and the flat teacher.
- ``teacher_correlations.csv``: Razin's Table 2: Pearson and Spearman of each property (and the
  mean of z-scored variance and on-policy accuracy) with each increase, per student, over every
  teacher (``over = all``) and over the mix members alone (``over = members``), with percentile
  bootstrap CIs over teachers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from overopt.metrics import accuracy, correlate, variance
from overopt.targets import FLAT, GOLD, PROXY, REFERENCE
from overopt.teachers import transform

PROPERTIES = ["variance", "acc_onpolicy", "acc_offpolicy", "acc_labeled"]
COMBO = ("variance", "acc_onpolicy")  # Razin's best predictor: variance and accuracy together
INCREASES = ["gold_gain", "proxy_gain"]
COLUMNS = ["student", "student_params", "teacher", "kind", "family", "onpolicy_fraction", "params", *PROPERTIES,
           "algorithm", "kl_coef", "rl_seed", "rl_step", "gold_gain", "gold_gain_se", "proxy_gain", "proxy_gain_se"]


def _increase(curves: pd.DataFrame, student: str, teacher: str, setting: dict, step: int | None) -> dict:
    """Gold and proxy increase of one run from step 0 to ``step`` (None: its last), with
    standard errors (each evaluation draws fresh samples: independent); NaN without the run."""
    c = curves[(curves["method"] == "rl") & (curves["policy"] == student) & (curves["rm"] == teacher)
               & (curves["algorithm"] == setting["algorithm"]) & np.isclose(curves["kl_coef"], setting["kl_coef"])
               & (curves["rl_seed"] == setting["rl_seed"])].sort_values("step")
    if c.empty:
        return {"rl_step": np.nan, "student_params": np.nan, **{k: np.nan for k in COLUMNS[-4:]}}
    first, at = c.iloc[0], (c.iloc[-1] if step is None else c[c["step"] == step].iloc[0])
    out = {"rl_step": int(at["step"]), "student_params": first.get("policy_params", np.nan)}
    for what in ("gold", "proxy"):
        out[f"{what}_gain"] = float(at[what] - first[what])
        out[f"{what}_gain_se"] = float(np.hypot(at[f"{what}_se"], first[f"{what}_se"]))
    return out


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
                   **s.setting, **_increase(curves, student, t, s.setting, s.rl_step)}
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def with_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """Every teacher (``over = all``), then the mix members alone (``over = members``), with the
    combined property z-scored within each (student, over) group."""
    both = pd.concat([frame.assign(over="all"), frame[frame["kind"] == PROXY].assign(over="members")],
                     ignore_index=True)
    return correlate.add_combos(both, [COMBO], by=["student", "over"])


def correlation_table(frame: pd.DataFrame, n_boot: int, level: float, seed: int) -> pd.DataFrame:
    """Razin's Table 2 (``teacher_correlations.csv``): every property and the combination vs
    every increase, per student and group, Pearson and Spearman with bootstrap CIs over teachers."""
    props = [*PROPERTIES, correlate.combo_name(COMBO)]
    return correlate.correlations(with_groups(frame), props, INCREASES, by=["student", "over"], n_boot=n_boot,
                                  level=level, seed=seed, stat_names=("pearson", "spearman"))
