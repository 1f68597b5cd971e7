"""What every paper's claims share: the columns, the verdict rules, the rows, and the helpers
that read curves and fits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from overopt.fit import loglinear, peak
from overopt.tables.curves import CURVE_KEYS

SETTINGS = ["policy", "algorithm", "kl_coef", "loss", "daa_beta"]
COLUMNS = ["paper", "claim", "description", "statistic", "value", "ci_low", "ci_high", "paper_value", "verdict",
           "rule", "n", *SETTINGS]
REPLICATED, NOT_REPLICATED, INCONCLUSIVE = "replicated", "not replicated", "inconclusive"
VERDICTS = (REPLICATED, NOT_REPLICATED, INCONCLUSIVE)

# Gao et al. 2022, Figure 3, read off the plot by third parties (about +-0.003; gold-RM std;
# policy 1.2B, 90k comparisons): proxy-RM params and the fitted alpha_bon, beta_bon, beta_RL.
GAO_FIG3 = pd.DataFrame({"params": [3e6, 12e6, 85e6, 300e6, 3e9],
                         "alpha_bon": [0.490, 0.513, 0.599, 0.633, 0.662],
                         "beta_bon": [0.120, 0.120, 0.106, 0.0995, 0.090],
                         "beta_rl": [0.175, 0.167, 0.137, 0.124, 0.118]})


def gao_slope(coefficient: str) -> float:
    """The paper's value of a scaling claim: the OLS slope of a Figure 3 column on log10(params),
    per decade (alpha_bon +0.062, beta_bon -0.011, beta_rl -0.021)."""
    return loglinear(GAO_FIG3["params"], GAO_FIG3[coefficient])["slope"]


# --- verdicts: from the interval and the rule only ----------------------------------------

def above(lo: float, hi: float, t: float = 0.0) -> str:
    """Claim "the statistic exceeds t": replicated if lo > t, not replicated if hi < t."""
    if np.isnan(lo) or np.isnan(hi):
        return INCONCLUSIVE
    return REPLICATED if lo > t else NOT_REPLICATED if hi < t else INCONCLUSIVE


def below(lo: float, hi: float, t: float = 0.0) -> str:
    """Claim "the statistic is below t": replicated if hi < t, not replicated if lo > t."""
    return {REPLICATED: NOT_REPLICATED, NOT_REPLICATED: REPLICATED}.get(above(lo, hi, t), INCONCLUSIVE)


def inside(lo: float, hi: float, a: float, b: float) -> str:
    """Claim "the statistic lies in (a, b)": replicated if the interval lies inside, not
    replicated if it lies wholly outside (hi < a or lo > b)."""
    if np.isnan(lo) or np.isnan(hi):
        return INCONCLUSIVE
    return REPLICATED if a < lo and hi < b else NOT_REPLICATED if hi < a or lo > b else INCONCLUSIVE


def _z(level: float) -> float:
    return float(stats.norm.ppf((1 + level) / 2))


def _t_mean(x, level: float) -> tuple[float, float, float]:
    """Mean of per-unit values and its t-interval over the units (scipy); no interval below 2
    units or without spread."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2 or np.ptp(x) == 0:
        return (float(x.mean()) if x.size else np.nan), np.nan, np.nan
    with warnings.catch_warnings():  # nearly equal values: scipy warns of precision loss, the interval stands
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_1samp(x, 0.0).confidence_interval(level)
    return float(x.mean()), float(ci.low), float(ci.high)


def _row(paper, claim, description, statistic, rule, verdict, value=np.nan, ci=(np.nan, np.nan), n=0,
         paper_value=np.nan, **setting) -> dict:
    return {"paper": paper, "claim": claim, "description": description, "statistic": statistic,
            "value": float(value), "ci_low": float(ci[0]), "ci_high": float(ci[1]), "paper_value": float(paper_value),
            "verdict": verdict, "rule": rule, "n": int(n), **setting}


def _off(paper, claim, statistic, rule, reason, paper_value=np.nan, **setting) -> dict:
    return _row(paper, claim, f"not run: {reason}", statistic, rule, INCONCLUSIVE, paper_value=paper_value,
                **setting)


# --- selecting curves and fits --------------------------------------------------------------

def _match(frame: pd.DataFrame, **keys) -> pd.DataFrame:
    """Rows equal to every key (a NaN key matches NaN; a column the frame lacks matches all)."""
    m = np.ones(len(frame), dtype=bool)
    for k, v in keys.items():
        if k in frame.columns:
            m &= frame[k].isna().to_numpy() if pd.isna(v) else (frame[k] == v).to_numpy()
    return frame[m]


def base_policy(curves: pd.DataFrame):
    """pi_init's name: the policy of the BoN (or DAA) rows, else the smallest RL policy."""
    for method in ("bon", "daa"):
        p = curves.loc[curves["method"] == method, "policy"].dropna()
        if len(p):
            return p.mode().iloc[0]
    rl = curves[curves["method"] == "rl"]
    if rl.empty:
        return np.nan
    return rl.sort_values("policy_params")["policy"].iloc[0] if "policy_params" in rl else rl["policy"].iloc[0]


def _proxies(frame: pd.DataFrame) -> pd.DataFrame:
    """The proxies of one objective: ``bt`` (the Gao grid) when present, else the first."""
    p = frame[frame["kind"] == "proxy"]
    objs = sorted(p["objective"].dropna().unique())
    return p[p["objective"] == ("bt" if "bt" in objs else objs[0])] if objs else p


def _smallest(frame: pd.DataFrame, every_seed: bool = False) -> pd.DataFrame:
    """The rows of the smallest proxy (fewest params, then fewest pairs), of its first training
    seed with every RL seed, or with ``every_seed`` of all its training seeds: replicates of the
    cell (``proxy.extra_seeds``) are other RMs, each with a fit of its own."""
    p = _proxies(frame)
    if p.empty:
        return p
    p = p[p["params"] == p["params"].min()]
    p = p[p["data_size"] == p["data_size"].min()]
    return p if every_seed or not p["seed"].notna().any() else p[p["seed"] == p["seed"].min()]


def _truthy(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    return s.astype(str).str.strip().str.lower().isin({"true", "1", "1.0", "yes"})


def _saturated(fits: pd.DataFrame, rm, policy, algorithm, kl_coef, rl_seed=np.nan) -> bool:
    """Whether fits.csv flags this RL run (or its seed-pooled fit) as saturated; False when the
    column is absent (older tables)."""
    if "saturated" not in fits.columns:
        return False
    f = _match(fits[fits["method"] == "rl"], rm=rm, policy=policy, algorithm=algorithm, kl_coef=kl_coef)
    if not pd.isna(rl_seed) and "rl_seed" in f.columns:
        f = f[f["rl_seed"].isna() | (f["rl_seed"] == rl_seed)]
    return bool(_truthy(f["saturated"]).any())


def _mean_curve(units: list[pd.DataFrame], order: str) -> pd.DataFrame:
    """Point-wise mean over units (seeds) of d, gold, proxy; SEs combined as independent."""
    f = pd.concat(units)
    g = f.groupby(order, sort=True)
    k = g.size()
    out = g[[c for c in ("d", "gold", "proxy", "epoch") if c in f]].mean()
    for c in ("gold_se", "proxy_se"):
        out[c] = np.sqrt(g[c].apply(lambda s: float(np.sum(np.square(s))))) / k if c in f else np.nan
    return out.reset_index()


def _peak_ratio(units: list[pd.DataFrame], fit_rows: pd.DataFrame, method: str, level: float) -> dict:
    """d* / d_max of the gold fit of one curve (the mean over ``units`` when there are several):
    the fit's bootstrap d* interval (fits.csv ``d_star_ci_*``) when one fit row holds it, else
    Fieller's interval for alpha/beta from the OLS of R/d on the curve's points."""
    import statsmodels.api as sm

    order, form = CURVE_KEYS[method][1], CURVE_KEYS[method][2]
    c = _mean_curve(units, order)
    rel = c["gold"] - c["gold"].iloc[0]
    pts = c.assign(r=rel)[c["d"] > 0]
    one = fit_rows.iloc[0] if len(fit_rows) == 1 else None
    if method == "bon" and one is not None and np.isfinite(one.get("n_points", np.nan)):
        pts = pts.nlargest(int(one["n_points"]), "d")  # the fit left out n < fit.min_n
    out = {"n": len(pts), "d_max": float(pts["d"].max()) if len(pts) else np.nan, "d_star": np.nan,
           "lo": np.nan, "hi": np.nan, "source": "too few points to fit"}
    if len(pts) < 3:
        return out
    if one is not None and {"d_star_ci_low", "d_star_ci_high"} <= set(one.index) \
            and not np.isnan(one["d_star_ci_low"]) and not np.isnan(one["d_star_ci_high"]):
        return {**out, "d_star": float(one["d_star"]), "lo": float(one["d_star_ci_low"]),
                "hi": float(one["d_star_ci_high"]), "source": "the fit's bootstrap interval over prompts (fits.csv)"}
    d = pts["d"].to_numpy(np.float64)
    feat = d if form == "bon" else np.log(d)
    res = sm.OLS(pts["r"].to_numpy(np.float64) / d, np.column_stack([np.ones_like(d), -feat])).fit()
    alpha, beta = (float(v) for v in res.params)
    cov = np.asarray(res.cov_params())
    t = float(stats.t.ppf((1 + level) / 2, res.df_resid))
    lo, hi = _dstar_fieller(alpha, beta, cov, t, form)
    return {**out, "d_star": peak(alpha, beta, form)[0], "lo": lo, "hi": hi,
            "source": "Fieller's interval for alpha/beta from the OLS of R/d on the curve's points, treated as "
                      "independent (they share prompts, BoN points are nested: too narrow)"}


def _dstar_fieller(alpha: float, beta: float, cov: np.ndarray, t: float, form: str) -> tuple[float, float]:
    """Interval for d* (bon: alpha/(2 beta); rl: exp(alpha/beta - 1)) from Fieller's interval
    for the ratio alpha/beta. Unbounded when beta is not significantly non-zero; (inf, inf)
    when beta is significantly negative (no peak)."""
    a_ = beta**2 - t**2 * cov[1, 1]
    if a_ <= 0:
        return (0.0 if form == "rl" else -np.inf), np.inf
    if beta < 0:
        return np.inf, np.inf
    b_ = -2 * (alpha * beta - t**2 * cov[0, 1])
    c_ = alpha**2 - t**2 * cov[0, 0]
    root = np.sqrt(max(b_**2 - 4 * a_ * c_, 0.0))
    lo, hi = (-b_ - root) / (2 * a_), (-b_ + root) / (2 * a_)
    if form == "bon":
        return lo / 2, hi / 2
    with np.errstate(over="ignore"):
        return float(np.exp(lo - 1)), float(np.exp(hi - 1))


def _rel(run: pd.DataFrame, order: str) -> pd.DataFrame:
    """A run's points in optimization order with gold and proxy relative to its first point."""
    run = run.sort_values(order)
    return run.assign(g=run["gold"] - run["gold"].iloc[0], p=run["proxy"] - run["proxy"].iloc[0])


def _rl_settings(curves: pd.DataFrame, policy) -> list[tuple]:
    rl = _match(curves[curves["method"] == "rl"], policy=policy)
    return sorted(set(zip(rl["algorithm"], rl["kl_coef"])))


# --- Gao et al. 2022 ---------------------------------------------------------------------

GAO, RAFAILOV, WEN, RAZIN, MAO = "gao", "rafailov", "wen", "razin", "mao"
PEAK_STAT = ("fitted gold peak over the largest measured d (d*/d_max; below 1: the peak lies inside the measured "
             "range), ratio")
PEAK_CI = ("the fit's bootstrap d* interval over prompts (fits.csv d_star_ci_*) when present, else Fieller's "
           "interval from the OLS of R/d")


def _peak_rule(source: str) -> str:
    return ("replicated if 0 < ci_low and ci_high < 1 (the fitted peak lies inside the measured range, so gold falls "
            "after it); not replicated if ci_low > 1 (the peak, or no peak at all, lies beyond it) or ci_high < 0 "
            f"(gold never rises); inconclusive otherwise; CI: {source}")


def _peak_row(paper, claim, what, units, fit_rows, method, level, **setting) -> dict:
    """The peak claim on one curve (the mean over ``units``, e.g. RL seeds of one run)."""
    return _peak_row_every_seed(paper, claim, what, [(units, fit_rows)], method, level, **setting)


def _peak_row_every_seed(paper, claim, what, per_rm: list[tuple], method, level, **setting) -> dict:
    """The peak claim over the training seeds of one cell, each an RM with a fit of its own
    (``per_rm``: (units, fit rows) per RM): value the median of their d*/d_max, interval the
    union of their intervals, so with several seeds the claim is replicated only if it holds for
    every seed (an intersection-union test, valid at the seeds' own level with no multiplicity
    correction) and not replicated only if it fails for every seed on the same side; ``n`` sums
    the fitted points. One RM: its own d*/d_max and interval."""
    ps = [_peak_ratio(units, fits, method, level) for units, fits in per_rm]
    ratio = np.array([[p[k] / p["d_max"] for k in ("d_star", "lo", "hi")] for p in ps], dtype=np.float64)
    few, many = min(p["n"] for p in ps), len(ps) > 1
    if few < 3 or np.isnan(ratio).any():
        value = lo = hi = np.nan
    else:
        value, lo, hi = float(np.median(ratio[:, 0])), float(ratio[:, 1].min()), float(ratio[:, 2].max())
    seeds = f" for one of its {len(ps)} training seeds" if many else ""
    desc = (f"{what} rises to a fitted peak inside the measured range (d up to {max(p['d_max'] for p in ps):.2f}) "
            f"and then falls" + (f", for every one of its {len(ps)} training seeds" if many else "")
            if few >= 3 else f"{what}: too few points with d > 0 to fit ({few}){seeds}")
    source = ps[0]["source"] + (f", per training seed; the union of the {len(ps)} seeds' intervals (replicated "
                                "only if every seed's lies inside: an intersection-union test)" if many else "")
    return _row(paper, claim, desc, PEAK_STAT, _peak_rule(source), inside(lo, hi, 0.0, 1.0), value, (lo, hi),
                sum(p["n"] for p in ps), **setting)


def _name(rows: pd.DataFrame) -> str:
    r = rows.iloc[0]
    return f"{', '.join(sorted(rows['rm'].unique()))}: {r['params']:.0f} params, {r['data_size']:.0f} pairs"


def _gold_fits(fits: pd.DataFrame, method: str, form: str, rms, **keys) -> pd.DataFrame:
    f = fits[(fits["method"] == method) & (fits["form"] == form) & (fits["curve"] == "gold")
             & fits["rm"].isin(list(rms))]
    return _match(f, **keys)


