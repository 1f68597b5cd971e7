"""Gao et al. 2022's claims: peaks, coefficient scaling, RL vs BoN KL, the KL-penalty frontier,
the policy-size peak."""

from __future__ import annotations

import numpy as np
import pandas as pd

from overopt.tables.replication.common import (
    GAO,
    INCONCLUSIVE,
    PEAK_CI,
    PEAK_STAT,
    _gold_fits,
    _match,
    _name,
    _off,
    _peak_ratio,
    _peak_row,
    _peak_row_every_seed,
    _peak_rule,
    _proxies,
    _rel,
    _rl_settings,
    _row,
    _saturated,
    _smallest,
    _t_mean,
    _z,
    above,
    below,
    gao_slope,
    inside,
)


def _gao_peaks(curves, fits, base, level) -> list[dict]:
    rows = []
    small = _smallest(_match(curves[curves["method"] == "bon"], policy=base), every_seed=True)
    claim = "bon_gold_peaks_smallest_proxy"
    if small.empty:
        rows.append(_off(GAO, claim, PEAK_STAT, _peak_rule(PEAK_CI), "no best-of-n curves against a proxy", policy=base))
    else:
        per_rm = [([g], _gold_fits(fits, "bon", "bon", [rm], policy=base)) for rm, g in small.groupby("rm")]
        rows.append(_peak_row_every_seed(GAO, claim, f"Best-of-n gold vs d against the smallest proxy ({_name(small)})",
                                         per_rm, "bon", level, policy=base))
    claim = "rl_gold_peaks_smallest_proxy"
    settings = _rl_settings(curves, base)
    if not settings:
        rows.append(_off(GAO, claim, PEAK_STAT, _peak_rule(PEAK_CI), "no RL runs from pi_init", policy=base))
    for algorithm, kl in settings:
        setting = {"policy": base, "algorithm": algorithm, "kl_coef": kl}
        small = _smallest(_match(curves[curves["method"] == "rl"], **setting))
        if small.empty:
            rows.append(_off(GAO, claim, PEAK_STAT, _peak_rule(PEAK_CI), "no RL run against a proxy in this setting",
                             **setting))
            continue
        units = {(rm, s): g for (rm, s), g in small.groupby(["rm", "rl_seed"], dropna=False)
                 if not _saturated(fits, rm, base, algorithm, kl, s)}
        if not units:
            rows.append(_row(GAO, claim, f"RL against the smallest proxy ({_name(small)}) saturated: its proxy "
                             "stopped rising, which is not over-optimization (fits.csv saturated)", PEAK_STAT,
                             _peak_rule(PEAK_CI), INCONCLUSIVE, **setting))
            continue
        fr = _gold_fits(fits, "rl", "rl", small["rm"], **setting)
        if "rl_seed" in fr.columns:
            fr = fr[fr["rl_seed"].isna() | fr["rl_seed"].isin([s for _, s in units])]
        rows.append(_peak_row(GAO, claim, f"RL gold vs d against the smallest proxy ({_name(small)})",
                              list(units.values()), fr, "rl", level, **setting))
    return rows


def _fe_slope(f: pd.DataFrame, coef: str, level: float) -> tuple[float, float, float, int, str]:
    """OLS slope of ``coef`` on log10(params) with data sizes as fixed effects (statsmodels)."""
    import statsmodels.formula.api as smf

    f = f[np.isfinite(f[coef].astype(float)) & (f["params"] > 0)]
    data = pd.DataFrame({"y": f[coef].astype(float), "x": np.log10(f["params"].astype(float)),
                         "g": f["data_size"].astype(str)})
    if data.empty or data.groupby("g")["x"].nunique().max() < 2:
        return np.nan, np.nan, np.nan, len(data), "no data size with two RM sizes"
    res = smf.ols("y ~ x + C(g)" if data["g"].nunique() > 1 else "y ~ x", data).fit()
    slope = float(res.params["x"])
    if res.df_resid < 1:
        return slope, np.nan, np.nan, len(data), "no residual degrees of freedom for an interval"
    ci = res.conf_int(1 - level).loc["x"]
    return slope, float(ci.iloc[0]), float(ci.iloc[1]), len(data), ""


def _scaling_row(claim, f, coef, sign, level, what, paper_value, **setting) -> dict:
    unit = "per nat" if (what, coef) == ("best-of-n", "beta") else "per sqrt(nat)"
    statistic = (f"slope of the gold-fit {coef} on log10(proxy params), data sizes as fixed effects "
                 f"(gold std {unit} per decade)")
    word = "ci_low > 0; not replicated if ci_high < 0" if sign > 0 else "ci_high < 0; not replicated if ci_low > 0"
    rule = (f"replicated if {word}; inconclusive otherwise; CI: OLS t-interval over the per-proxy fits "
            "(statsmodels)" + (", saturated runs left out where fits.csv flags them" if "RL" in what else ""))
    if f.empty:
        return _off(GAO, claim, statistic, rule, f"no {what} fits of proxies", paper_value, **setting)
    if f["params"].nunique() < 2:
        return _off(GAO, claim, statistic, rule, "one RM size (a slope needs two)", paper_value, **setting)
    slope, lo, hi, n, why = _fe_slope(f, coef, level)
    verdict = above(lo, hi) if sign > 0 else below(lo, hi)
    trend = "rises" if sign > 0 else "falls"
    desc = f"The {what} gold-fit {coef} {trend} with log10 proxy params at a fixed data size" + (f" ({why})" if why else "")
    return _row(GAO, claim, desc, statistic, rule, verdict, slope, (lo, hi), n, paper_value, **setting)


def _gao_scaling(curves, fits, base, level) -> list[dict]:
    bon = _proxies(_match(fits[(fits["method"] == "bon") & (fits["form"] == "bon") & (fits["curve"] == "gold")],
                          policy=base))
    rows = [_scaling_row("alpha_bon_rises_with_params", bon, "alpha", +1, level, "best-of-n", gao_slope("alpha_bon"),
                         policy=base),
            _scaling_row("beta_bon_falls_with_params", bon, "beta", -1, level, "best-of-n", gao_slope("beta_bon"),
                         policy=base)]
    settings = _rl_settings(curves, base)
    if not settings:
        rows.append(_scaling_row("beta_rl_falls_with_params", bon.iloc[:0], "beta", -1, level, "RL joint",
                                 gao_slope("beta_rl"), policy=base))
    for algorithm, kl in settings:
        setting = {"policy": base, "algorithm": algorithm, "kl_coef": kl}
        joint = _proxies(_match(fits[(fits["method"] == "rl") & (fits["form"] == "rl_joint")
                                     & (fits["curve"] == "gold")], **setting))
        keep = [not _saturated(fits, r["rm"], base, algorithm, kl, r.get("rl_seed", np.nan)) for _, r in joint.iterrows()]
        rows.append(_scaling_row("beta_rl_falls_with_params", joint[np.array(keep, dtype=bool)], "beta", -1, level,
                                 "RL joint", gao_slope("beta_rl"), **setting))
    return rows


def _kl_to_reach(run: pd.DataFrame, target: float, z: float) -> float:
    """KL at which the gold gain first reaches ``target`` along the run (optimization order),
    interpolating the gain linearly in d between the two points around the crossing; NaN when
    never reached or not resolved there (gain or, where recorded, KL within z SEs of 0)."""
    d, g = run["d"].to_numpy(np.float64), run["g"].to_numpy(np.float64)
    se, kl, kl_se = (run[c].to_numpy(np.float64) for c in ("gold_se", "kl", "kl_se"))
    for k in range(1, len(g)):
        if g[k] >= target:
            if g[k] <= z * np.hypot(se[k], se[0]) or kl[k] <= z * np.nan_to_num(kl_se[k]):
                return np.float64(np.nan)
            frac = (target - g[k - 1]) / (g[k] - g[k - 1]) if g[k] > g[k - 1] else 1.0
            return np.float64((d[k - 1] + frac * (d[k] - d[k - 1])) ** 2)
    return np.float64(np.nan)


def _gao_kl(curves, base, level, fraction) -> list[dict]:
    claim = "rl_spends_more_kl_than_bon"
    statistic = (f"geometric mean over proxies of KL_RL / KL_BoN, the KL each method needs to first reach "
                 f"{fraction:g} of the smaller of the two methods' best gold gains against that proxy (ratio)")
    rule = ("replicated if ci_low > 1; not replicated if ci_high < 1; inconclusive otherwise; CI: t-interval of the "
            "mean log ratio over proxies (scipy; RL seeds averaged per proxy), exponentiated; a proxy whose gain or "
            "RL KL at the crossing is within z standard errors of 0 (gold_se, kl_se) is left out")
    bon = _match(curves[(curves["method"] == "bon") & (curves["kind"] == "proxy")], policy=base)
    settings = _rl_settings(curves, base)
    if bon.empty or not settings:
        return [_off(GAO, claim, statistic, rule, "no best-of-n curves" if bon.empty else "no RL runs from pi_init",
                     policy=base)]
    rows, z = [], _z(level)
    for algorithm, kl in settings:
        setting = {"policy": base, "algorithm": algorithm, "kl_coef": kl}
        rl = _match(curves[(curves["method"] == "rl") & (curves["kind"] == "proxy")], **setting)
        logs, tried = [], 0
        for rm, runs in rl.groupby("rm"):
            b = bon[bon["rm"] == rm]
            if b.empty:
                continue
            b, per_seed, tried = _rel(b, "n"), [], tried + 1
            for _, run in runs.groupby("rl_seed", dropna=False):
                run = _rel(run, "step")
                target = fraction * min(b["g"].max(), run["g"].max())
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = _kl_to_reach(run, target, z) / _kl_to_reach(b, target, z) if target > 0 else np.nan
                if ratio > 0:
                    per_seed.append(np.log(ratio))
            if per_seed:
                logs.append(float(np.mean(per_seed)))
        m, lo, hi = _t_mean(logs, level)
        desc = (f"RL spends more KL than best-of-n to reach the same gold gain against the same proxy ({len(logs)} of "
                f"{tried} proxies optimized by both resolved)")
        rows.append(_row(GAO, claim, desc, statistic, rule, above(np.exp(lo), np.exp(hi), 1.0), np.exp(m),
                         (np.exp(lo), np.exp(hi)), len(logs), **setting))
    return rows


def _interp(run: pd.DataFrame, d, col: str, se: str) -> tuple[np.ndarray, np.ndarray]:
    s = run.sort_values("d")
    return np.interp(d, s["d"], s[col]), np.interp(d, s["d"], s[se])


def _matched(pen: pd.DataFrame, ref: pd.DataFrame, col: str, se: str) -> tuple[float, float, int]:
    """Mean of penalized minus reference ``col`` at matched d: each run's points (d > 0) inside
    the other's d range against the other run interpolated linearly in d (both directions, so
    the interpolation's bias on a concave curve cancels), and the SE of that mean."""
    diffs, var = [], []
    for a, b, sign in ((pen, ref, 1.0), (ref, pen, -1.0)):
        pts = a[(a["d"] > 0) & (a["d"] <= b["d"].max())]
        v, s = _interp(b, pts["d"], col, se)
        diffs += list(sign * (pts[col].to_numpy() - v))
        var += list(pts[se].to_numpy() ** 2 + s**2)
    k = len(diffs)
    return (float(np.mean(diffs)), float(np.sqrt(np.sum(var)) / k), k) if k else (np.nan, np.nan, 0)


def _gao_penalty(curves, base, level, margin) -> list[dict]:
    specs = [("kl_penalty_keeps_gold_frontier", "g", "gold_se", False,
              ("gold gain at matched d, penalized minus smallest-coefficient run, mean over matched points and "
               "targets (gold std)"), "A KL penalty leaves the gold-vs-d frontier where it is (it acts like early stopping)"),
             ("kl_penalty_widens_gap", "gap", "gap_se", True,
              ("proxy-minus-gold gain gap at matched d, penalized minus smallest-coefficient run, mean over "
               "matched points and proxies (RM std)"), "A KL penalty widens the proxy-gold gap at matched d")]
    rl = _match(curves[curves["method"] == "rl"], policy=base)
    rows = []
    for claim, col, se, proxies_only, statistic, sentence in specs:
        rule_tail = ("CI: t-interval over targets of their mean matched differences (scipy); with one target, normal "
                     "from the curves' standard errors (gold_se, proxy_se)")
        rule = (f"replicated if the CI lies inside [-{margin:g}, {margin:g}] (equivalence margin, gold std); not "
                f"replicated if it lies wholly outside; inconclusive otherwise; {rule_tail}" if not proxies_only else
                f"replicated if ci_low > 0; not replicated if ci_high < 0; inconclusive otherwise; {rule_tail}")
        if rl.empty:
            rows.append(_off(GAO, claim, statistic, rule, "no RL runs from pi_init", policy=base))
        for algorithm, runs in rl.groupby("algorithm"):
            coefs = sorted(runs["kl_coef"].unique())
            if len(coefs) < 2:
                rows.append(_off(GAO, claim, statistic, rule, f"only one KL coefficient ({coefs[0]:g})", policy=base,
                                 algorithm=algorithm))
                continue
            for kl in coefs[1:]:
                means, ses = [], []
                for (rm, s), ref in _match(runs, kl_coef=coefs[0]).groupby(["rm", "rl_seed"], dropna=False):
                    pen = _match(runs, kl_coef=kl, rm=rm, rl_seed=s)
                    if pen.empty or (proxies_only and ref["kind"].iloc[0] != "proxy"):
                        continue
                    a, b = (_rel(x, "step") for x in (pen, ref))
                    a, b = (x.assign(gap=x["p"] - x["g"], gap_se=np.hypot(x["gold_se"], x["proxy_se"])) for x in (a, b))
                    m, e, k = _matched(a, b, col, se)
                    if k:
                        means.append(m)
                        ses.append(e)
                if len(means) >= 2:
                    m, lo, hi = _t_mean(means, level)
                elif means:
                    m, lo, hi = means[0], means[0] - _z(level) * ses[0], means[0] + _z(level) * ses[0]
                else:
                    m = lo = hi = np.nan
                verdict = above(lo, hi) if proxies_only else inside(lo, hi, -margin, margin)
                rows.append(_row(GAO, claim, f"{sentence}: kl_coef {kl:g} vs {coefs[0]:g}, same targets", statistic,
                                 rule, verdict, m, (lo, hi), len(means), policy=base, algorithm=algorithm, kl_coef=kl))
    return rows


def _log_se(lo: float, hi: float, z: float) -> float:
    return float((np.log(hi) - np.log(lo)) / (2 * z)) if 0 < lo and np.isfinite(hi) else np.inf


def _gao_policy(curves, fits, base, level, margin) -> list[dict]:
    claim = "larger_policy_peaks_at_same_kl"
    statistic = ("ratio of the KL at the fitted gold peak (d*^2) of the larger policy to pi_init's against the same "
                 "targets, inverse-variance mean over targets on the log scale (ratio)")
    rule = (f"replicated if the CI lies inside [{1 / margin:.3g}, {margin:g}] (equivalence margin on the peak-KL "
            "ratio); not replicated if it lies wholly outside; inconclusive otherwise; CI: normal on the log scale, "
            "each target's log-d* SE read off its d* interval (fits.csv d_star_ci, else Fieller from the OLS), "
            "saturated runs left out where fits.csv flags them")
    rl = curves[curves["method"] == "rl"]
    others = sorted(set(rl["policy"].dropna()) - {base})
    if not others:
        return [_off(GAO, claim, statistic, rule, "no second policy size")]
    rows, z = [], _z(level)
    for pol in others:
        for algorithm, kl in sorted(set(zip(*(_match(rl, policy=pol)[c] for c in ("algorithm", "kl_coef"))))):
            setting = {"algorithm": algorithm, "kl_coef": kl}
            ref, big = _match(rl, policy=base, **setting), _match(rl, policy=pol, **setting)
            logs, ses, compared = [], [], []
            for rm in sorted(set(ref["rm"]) & set(big["rm"])):
                peaks = []
                for p, runs in ((base, ref), (pol, big)):
                    units = [g for s, g in runs[runs["rm"] == rm].groupby("rl_seed", dropna=False)
                             if not _saturated(fits, rm, p, algorithm, kl, s)]
                    if units:
                        peaks.append(_peak_ratio(units, _gold_fits(fits, "rl", "rl", [rm], policy=p, **setting),
                                                 "rl", level))
                if len(peaks) == 2 and all(pk["n"] >= 3 for pk in peaks):
                    compared.append(rm)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        logs.append(float(np.log(peaks[1]["d_star"] / peaks[0]["d_star"])))
                    ses.append(float(np.hypot(*(_log_se(pk["lo"], pk["hi"], z) for pk in peaks))))
            logs, ses = np.array(logs), np.array(ses)
            ok = np.isfinite(logs) & np.isfinite(ses) & (ses > 0)
            if ok.any():
                w = 1 / ses[ok] ** 2
                m, se = float(np.sum(w * logs[ok]) / w.sum()), float(1 / np.sqrt(w.sum()))
                value, ci = np.exp(2 * m), (np.exp(2 * (m - z * se)), np.exp(2 * (m + z * se)))  # KL = d^2
            else:
                value = float(np.exp(2 * np.mean(logs[np.isfinite(logs)]))) if np.isfinite(logs).any() else np.nan
                ci = (0.0, np.inf) if compared else (np.nan, np.nan)
            desc = (f"A larger policy ({pol}) peaks at about the same KL as {base} against the same targets "
                    f"({', '.join(compared) or 'none usable'}; {int(ok.sum())} of {len(compared)} with bounded intervals)")
            rows.append(_row(GAO, claim, desc, statistic, rule, inside(*ci, 1 / margin, margin), value, ci,
                             len(compared), policy=pol, **setting))
    return rows


# --- Rafailov et al. 2024 ------------------------------------------------------------------

