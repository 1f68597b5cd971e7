"""Rafailov et al. 2024's claims: the DAA hump, the peak inside the first epoch, the RL form vs
a quadratic, implicit-reward accuracy vs gold."""

from __future__ import annotations

import numpy as np

from overopt.tables.replication.common import (
    PEAK_CI,
    PEAK_STAT,
    RAFAILOV,
    _gold_fits,
    _mean_curve,
    _off,
    _peak_row,
    _peak_rule,
    _row,
    _t_mean,
    _z,
    above,
    inside,
)

EPOCH = ("daa_small_beta_peaks_in_first_epoch",
         ("best gold among the checkpoints strictly inside the first epoch minus the best gold at or after its "
          "end (gold std)"),
         ("replicated if ci_low > 0; not replicated if ci_high < 0; inconclusive otherwise; CI: normal from the two "
          "checkpoints' standard errors (gold_se, independent evaluation samples; seeds averaged per step)"))


def _epoch_row(units, level, **setting) -> dict:
    claim, statistic, rule = EPOCH
    c = _mean_curve(units, "step")
    inner = c[(c["step"] > 0) & (c["epoch"] > 0) & (c["epoch"] < 1 - 1e-9)]
    after = c[c["epoch"] >= 1 - 1e-9]
    if inner.empty or after.empty:
        return _off(RAFAILOV, claim, statistic, rule, "no checkpoint " + (
            "inside the first epoch" if inner.empty else "at or after the end of the first epoch"), **setting)
    a, b = inner.loc[inner["gold"].idxmax()], after.loc[after["gold"].idxmax()]
    diff, se = float(a["gold"] - b["gold"]), float(np.hypot(a["gold_se"], b["gold_se"]))
    ci = (diff - _z(level) * se, diff + _z(level) * se)
    desc = (f"With the smallest beta ({setting['daa_beta']:g}) the best gold comes before the end of the first epoch "
            f"(best inside at epoch {a['epoch']:.2f}, best from the end on at epoch {b['epoch']:.2f})")
    return _row(RAFAILOV, claim, desc, statistic, rule, above(*ci), diff, ci, len(inner) + len(after), **setting)


def _rafailov(curves, fits, level, n_boot, seed, margin_rho) -> list[dict]:
    from overopt.metrics.correlate import correlations

    daa = curves[curves["method"] == "daa"]
    policies = sorted(daa["policy"].dropna().unique())
    policy = policies[0] if len(policies) == 1 else np.nan  # of the claims pooled over runs
    rows = []
    if daa.empty:
        rows.append(_off(RAFAILOV, "daa_gold_is_hump", PEAK_STAT, _peak_rule(PEAK_CI), "no DAA runs"))
        rows.append(_off(RAFAILOV, *EPOCH, "no DAA runs"))
    for (pol, loss), runs in daa.groupby(["policy", "loss"], sort=True):
        beta = float(runs["daa_beta"].min())
        runs = runs[runs["daa_beta"] == beta]
        units = [g for _, g in runs.groupby("daa_seed", dropna=False)]
        setting = {"policy": pol, "loss": loss, "daa_beta": beta}
        rows.append(_peak_row(RAFAILOV, "daa_gold_is_hump", f"{loss} gold vs d at the smallest beta ({beta:g})", units,
                              _gold_fits(fits, "daa", "rl", runs["rm"].unique(), **setting), "daa", level, **setting))
        rows.append(_epoch_row(units, level, **setting))

    claim = "daa_rl_form_beats_quadratic"
    statistic = ("geometric mean over DAA gold fits of RMSE(quadratic in KL) / RMSE(RL form d(alpha - beta ln d)), "
                 "ratio")
    rule = ("replicated if ci_low > 1; not replicated if ci_high < 1; inconclusive otherwise; CI: t-interval of the "
            "mean log ratio over the fits (losses x betas x seeds; scipy), exponentiated")
    f = fits[(fits["method"] == "daa") & (fits["form"] == "rl") & (fits["curve"] == "gold")]
    f = f[(f["rmse"] > 0) & (f["rmse_quadratic_kl"] > 0)]
    if daa.empty:
        rows.append(_off(RAFAILOV, claim, statistic, rule, "no DAA runs"))
    else:
        m, lo, hi = _t_mean(np.log(f["rmse_quadratic_kl"].astype(float) / f["rmse"].astype(float)), level)
        rows.append(_row(RAFAILOV, claim, "Gold vs d of DAA is fitted better by the RL form than by a quadratic in KL",
                         statistic, rule, above(np.exp(lo), np.exp(hi), 1.0), np.exp(m), (np.exp(lo), np.exp(hi)),
                         len(f), policy=policy))

    claim = "implicit_acc_does_not_track_gold"
    statistic = "Spearman of implicit-reward accuracy vs gold over the trained DAA checkpoints (all losses and betas)"
    rule = (f"replicated if the CI lies inside [-{margin_rho:g}, {margin_rho:g}] (equivalence margin: no more than a "
            "weak association either way); not replicated if it lies wholly outside; inconclusive otherwise; CI: "
            "percentile bootstrap over checkpoints (seeded)")
    pts = daa[(daa["step"] > 0) & daa["implicit_acc"].notna()]
    if pts.empty:
        rows.append(_off(RAFAILOV, claim, statistic, rule,
                         "no DAA runs" if daa.empty else "no implicit-reward accuracy recorded", policy=policy))
    else:
        c = correlations(pts, ["implicit_acc"], ["gold"], n_boot=n_boot, level=level, seed=seed,
                         stat_names=["spearman"]).iloc[0]
        rows.append(_row(RAFAILOV, claim, "Implicit-reward accuracy of DAA checkpoints does not track their gold score",
                         statistic, rule, inside(c["ci_low"], c["ci_high"], -margin_rho, margin_rho), c["value"],
                         (c["ci_low"], c["ci_high"]), c["n"], policy=policy))
    return rows


