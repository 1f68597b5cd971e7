"""Functional-form fits of gold score vs d = sqrt(KL) (Gao et al. 2022; docs/science.md 4.4).

    bon: R(d) = d (alpha - beta d)       rl: R(d) = d (alpha - beta ln d)

Both are linear after dividing by d, so ordinary least squares (statsmodels) gives alpha,
beta and their confidence intervals; a nonlinear least-squares fit on R itself (scipy) is
kept beside it as the cross-check. Points with d = 0 are excluded.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

FORMS = ("bon", "rl")


def _feature(d: np.ndarray, form: str) -> np.ndarray:
    if form == "bon":
        return d
    if form == "rl":
        return np.log(d)
    raise ValueError(f"form must be one of {FORMS}, got {form!r}")


def predict(d, alpha: float, beta: float, form: str) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, d * (alpha - beta * _feature(np.where(d > 0, d, 1.0), form)), 0.0)


def peak(alpha: float, beta: float, form: str) -> tuple[float, float]:
    """(d*, R*): where the fitted curve peaks; infinite when beta <= 0 (no peak)."""
    if beta <= 0:
        return float("inf"), float("inf") if alpha > 0 else 0.0
    if form == "bon":
        return alpha / (2 * beta), alpha**2 / (4 * beta)
    d_star = float(np.exp(alpha / beta - 1.0))
    return d_star, beta * d_star


@dataclass
class FitResult:
    form: str
    alpha: float
    beta: float
    alpha_ci: tuple[float, float]
    beta_ci: tuple[float, float]
    d_star: float
    r_star: float
    rmse: float
    r2: float
    n_points: int
    alpha_nls: float
    beta_nls: float

    def __getitem__(self, key):  # fits read as attributes or as keys
        return getattr(self, key)

    def row(self) -> dict:
        """Flat dict for a table row (CIs as ``*_ci_low`` / ``*_ci_high``)."""
        d = asdict(self)
        for k in ("alpha_ci", "beta_ci"):
            lo, hi = d.pop(k)
            d[f"{k}_low"], d[f"{k}_high"] = lo, hi
        return d


def fit_form(d, r, form: str, level: float = 0.95) -> FitResult:
    """Fit R(d) in the ``bon`` or ``rl`` form. ``d`` and ``r`` are 1-D arrays; r is the score
    relative to pi_init (0 at d = 0)."""
    import statsmodels.api as sm
    from scipy.optimize import curve_fit

    d, r = np.asarray(d, dtype=np.float64), np.asarray(r, dtype=np.float64)
    if d.shape != r.shape:
        raise ValueError(f"d {d.shape} and r {r.shape} differ in shape")
    keep = (d > 0) & np.isfinite(d) & np.isfinite(r)
    d, r = d[keep], r[keep]
    if d.size < 3:
        raise ValueError(f"need at least 3 points with d > 0, got {d.size}")
    X = np.column_stack([np.ones_like(d), -_feature(d, form)])
    res = sm.OLS(r / d, X).fit()
    alpha, beta = (float(v) for v in res.params)
    ci = res.conf_int(alpha=1 - level)
    resid = r - predict(d, alpha, beta, form)
    try:
        (a_nls, b_nls), _ = curve_fit(lambda x, a, b: predict(x, a, b, form), d, r, p0=[alpha, beta])
    except RuntimeError:  # NLS did not converge: the OLS fit still stands
        a_nls = b_nls = float("nan")
    d_star, r_star = peak(alpha, beta, form)
    ss_tot = float(np.sum((r - r.mean()) ** 2))
    return FitResult(form, alpha, beta, (float(ci[0, 0]), float(ci[0, 1])), (float(ci[1, 0]), float(ci[1, 1])),
                     float(d_star), float(r_star), float(np.sqrt(np.mean(resid**2))),
                     1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan"), int(d.size),
                     float(a_nls), float(b_nls))


@dataclass
class SharedAlphaFit:
    """Gao's joint RL fit: one alpha for every proxy, one beta per proxy."""

    alpha: float
    alpha_ci: tuple[float, float]
    betas: dict
    betas_ci: dict
    d_star: dict
    r_star: dict
    rmse: float
    n_points: int

    def __getitem__(self, key):
        return getattr(self, key)


def fit_rl_shared_alpha(frame: pd.DataFrame, level: float = 0.95) -> SharedAlphaFit:
    """Joint fit of R(d) = d (alpha - beta_rm ln d) over proxies (Gao et al. 2022, RL): one
    alpha shared across ``rm`` values, one beta per ``rm``. ``frame`` has columns ``rm, d, r``;
    OLS on R/d (statsmodels) gives every coefficient with a CI. Points with d = 0 are dropped."""
    import statsmodels.api as sm

    f = frame[["rm", "d", "r"]].copy()
    f = f[(f["d"] > 0) & np.isfinite(f["d"]) & np.isfinite(f["r"])]
    rms = sorted(f["rm"].unique(), key=str)
    if not rms or any((f["rm"] == rm).sum() < 2 for rm in rms):
        raise ValueError("every rm needs at least 2 points with d > 0")
    X = np.column_stack([np.ones(len(f))] + [-np.log(f["d"]) * (f["rm"] == rm) for rm in rms])
    res = sm.OLS((f["r"] / f["d"]).to_numpy(), X).fit()
    ci = np.asarray(res.conf_int(alpha=1 - level))
    alpha = float(res.params[0])
    betas = {rm: float(b) for rm, b in zip(rms, res.params[1:])}
    peaks = {rm: peak(alpha, b, "rl") for rm, b in betas.items()}
    pred = f["d"] * (alpha - f["rm"].map(betas) * np.log(f["d"]))
    return SharedAlphaFit(alpha, (float(ci[0, 0]), float(ci[0, 1])), betas,
                          {rm: (float(lo), float(hi)) for rm, (lo, hi) in zip(rms, ci[1:])},
                          {rm: p[0] for rm, p in peaks.items()}, {rm: p[1] for rm, p in peaks.items()},
                          float(np.sqrt(np.mean((f["r"] - pred) ** 2))), int(len(f)))


def rmse_alternatives(d, r) -> dict:
    """RMSE on R of the RL form and its alternatives (docs/science.md 4.4; Rafailov et al. 2024):
    ``rl`` d(alpha - beta ln d), ``rl_log1p`` d(alpha - beta ln(1 + d)), and ``quadratic_kl``
    b1 KL + b2 KL^2 (through the origin), each by least squares."""
    d, r = np.asarray(d, dtype=np.float64), np.asarray(r, dtype=np.float64)
    keep = (d > 0) & np.isfinite(d) & np.isfinite(r)
    d, r = d[keep], r[keep]
    designs = {"rl": np.column_stack([d, -d * np.log(d)]),
               "rl_log1p": np.column_stack([d, -d * np.log1p(d)]),
               "quadratic_kl": np.column_stack([d**2, d**4])}
    out = {}
    for name, X in designs.items():
        coef, *_ = np.linalg.lstsq(X, r, rcond=None)
        out[name] = float(np.sqrt(np.mean((r - X @ coef) ** 2)))
    return out


def extrapolation(d, r, form: str, cutoff: float) -> dict:
    """Fit on d <= cutoff, report the RMSE of the prediction beyond it (Gao's extrapolation test)."""
    d, r = np.asarray(d, dtype=np.float64), np.asarray(r, dtype=np.float64)
    inside, beyond = d <= cutoff, d > cutoff
    if not beyond.any():
        raise ValueError(f"no points beyond the cutoff d = {cutoff}")
    f = fit_form(d[inside], r[inside], form)
    err = r[beyond] - predict(d[beyond], f.alpha, f.beta, form)
    return {"cutoff": cutoff, "alpha": f.alpha, "beta": f.beta, "rmse_in": f.rmse,
            "rmse_out": float(np.sqrt(np.mean(err**2))), "n_in": f.n_points, "n_out": int(beyond.sum())}


def loglinear(x, y, level: float = 0.95) -> dict:
    """OLS of y on log10(x): slope, intercept, their CIs, R^2 (coefficient scaling, Gao Fig. 3)."""
    import statsmodels.api as sm

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0)
    if np.unique(x[keep]).size < 2:
        raise ValueError("need at least two distinct x values")
    x, y = x[keep], y[keep]
    res = sm.OLS(y, sm.add_constant(np.log10(x))).fit()
    ci = np.asarray(res.conf_int(alpha=1 - level)) if x.size > 2 else np.full((2, 2), np.nan)
    return {"intercept": float(res.params[0]), "slope": float(res.params[1]),
            "intercept_ci_low": float(ci[0, 0]), "intercept_ci_high": float(ci[0, 1]),
            "slope_ci_low": float(ci[1, 0]), "slope_ci_high": float(ci[1, 1]),
            "r2": float(res.rsquared), "n_points": int(x.size)}


def scaling_table(fits: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """alpha and beta regressed on log10(params) within each data size (and over all), and on
    log10(data size) within each RM size, per method, curve, proxy objective (bt and pfr are
    separate laws) and run setting (policy; RL: algorithm and KL coefficient; DAA: loss and
    beta). ``fits`` needs columns method, curve,
    rm_size, params, data_size, alpha, beta. Groups with fewer than two usable points are left out."""
    rows = []
    axes = (("params", "data_size"), ("data_size", "rm_size"))
    settings = [c for c in ("objective", "policy", "algorithm", "kl_coef", "loss", "daa_beta") if c in fits.columns]
    for keys, f in fits.groupby(["method", "curve", *settings], dropna=False):
        ident = dict(zip(["method", "curve", *settings], keys))
        for predictor, within in axes:
            groups = [("all", f)] + [(str(k), g) for k, g in f.groupby(within)]
            for label, g in groups:
                for coef in ("alpha", "beta"):
                    try:
                        fitted = loglinear(g[predictor], g[coef], level)
                    except ValueError:
                        continue
                    rows.append({**ident, "coefficient": coef, "predictor": f"log10_{predictor}",
                                 "within": within if label != "all" else "all", "group": label, **fitted})
    cols = ["method", "curve", *settings, "coefficient", "predictor", "within", "group", "intercept", "slope",
            "intercept_ci_low", "intercept_ci_high", "slope_ci_low", "slope_ci_high", "r2", "n_points"]
    return pd.DataFrame(rows, columns=cols)  # its columns even when no group has two points (one RM size)


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


def fits_table(curves: pd.DataFrame, level: float, min_n: int, extrapolate_from: int = 3) -> pd.DataFrame:
    """One row per curve (method x target RM x run settings) and per score (gold, proxy): the
    method's functional form fitted to score relative to pi_init (the curve's first point)
    vs d. BoN points with n < ``min_n`` are left out. RL and DAA rows add the alternatives'
    RMSE and the extrapolation test; RL adds Gao's joint fit (form ``rl_joint``: one alpha
    shared across the proxies of one run setting, one beta per proxy), a row per proxy."""
    from overopt.tables.curves import CURVE_KEYS, RM_COLUMNS

    rows, relative = [], []
    for method, m in curves.groupby("method"):
        extra, order, form = CURVE_KEYS[method]
        key = ["method", *RM_COLUMNS, *extra]
        for vals, c in m.groupby(key, dropna=False, sort=False):
            c = c.sort_values(order)
            base = c.iloc[0]
            if base[order] != (1 if method == "bon" else 0):
                raise ValueError(f"{method} curve for {base['rm']} lacks its pi_init point ({order} = 0/1)")
            if method == "bon":
                c = c[c["n"] >= min_n]
            for curve in ("gold", "proxy"):
                r = c[curve] - base[curve]
                try:
                    fitted = fit_form(c["d"], r, form, level).row()
                except ValueError:  # too few points with d > 0: keep the row, say so
                    fitted = {"form": form, "n_points": int((c["d"] > 0).sum())}
                if form == "rl":
                    fitted.update(_rl_extras(c["d"].to_numpy(), r.to_numpy(), extrapolate_from))
                rows.append({**dict(zip(key, vals)), "curve": curve, **fitted, "level": level})
                if method == "rl":
                    relative.append(c.assign(r=r, curve=curve)[[*key, "curve", "d", "r"]])
    if relative:
        rows += _joint_rows(pd.concat(relative), level)
    return pd.DataFrame(rows)


def _joint_rows(rel: pd.DataFrame, level: float) -> list[dict]:
    """Gao's joint RL fit per run setting, curve and proxy objective, over the proxies (the
    references left out): one alpha is shared by proxies trained the same way."""
    from overopt.targets import PROXY
    from overopt.tables.curves import CURVE_KEYS

    rows = []
    setting = ["method", *CURVE_KEYS["rl"][0], "curve", "objective"]
    for vals, g in rel[rel["kind"] == PROXY].groupby(setting, dropna=False, sort=False):
        try:
            j = fit_rl_shared_alpha(g, level)
        except ValueError:
            continue
        ident = g.drop_duplicates("rm").set_index("rm")
        for rm, beta in j.betas.items():
            rows.append({**ident.loc[rm].drop(["d", "r"]).to_dict(), "rm": rm, **dict(zip(setting, vals)),
                         "form": "rl_joint", "alpha": j.alpha, "beta": beta, "alpha_ci_low": j.alpha_ci[0],
                         "alpha_ci_high": j.alpha_ci[1], "beta_ci_low": j.betas_ci[rm][0],
                         "beta_ci_high": j.betas_ci[rm][1], "d_star": j.d_star[rm], "r_star": j.r_star[rm],
                         "rmse": j.rmse, "n_points": j.n_points, "level": level})
    return rows


def per_proxy_runs(fits: pd.DataFrame) -> pd.DataFrame:
    """The per-run fits of proxies: what the coefficient scaling regresses."""
    from overopt.targets import PROXY

    return fits[(fits["kind"] == PROXY) & (fits["form"] != "rl_joint")]
