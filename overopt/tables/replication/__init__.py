"""The replication scorecard (docs/replication.md): which claims of Gao et al. 2022, Rafailov
et al. 2024, Wen et al. 2024, Razin et al. 2025 and Mao et al. 2025 (one module each: ``gao``,
``rafailov``, ``wen``, ``razin``, ``mao``) hold in the study's own tables (``curves.csv``,
``fits.csv``, ``role_swap.csv``, ``teachers.csv``, ``rm_metrics.csv``).

One row per claim, and per setting where the claim is per setting, with the statistic, its
interval at ``level``, the paper's value where the paper has one, and a verdict taken from the
interval and the row's ``rule`` only: ``replicated``, ``not replicated`` or ``inconclusive``. A
claim of direction reads the side of a threshold the interval lies on; a claim of "about the
same" needs the interval inside an equivalence margin stated in the rule. A claim whose arm the
config switches off keeps its row: ``inconclusive``, n = 0, the description says why.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from overopt.tables.replication.common import (  # noqa: F401  (the columns, verdicts and rules, public)
    COLUMNS,
    INCONCLUSIVE,
    NOT_REPLICATED,
    REPLICATED,
    VERDICTS,
    _dstar_fieller,
    above,
    base_policy,
    below,
    gao_slope,
    inside,
)
from overopt.tables.replication.gao import (
    _gao_kl,
    _gao_peaks,
    _gao_penalty,
    _gao_policy,
    _gao_scaling,
)
from overopt.tables.replication.rafailov import _rafailov
from overopt.tables.replication.mao import _mao
from overopt.tables.replication.razin import _razin
from overopt.tables.replication.wen import _wen
from overopt.targets import gao_view

# --- the table ------------------------------------------------------------------------------

CURVE_COLS = ["method", "rm", "kind", "family", "objective", "params", "data_size", "policy", "policy_params", "n", "step", "d",
              "kl", "kl_se", "gold", "proxy", "gold_se", "proxy_se", "algorithm", "kl_coef", "rl_seed", "loss",
              "daa_beta", "daa_seed", "epoch", "implicit_acc"]
FIT_COLS = ["method", "rm", "kind", "family", "objective", "params", "data_size", "policy", "curve", "form", "alpha", "beta",
            "d_star", "n_points", "rmse", "rmse_quadratic_kl", "algorithm", "kl_coef", "rl_seed", "loss", "daa_beta"]


def _pooled(fits: pd.DataFrame) -> pd.DataFrame:
    """One fit per curve: where fits.csv has a seed-pooled row (``n_seeds`` > 1) beside the
    per-seed rows of the same curve, the pooled row only (the per-seed rows would count twice)."""
    if "n_seeds" not in fits.columns or fits.empty:
        return fits
    key = [fits[c] for c in ("method", "form", "curve", "rm", "policy", "algorithm", "kl_coef", "loss", "daa_beta")]
    pooled = pd.to_numeric(fits["n_seeds"], errors="coerce") > 1
    return fits[pooled | ~pooled.groupby(key, dropna=False).transform("any")]


def _with(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``frame`` with every column in ``cols`` (missing ones NaN): a reduced design's tables."""
    return frame.assign(**{c: np.nan for c in cols if c not in frame.columns})


def replication_table(curves: pd.DataFrame, fits: pd.DataFrame, level: float = 0.95, *,
                      role_swap: pd.DataFrame | None = None, rm_metrics: pd.DataFrame | None = None,
                      teachers: pd.DataFrame | None = None,
                      n_boot: int = 2000, seed: int = 0,
                      margin_gold: float = 0.1, margin_ratio: float = 1.25, margin_rho: float = 0.3,
                      weak_rho: float = 0.9, gold_fraction: float = 0.5) -> pd.DataFrame:
    """The scorecard (columns ``COLUMNS``; docs/replication.md) from ``curves.csv`` and
    ``fits.csv``: Gao et al. 2022's claims, then Rafailov et al. 2024's, one row per claim and
    setting. Seed-pooled fits (``n_seeds`` > 1) replace their per-seed rows; fits.csv's
    ``d_star_ci_*`` and ``saturated`` are used where present. ``level``: every interval's confidence level; ``n_boot``, ``seed``: the bootstrap
    of the implicit-accuracy Spearman; the margins: gold std for "the same frontier", a ratio
    of d* for "about the same peak", Spearman for "does not track"; ``gold_fraction``: the
    common gold level of the KL comparison, as a share of the smaller best gain; ``role_swap``
    (``role_swap.csv``) and ``weak_rho``: Wen's claims; ``teachers`` (``teachers.csv``): Razin's;
    ``rm_metrics`` (``rm_metrics.csv``): Mao's (none given: their rows say not run)."""
    curves, fits = _with(curves, CURVE_COLS), _pooled(_with(fits, FIT_COLS))
    curves = curves[np.isfinite(curves["d"].astype(float)) & np.isfinite(curves["gold"].astype(float))]
    base = base_policy(curves)
    gc, gf = gao_view(curves), gao_view(fits)  # Gao's claims on Gao's design: the grid, not the role-swap family
    rows = [*_gao_peaks(gc, gf, base, level), *_gao_scaling(gc, gf, base, level),
            *_gao_kl(gc, base, level, gold_fraction), *_gao_penalty(gc, base, level, margin_gold),
            *_gao_policy(gc, gf, base, level, margin_ratio),
            *_rafailov(curves, fits, level, n_boot, seed, margin_rho),
            *_wen(role_swap, level, n_boot, seed, weak_rho), *_razin(teachers, level),
            *_mao(rm_metrics, curves, level)]
    out = pd.DataFrame(rows, columns=COLUMNS)
    for c in ("value", "ci_low", "ci_high", "paper_value", "kl_coef", "daa_beta"):
        out[c] = out[c].astype(float)
    out["n"] = out["n"].astype(int)
    return out
