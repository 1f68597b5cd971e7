"""fits.csv and scaling.csv: Gao's functional forms fitted to every curve, with intervals that
respect how the points were sampled, and their coefficients regressed on RM size and data
(columns: docs/tables.md; estimators: ``overopt.fit``).

The points of one curve are not independent (every best-of-n point comes from the same pools,
every RL or DAA step from the same eval prompts), so every per-curve CI is a bootstrap over
prompts: BoN rows are fitted from the pools' scores (:func:`bon_fits`, the ``bon_fits`` job), RL
and DAA rows from each run's evaluation samples. A run setting with several seeds also
gets a pooled row (``n_seeds`` > 1, the seed column empty) whose CIs resample seeds, then
prompts. Gao's joint RL fit (``rl_joint``) keeps its OLS intervals (``ci_method`` ``ols``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from overopt.fit import (
    CURVES,
    extrapolation,
    fit_bon_curves,
    fit_curve_bootstrap,
    fit_rl_shared_alpha,
    loglinear,
    rmse_alternatives,
)
from overopt.metrics.saturation import saturated
from overopt.tables.curves import CURVE_KEYS, RM_COLUMNS
from overopt.targets import GRID, PROXY

SEED_COLUMN = {"rl": "rl_seed", "daa": "daa_seed"}


def _rl_extras(d, r, extrapolate_from: int) -> dict:
    """For RL-form curves: RMSE of the alternative forms and Gao's extrapolation test (fit on
    the ``extrapolate_from`` points of smallest d > 0, error beyond them); NaN where the
    curve has no point beyond."""
    out = {f"rmse_{k}": v for k, v in rmse_alternatives(d, r).items() if k != "rl"}
    out.update(extrap_cutoff=np.nan, extrap_rmse_in=np.nan, extrap_rmse_out=np.nan, extrap_n_out=0)
    positive = np.sort(d[d > 0])
    if positive.size <= extrapolate_from:
        return out
    try:
        ex = extrapolation(d, r, "rl", float(positive[extrapolate_from - 1]))
        out.update({"extrap_cutoff": ex["cutoff"], "extrap_rmse_in": ex["rmse_in"], "extrap_rmse_out": ex["rmse_out"],
                    "extrap_n_out": ex["n_out"]})
    except ValueError:
        pass
    return out


def _policy_rows(method: str, curves: pd.DataFrame, samples: pd.DataFrame, s) -> tuple[list[dict], list]:
    """The RL or DAA rows of fits.csv (``s``: ``settings.Fit``): per run, and per setting with
    several seeds pooled; each with the RL form's extras and, for RL, the saturation flag."""
    extra, order, form = CURVE_KEYS[method]
    seed_col = SEED_COLUMN[method]
    key = ["method", *RM_COLUMNS, *extra]
    setting = [k for k in key if k != seed_col]
    sat = s.saturation
    rows, relative = [], []
    units = [(key, 1)] + [(setting, 2)]  # per run; then per setting, where it has >= 2 seeds
    for by, min_seeds in units:
        for vals, c in curves.groupby(by, dropna=False, sort=False):
            seeds = c[seed_col].unique()
            if len(seeds) < min_seeds or (min_seeds == 1 and len(seeds) != 1):
                continue
            ident = dict(zip(by, vals))
            smp = samples
            for col, v in ident.items():
                smp = smp[smp[col].isna()] if pd.isna(v) else smp[smp[col] == v]
            if smp.empty:
                raise ValueError(f"{method} run {ident} has no evaluation samples")
            mean = c.groupby(order, as_index=False)[["d", "gold", "proxy"]].mean().sort_values(order)
            if mean[order].iloc[0] != 0:
                raise ValueError(f"{method} curve for {ident['rm']} lacks its pi_init point ({order} = 0)")
            flag = saturated(mean["proxy"], sat["window"], sat["min_gain"]) if method == "rl" else np.nan
            for curve in CURVES:
                r = (mean[curve] - mean[curve].iloc[0]).to_numpy()
                try:
                    fitted = fit_curve_bootstrap(smp.rename(columns={seed_col: "run_seed"}), form, curve, s.level,
                                                 s.n_boot, s.seed).row()
                except ValueError:  # too few points with d > 0: keep the row, say so
                    fitted = {"form": form, "curve": curve, "n_points": int((mean["d"] > 0).sum())}
                fitted.update(_rl_extras(mean["d"].to_numpy(), r, s.extrapolate_from))
                row = {**ident, **fitted, "n_seeds": len(seeds), "saturated": flag, "level": s.level}
                if min_seeds > 1:
                    row[seed_col] = np.nan
                rows.append(row)
                if method == "rl" and min_seeds == 1:  # the joint fit takes every run's points
                    cs = c.sort_values(order)
                    relative.append(cs.assign(r=cs[curve] - cs[curve].iloc[0], curve=curve, saturated=flag)[
                        [*key, "curve", "d", "r", "saturated"]])
    return rows, relative


def fits_table(curves: pd.DataFrame, bon_fits: pd.DataFrame, samples: pd.DataFrame, s) -> pd.DataFrame:
    """One row per curve (method x target RM x run setting) and per score (gold, proxy): the
    method's functional form fitted to score relative to pi_init vs d, with bootstrap CIs
    (``s``: ``settings.Fit``). BoN rows are ``bon_fits`` (the bon stage's); RL and DAA rows
    are fitted from ``samples`` (every run's evaluation samples, tagged like its curve) and add
    the alternatives' RMSE and the extrapolation test; RL rows carry ``saturated``; RL adds
    Gao's joint fit (form ``rl_joint``: one alpha shared across the unsaturated proxies of one
    run setting, one beta per proxy), a row per proxy."""
    rows, relative = [bon_fits.assign(n_seeds=1)], []
    for method in ("rl", "daa"):
        c = curves[curves["method"] == method]
        if not c.empty:
            r, rel = _policy_rows(method, c, samples[samples["method"] == method], s)
            rows.append(pd.DataFrame(r))
            relative += rel
    if relative:
        rows.append(pd.DataFrame(_joint_rows(pd.concat(relative), s.level)))
    return pd.concat(rows, ignore_index=True)


def _joint_rows(rel: pd.DataFrame, level: float) -> list[dict]:
    """Gao's joint RL fit per run setting, curve and proxy objective, over the unsaturated
    proxies (the references left out): one alpha is shared by proxies trained the same way."""
    rows = []
    setting = ["method", *CURVE_KEYS["rl"][0], "curve", "objective"]
    keep = (rel["kind"] == PROXY) & (rel["family"] == GRID) & (rel["saturated"] != True)
    for vals, g in rel[keep].groupby(setting, dropna=False, sort=False):
        try:
            j = fit_rl_shared_alpha(g, level)
        except ValueError:
            continue
        ident = g.drop_duplicates("rm").set_index("rm")
        for rm, beta in j.betas.items():
            rows.append({**ident.loc[rm].drop(["d", "r", "saturated"]).to_dict(), "rm": rm,
                         **dict(zip(setting, vals)), "form": "rl_joint", "alpha": j.alpha, "beta": beta,
                         "alpha_ci_low": j.alpha_ci[0], "alpha_ci_high": j.alpha_ci[1],
                         "beta_ci_low": j.betas_ci[rm][0], "beta_ci_high": j.betas_ci[rm][1],
                         "d_star": j.d_star[rm], "r_star": j.r_star[rm], "rmse": j.rmse, "n_points": j.n_points,
                         "ci_method": "ols", "n_seeds": 1, "saturated": False, "level": level})
    return rows


def per_proxy_runs(fits: pd.DataFrame) -> pd.DataFrame:
    """What the coefficient scaling regresses: one fit per proxy and run setting (the pooled
    row where the setting has several seeds, else its one run), saturated runs included
    (``scaling_table`` leaves them out and counts them)."""
    f = fits[(fits["kind"] == PROXY) & (fits["family"] == GRID) & (fits["form"] != "rl_joint")]
    pooled = f[f["n_seeds"] > 1]
    if pooled.empty:
        return f
    ident = [c for c in ["method", "rm", "curve", "policy", "algorithm", "kl_coef", "loss", "daa_beta"] if c in f]
    covered = (f[ident].merge(pooled[ident].drop_duplicates(), how="left", indicator=True)["_merge"] == "both").to_numpy()
    return f[~covered | (f["n_seeds"] > 1).to_numpy()]


def scaling_table(fits: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """alpha and beta regressed on log10(params) within each data size (and over all), and on
    log10(data size) within each RM size, per method, curve, proxy objective (bt and pfr are
    separate laws) and run setting (policy; RL: algorithm and KL coefficient; DAA: loss and
    beta). ``fits`` needs columns method, curve, rm_size, params, data_size, alpha, beta; rows
    with ``saturated`` true are left out and counted (``n_saturated``). Groups with fewer than
    two usable points are left out."""
    rows = []
    axes = (("params", "data_size"), ("data_size", "rm_size"))
    settings = [c for c in ("objective", "policy", "algorithm", "kl_coef", "loss", "daa_beta") if c in fits.columns]
    stalled = fits["saturated"].eq(True) if "saturated" in fits else pd.Series(False, index=fits.index)
    for keys, f in fits.groupby(["method", "curve", *settings], dropna=False):
        ident = dict(zip(["method", "curve", *settings], keys))
        for predictor, within in axes:
            groups = [("all", f)] + [(str(k), g) for k, g in f.groupby(within)]
            for label, g in groups:
                out = stalled[g.index]
                for coef in ("alpha", "beta"):
                    try:
                        fitted = loglinear(g.loc[~out, predictor], g.loc[~out, coef], level)
                    except ValueError:
                        continue
                    rows.append({**ident, "coefficient": coef, "predictor": f"log10_{predictor}",
                                 "within": within if label != "all" else "all", "group": label, **fitted,
                                 "n_saturated": int(out.sum())})
    cols = ["method", "curve", *settings, "coefficient", "predictor", "within", "group", "intercept", "slope",
            "intercept_ci_low", "intercept_ci_high", "slope_ci_low", "slope_ci_high", "r2", "n_points", "n_saturated"]
    return pd.DataFrame(rows, columns=cols)  # its columns even when no group has two points (one RM size)


def bon_fits(s, scores: list[str], metas: list[str]) -> pd.DataFrame:
    """Gao's BoN form fitted to every scored target's gold and proxy curve (``settings.BonFit``),
    with bootstrap CIs over prompts (:func:`overopt.fit.fit_bon_curves`); one row per target
    and curve, carrying the target's identity."""
    from overopt.inputs import load_array
    from overopt.metrics import bon
    from overopt.settings import Fit
    from overopt.tables.curves import target_meta
    from overopt.targets import GOLD

    f = Fit(**s.fit)
    meta = [target_meta(m) for m in metas]
    gold_path = next(path for path, m in zip(scores, meta) if m["kind"] == GOLD)
    gold = load_array(gold_path, (None, s.N))
    ns = bon.n_grid(s.N, s.per_octave)
    rows = []
    for path in scores:
        fitted = fit_bon_curves(gold, load_array(path, gold.shape), ns, f.level, f.n_boot, f.seed, min_n=f.min_n)
        rows += [r.row() for r in fitted.values()]
    out = pd.DataFrame(rows)
    ident = pd.DataFrame([m for m in meta for _ in CURVES]).assign(policy=s.policy)
    return pd.concat([pd.DataFrame({"method": "bon"}, index=out.index), ident, out], axis=1)
