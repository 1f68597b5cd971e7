"""length.csv: does the optimized policy buy gold (or implicit reward) with response length?
(Rafailov et al. 2024 find small DAA models exploit length.) Per run and evaluation step, the
OLS slope of the gold score on response length over that step's samples, and for DAA the slope
of the implicit reward beta * log pi/pi_ref(y), which is beta times the sample's summed log
ratio (its ``kl`` column). Standard errors are clustered by eval prompt (the samples of one
prompt are not independent).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from overopt.tables.curves import CURVE_KEYS, RM_COLUMNS


def _slope(y: np.ndarray, x: np.ndarray, groups: np.ndarray, level: float) -> dict:
    """OLS slope of y on x with a prompt-clustered CI; NaN when x does not vary."""
    import statsmodels.api as sm

    if np.ptp(x) == 0 or len(np.unique(groups)) < 3:
        return {"slope": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    res = sm.OLS(y, sm.add_constant(x)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    lo, hi = np.asarray(res.conf_int(alpha=1 - level))[1]
    return {"slope": float(res.params[1]), "ci_low": float(lo), "ci_high": float(hi)}


def length_table(samples: pd.DataFrame, level: float) -> pd.DataFrame:
    """One row per run and evaluation step: mean length, the gold-on-length slope and, for DAA,
    the implicit-reward-on-length slope, each with its CI (columns: docs/tables.md)."""
    rows = []
    for method, m in samples.groupby("method", sort=False):
        extra = CURVE_KEYS[method][0]
        key = ["method", *RM_COLUMNS, *extra, "step"]
        for vals, g in m.groupby(key, dropna=False, sort=False):
            x, prompts = g["length"].to_numpy(np.float64), g["prompt"].to_numpy()
            row = {**dict(zip(key, vals)), "n_samples": len(g), "length": float(x.mean())}
            gold = _slope(g["gold"].to_numpy(np.float64), x, prompts, level)
            row.update({f"gold_{k}": v for k, v in gold.items()})
            if method == "daa":
                implicit = _slope(g["daa_beta"].to_numpy(np.float64) * g["kl"].to_numpy(np.float64), x, prompts, level)
            else:
                implicit = dict.fromkeys(gold, np.nan)
            row.update({f"implicit_{k}": v for k, v in implicit.items()})
            rows.append({**row, "level": level})
    cols = ["method", *RM_COLUMNS, "policy", "step", "n_samples", "length", "gold_slope", "gold_ci_low", "gold_ci_high",
            "implicit_slope", "implicit_ci_low", "implicit_ci_high", "level"]
    out = pd.DataFrame(rows)
    return out.reindex(columns=[*cols, *[c for c in out.columns if c not in cols]])
