"""Mao et al. 2025's claims on its own design: under a shift that hurts a prompt-blind RM (a
response-only cue that predicted the label in training points the other way), prompt-free
prioritized training (``pfr``) holds up better than Bradley-Terry (``bt``), in accuracy and in
the gold score of the policies optimized against each. Proxies of the ``cue`` family, paired
by seed (the same planted pairs)."""

from __future__ import annotations

import pandas as pd

from overopt.tables.replication.common import MAO, _off, _row, _t_mean, above
from overopt.targets import CUE

RULE = ("replicated if ci_low > 0; not replicated if ci_high < 0; inconclusive otherwise; CI: t-interval over seeds "
        "(pfr and bt proxies of one seed share their planted pairs)")
CLAIMS = [  # (claim, statistic, what it reads)
    ("shift_hurts_bt", "bt's held-out gold accuracy minus its accuracy with the cue on the rejected side", "drop"),
    ("pfr_beats_bt_under_shift", "pfr minus bt accuracy with the cue on the rejected side (same seed)", "shift"),
    ("shift_hurts_bt_ood", "bt's gold accuracy on pairs of OOD prompts (the held-out topic) minus its accuracy there "
     "with the cue on the rejected side", "drop_ood"),
    ("pfr_beats_bt_under_ood_shift", "pfr minus bt accuracy on pairs of OOD prompts with the cue on the rejected "
     "side (same seed)", "shift_ood"),
    ("pfr_bon_gold_above_bt", "pfr minus bt gold of best-of-n at the pool's largest n (same seed)", "bon"),
    ("pfr_rl_gold_above_bt", "pfr minus bt gold at the end of RL from pi_init (same seed)", "rl"),
]


def _per_seed(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """[seed x objective] of ``value`` (the cue family's rows only)."""
    f = frame[frame["family"] == CUE] if "family" in frame else frame.iloc[:0]
    return f.pivot_table(index="seed", columns="objective", values=value, aggfunc="mean")


def _gold_at_end(curves: pd.DataFrame, method: str) -> pd.DataFrame:
    c = curves[(curves["method"] == method)]
    key = "n" if method == "bon" else "step"
    c = c[c[key] == c.groupby("rm")[key].transform("max")]
    return c.drop_duplicates("rm")


def _mao(rm_metrics: pd.DataFrame | None, curves: pd.DataFrame, level: float) -> list[dict]:
    rows = []
    metrics = pd.DataFrame() if rm_metrics is None else rm_metrics
    for claim, statistic, what in CLAIMS:
        kind, _, where = what.partition("_")
        prefix = f"{where}_" if where else ""
        if kind in ("drop", "shift"):
            if metrics.empty or f"{prefix}shift_accuracy" not in metrics:
                t = pd.DataFrame()
            else:
                m = metrics.assign(drop=metrics[f"{prefix}gold_accuracy"] - metrics[f"{prefix}shift_accuracy"])
                t = _per_seed(m, "drop" if kind == "drop" else f"{prefix}shift_accuracy")
        else:
            t = _per_seed(_gold_at_end(curves, what), "gold")
        need = ["bt"] if kind == "drop" else ["bt", "pfr"]
        if t.empty or not set(need) <= set(t.columns):
            has_cue = "family" in metrics and (metrics["family"] == CUE).any()
            reason = ("no shift proxies (shift.seeds)" if not has_cue else
                      "no OOD shift scores (rule score_shift)" if prefix and f"{prefix}shift_accuracy" not in metrics else
                      "no RL against the shift proxies (shift.rl)" if what == "rl" and t.empty else
                      "no best-of-n curves of the shift proxies" if what == "bon" and t.empty else
                      f"needs {' and '.join(need)} shift proxies (shift.objectives)")
            rows.append(_off(MAO, claim, statistic, RULE, reason))
            continue
        x = (t["bt"] if kind == "drop" else t["pfr"] - t["bt"]).dropna().to_numpy()
        value, lo, hi = _t_mean(x, level)
        desc = (f"{statistic}: mean over {x.size} seed(s)"
                + (f"; bt {t['bt'].mean():.3f}, pfr {t['pfr'].mean():.3f}" if "pfr" in t else ""))
        rows.append(_row(MAO, claim, desc, statistic, RULE, above(lo, hi), value, (lo, hi), x.size))
    return rows
